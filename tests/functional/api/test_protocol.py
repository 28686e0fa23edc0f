"""What reaches the server before any route: header limits and malformed requests are refused
with problem JSON by the HTTP protocol itself (docs/http-api.md, "Limits")."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from keyguard.api import create_app
from keyguard.api.limits import MAX_HEAD_BYTES, MAX_HEADER_BYTES, MAX_HEADERS
from keyguard.runtime import Runtime
from tests.functional.api.conftest import Api
from tests.functional.api.servers import RawAnswer, send_raw


def _get(api: Api, *headers: bytes) -> RawAnswer:
    head = b"GET /healthz HTTP/1.1\r\nHost: test\r\n" + b"".join(h + b"\r\n" for h in headers)
    return send_raw(api.url, head + b"Connection: close\r\n\r\n")


def assert_problem(answer: RawAnswer, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/problem+json"
    body = json.loads(answer.body)
    assert (body["status"], body["code"]) == (status, code)
    assert body["instance"] == answer.headers["x-request-id"]


def test_headers_within_the_limits_are_served(api: Api) -> None:
    assert _get(api, b"X-Big: " + b"a" * (MAX_HEADER_BYTES - 100)).status == 200
    many = [b"X-H%d: v" % i for i in range(MAX_HEADERS - 10)]
    assert _get(api, *many).status == 200


def test_one_header_over_its_limit_is_431(api: Api) -> None:
    assert_problem(_get(api, b"X-Big: " + b"a" * MAX_HEADER_BYTES), 431, "headers_too_large")


def test_a_head_over_the_total_limit_is_431(api: Api) -> None:
    half = MAX_HEADER_BYTES // 2
    headers = [b"X-H%d: " % i + b"a" * half for i in range(2 * MAX_HEAD_BYTES // half)]
    assert_problem(_get(api, *headers), 431, "headers_too_large")


def test_too_many_headers_is_431(api: Api) -> None:
    many = [b"X-H%d: v" % i for i in range(MAX_HEADERS + 1)]
    assert_problem(_get(api, *many), 431, "headers_too_large")


@pytest.mark.parametrize(
    "header", [b"X-A: a\x00b", b"X-A: a\r\n folded", b"X A: b", b"X-A a"], ids=str
)
def test_a_malformed_header_is_a_problem_not_plain_text(api: Api, header: bytes) -> None:
    assert_problem(_get(api, header), 400, "malformed_request")


def test_a_malformed_request_line_is_a_problem(api: Api) -> None:
    answer = send_raw(api.url, b"GET /\x00 HTTP/1.1\r\nHost: test\r\n\r\n")
    assert_problem(answer, 400, "malformed_request")


def test_under_another_asgi_server_the_middleware_enforces_the_header_limits(
    runtime: Runtime,
) -> None:
    async def get(**headers: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/healthz", headers=headers)

    answer = asyncio.run(get(**{"X-Big": "a" * MAX_HEADER_BYTES}))
    assert answer.status_code == 431
    assert answer.json()["code"] == "headers_too_large"
    assert answer.json()["instance"] == answer.headers["x-request-id"]
    assert asyncio.run(get(**{"X-Big": "a" * 100})).status_code == 200
