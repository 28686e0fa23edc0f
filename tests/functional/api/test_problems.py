"""Every error is RFC 9457 problem JSON with a stable code, whatever produced it."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Request

from keyguard.api import EnforcedRoute, Principal, require_scope
from tests.functional.api.conftest import Api, StartApi

extras = APIRouter(route_class=EnforcedRoute)


@extras.post("/v1/test/boom")
def boom(principal: Annotated[Principal, require_scope("stats:read")]) -> None:
    raise RuntimeError("an unexpected bug with kg_live_ in its message")


@extras.post("/v1/test/upload", openapi_extra={"x-max-body-bytes": 4096})
async def upload(
    request: Request, principal: Annotated[Principal, require_scope("stats:read")]
) -> dict[str, Any]:
    return {"size": len(await request.body())}


def _is_problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:keyguard:problem:{code}"
    assert body["title"]
    assert body["detail"]
    return body


def test_routing_errors_are_problems(admin: httpx.Client) -> None:
    _is_problem(admin.get("/v1/nothing-here"), 404, "not_found")
    _is_problem(admin.delete("/v1/keys"), 405, "method_not_allowed")


def test_no_interactive_docs_from_a_cdn_but_the_openapi_document(api: Api) -> None:
    client = api.client()
    _is_problem(client.get("/docs"), 404, "not_found")
    assert client.get("/openapi.json").json()["openapi"].startswith("3.")


def test_method_not_allowed_lists_every_method_of_the_path(admin: httpx.Client) -> None:
    answer = admin.delete("/v1/keys")
    _is_problem(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == "GET, POST"
    contact = admin.put("/v1/contacts/con_x")
    assert contact.headers["allow"] == "DELETE, GET, PATCH"


@pytest.mark.parametrize("broken", [b"{not json", b'{"scopes": ["keys:read"],', b"\xff"])
def test_malformed_json_is_a_400_without_a_position_as_field(
    admin: httpx.Client, broken: bytes
) -> None:
    answer = admin.post("/v1/keys", content=broken, headers={"content-type": "application/json"})
    body = _is_problem(answer, 400, "malformed_json")
    assert "errors" not in body


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(admin: httpx.Client, content_type: str) -> None:
    answer = admin.post(
        "/v1/keys", content=b'{"scopes": ["keys:read"]}', headers={"content-type": content_type}
    )
    _is_problem(answer, 415, "unsupported_media_type")


def test_json_with_a_charset_or_a_json_suffix_is_accepted(admin: httpx.Client) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        answer = admin.post(
            "/v1/keys", content=b'{"scopes": ["keys:read"]}', headers={"content-type": content_type}
        )
        assert answer.status_code == 201, answer.text


def test_validation_problems_list_each_field(admin: httpx.Client) -> None:
    answer = admin.post("/v1/keys", json={"scopes": [], "env": "prod", "colour": "red"})
    body = _is_problem(answer, 422, "validation_failed")
    fields = {(e["field"], e["code"]) for e in body["errors"]}
    assert fields == {
        ("scopes", "too_short"),
        ("env", "literal_error"),
        ("colour", "extra_forbidden"),
    }


def test_validation_problems_never_echo_the_input(api: Api) -> None:
    gateway = api.client(api.key("keys:verify"))
    secret = api.key("mail:send").key.reveal()
    answer = gateway.post("/v1/keys/verify", json={"key": secret, "ip": secret})
    _is_problem(answer, 422, "validation_failed")
    assert secret not in answer.text


@pytest.fixture
def small(start_api: StartApi) -> Api:
    return start_api(max_body_bytes=1024, routers=[extras])


def test_a_body_over_the_limit_is_refused_before_it_is_read(small: Api) -> None:
    admin = small.client(small.key())
    too_big = {"scopes": ["mail:send"], "name": "x" * 2000}
    _is_problem(admin.post("/v1/keys", json=too_big), 413, "payload_too_large")


def test_a_streamed_body_over_the_limit_is_refused(small: Api) -> None:
    admin = small.client(small.key())

    def chunks() -> Any:
        yield b'{"scopes": ["mail:send"], "name": "'
        for _ in range(10):
            yield b"x" * 200
        yield b'"}'

    answer = admin.post("/v1/keys", content=chunks(), headers={"content-type": "application/json"})
    _is_problem(answer, 413, "payload_too_large")


def test_a_route_may_declare_a_larger_body_limit(small: Api) -> None:
    admin = small.client(small.key())
    assert admin.post("/v1/test/upload", content=b"x" * 3000).json() == {"size": 3000}
    _is_problem(admin.post("/v1/test/upload", content=b"x" * 5000), 413, "payload_too_large")


def test_an_unexpected_error_is_a_problem_without_details(small: Api) -> None:
    admin = small.client(small.key())
    body = _is_problem(admin.post("/v1/test/boom"), 500, "internal_error")
    assert "kg_live_" not in str(body)
    assert small.usage()[-1].status == 500
    assert small.access_log()[-1]["status"] == 500


def test_refusals_carry_retry_after_and_rate_limit_headers(api: Api) -> None:
    client = api.client(api.key("keys:read", rate_limit_per_minute=1))
    first = client.get("/v1/keys")
    assert first.headers["ratelimit-limit"] == "1"
    assert first.headers["ratelimit-remaining"] == "0"
    body = _is_problem(client.get("/v1/keys"), 429, "rate_limited")
    assert body["retry_after"] == 60
