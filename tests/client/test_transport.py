"""The client's request loop on a scripted transport: retries, backoff, idempotency, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from keyguard_client import (
    AsyncKeyguard,
    AuthenticationFailed,
    BadRequest,
    ClientKey,
    Conflict,
    InvalidRequest,
    Keyguard,
    KeyRotated,
    KeySourceError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    Retries,
    ServerError,
    ServiceUnavailable,
    TransportError,
)
from keyguard_client.errors import APIError

# Deliberately not a real key's shape: the client does not check it, no scanner flags it.
KEY = "test-key-" + "k" * 24
Reply = httpx.Response | Exception


def problem(status: int, code: str, **extra: Any) -> httpx.Response:
    body = {"type": f"urn:keyguard:problem:{code}", "title": "t", "status": status,
            "detail": f"detail of {code}", "code": code, **extra}  # fmt: skip
    headers = {"Content-Type": "application/problem+json"}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return httpx.Response(status, json=body, headers=headers)


def sent(message_id: str = "msg_1") -> httpx.Response:
    return httpx.Response(202, json={"messages": [{"id": message_id, "status": "queued"}]})


class Script:
    """Answers requests in order; records them, and every sleep the client asked for."""

    def __init__(self, *replies: Reply) -> None:
        self.replies: Iterator[Reply] = iter(replies)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = next(self.replies)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def client(self, key: str | ClientKey = KEY, **options: Any) -> Keyguard:
        return Keyguard(
            key,
            base_url="http://keyguard.test",
            transport=httpx.MockTransport(self),
            sleep=self.sleeps.append,
            random=lambda: 0.0,
            **options,
        )


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def test_a_429_is_retried_after_the_retry_after_the_server_gave() -> None:
    script = Script(problem(429, "rate_limited", retry_after=3), sent())
    assert script.client().mail.send({"from": "a@b.example"}).messages[0].id == "msg_1"
    assert script.sleeps == [3.0]


def test_a_send_reuses_one_idempotency_key_on_every_try() -> None:
    script = Script(httpx.ReadTimeout("slow"), problem(503, "not_ready"), sent())
    script.client().mail.send({"from": "a@b.example"})
    keys = {r.headers["Idempotency-Key"] for r in script.requests}
    assert len(script.requests) == 3 and len(keys) == 1 and keys != {""}


def test_two_sends_get_two_idempotency_keys() -> None:
    script = Script(sent(), sent())
    client = script.client()
    client.mail.send({"from": "a@b.example"})
    client.mail.send({"from": "a@b.example"})
    assert len({r.headers["Idempotency-Key"] for r in script.requests}) == 2


def test_a_given_idempotency_key_is_sent_as_is() -> None:
    script = Script(sent())
    script.client().mail.send({"from": "a@b.example"}, idempotency_key="order-42")
    assert script.requests[0].headers["Idempotency-Key"] == "order-42"


def test_backoff_doubles_from_the_base_without_retry_after() -> None:
    script = Script(problem(502, "bad_gateway"), problem(502, "bad_gateway"), sent())
    script.client(retries=Retries(total=2, backoff=0.5)).mail.send({"from": "a@b.example"})
    assert script.sleeps == [0.25, 0.5]  # base * 2**attempt, times the jitter floor 0.5


def test_a_post_without_an_idempotency_key_is_not_retried_after_a_read_timeout() -> None:
    script = Script(httpx.ReadTimeout("slow"))
    with pytest.raises(TransportError):
        script.client().keys.create(scopes=["mail:send"])
    assert len(script.requests) == 1


def test_a_post_is_retried_when_the_connection_was_never_made() -> None:
    created = {"id": "key_1", "tenant": "default", "env": "test", "prefix": "kg_test_ab",
               "scopes": ["mail:send"], "restrictions": {}, "state": "active",
               "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-04-01T00:00:00Z",
               "created_by": "operator", "key": "shown-once"}  # fmt: skip
    script = Script(httpx.ConnectError("refused"), httpx.Response(201, json=created))
    assert script.client().keys.create(scopes=["mail:send"]).id == "key_1"


def test_a_503_is_retried_for_a_get_but_not_for_a_plain_post() -> None:
    script = Script(problem(503, "not_ready"), httpx.Response(200, json={"status": "ok"}))
    assert script.client().health().status == "ok"
    post = Script(problem(503, "configuration"))
    with pytest.raises(ServiceUnavailable):
        post.client().keys.create(scopes=["mail:send"])
    assert len(post.requests) == 1


def test_a_retry_after_longer_than_the_cap_is_raised_not_waited_for() -> None:
    script = Script(problem(429, "quota_exceeded", retry_after=3600))
    with pytest.raises(RateLimited) as caught:
        script.client().mail.send({"from": "a@b.example"})
    assert caught.value.retry_after == 3600 and caught.value.code == "quota_exceeded"
    assert script.sleeps == []


def test_the_last_error_is_raised_once_the_retries_are_used_up() -> None:
    script = Script(*[problem(429, "rate_limited", retry_after=1)] * 3)
    with pytest.raises(RateLimited):
        script.client(retries=Retries(total=2)).keys.page()
    assert len(script.requests) == 3 and script.sleeps == [1.0, 1.0]


def test_no_retries_means_one_try() -> None:
    script = Script(problem(429, "rate_limited", retry_after=1))
    with pytest.raises(RateLimited):
        script.client(retries=Retries(total=0)).keys.page()
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "malformed_json", BadRequest),
        (401, "revoked", AuthenticationFailed),
        (403, "denied_ip", PermissionDenied),
        (404, "not_found", NotFound),
        (409, "illegal_transition", Conflict),
        (413, "payload_too_large", PayloadTooLarge),
        (422, "unknown_scope", InvalidRequest),
        (500, "internal_error", ServerError),
    ],
)
def test_each_status_family_raises_its_own_error_carrying_the_code(
    status: int, code: str, error: type[APIError]
) -> None:
    script = Script(problem(status, code, instance="req_1"))
    with pytest.raises(error) as caught:
        script.client(retries=Retries(total=0)).keys.get("key_1")
    assert (caught.value.status, caught.value.code, caught.value.request_id) == (
        status,
        code,
        "req_1",
    )


def test_field_errors_of_a_problem_are_kept() -> None:
    errors = [{"location": "body", "field": "scopes", "code": "too_short", "message": "m"}]
    script = Script(problem(422, "validation_failed", errors=errors))
    with pytest.raises(InvalidRequest) as caught:
        script.client().keys.create(scopes=[])
    assert [(e.field, e.code) for e in caught.value.errors] == [("scopes", "too_short")]


def test_an_answer_that_is_not_problem_json_still_raises_by_status() -> None:
    script = Script(httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(ServerError) as caught:
        script.client(retries=Retries(total=0)).keys.page()
    assert caught.value.code == "http_502"


class Rotating:
    """A key source whose successor the test puts in place."""

    def __init__(self) -> None:
        self.current = "first-" + "a" * 20

    def __call__(self) -> str:
        return self.current


def test_key_rotated_reads_the_source_again_and_retries_once_with_the_successor() -> None:
    source = Rotating()
    key = ClientKey("custom:rotating", source, max_age=None)
    script = Script(problem(401, "key_rotated"), httpx.Response(200, json={"status": "ok"}))
    source.current = "second-" + "b" * 20
    assert script.client(key).health().status == "ok"
    assert [r.headers["Authorization"] for r in script.requests] == [
        "Bearer first-" + "a" * 20,
        "Bearer second-" + "b" * 20,
    ]


def test_key_rotated_with_no_successor_in_the_source_raises_without_looping() -> None:
    script = Script(problem(401, "key_rotated"))
    with pytest.raises(KeyRotated):
        script.client().health()
    assert len(script.requests) == 1


def test_repr_and_errors_never_show_the_key() -> None:
    script = Script(problem(401, "invalid_key"))
    client = script.client()
    with pytest.raises(AuthenticationFailed) as caught:
        client.keys.page()
    shown = repr(client) + str(client) + repr(caught.value) + str(caught.value)
    assert KEY not in shown and "argument" in repr(client)


def test_the_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYGUARD_API_KEY", KEY)
    monkeypatch.setenv("KEYGUARD_BASE_URL", "https://keyguard.internal/")
    client = Keyguard.from_env()
    assert client.base_url == "https://keyguard.internal"
    assert client.key_source == "env:KEYGUARD_API_KEY"


def test_the_key_source_variable_is_used_when_no_key_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KEYGUARD_API_KEY", raising=False)
    monkeypatch.setenv("MAILER_KEY", KEY)
    monkeypatch.setenv("KEYGUARD_API_KEY_SOURCE", "env:MAILER_KEY")
    assert Keyguard().key_source == "env:MAILER_KEY"


def test_no_key_anywhere_is_a_key_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYGUARD_API_KEY", raising=False)
    monkeypatch.delenv("KEYGUARD_API_KEY_SOURCE", raising=False)
    with pytest.raises(KeySourceError) as caught:
        Keyguard()
    assert caught.value.code == "key_not_found"


def test_every_request_has_a_timeout_by_default() -> None:
    script = Script(httpx.Response(200, json={"status": "ok"}))
    script.client().health()
    timeout = script.requests[0].extensions["timeout"]
    assert all(value is not None for value in timeout.values())


def test_pages_are_followed_until_the_last() -> None:
    def contacts(ids: list[str], next_cursor: str | None) -> httpx.Response:
        data = [{"id": i, "email": f"{i}@example.com", "created_at": "2026-01-01T00:00:00Z"}
                for i in ids]  # fmt: skip
        return httpx.Response(200, json={"data": data, "next": next_cursor})

    script = Script(contacts(["c1", "c2"], "c2"), contacts(["c3"], None))
    assert [c.id for c in script.client().contacts.list(limit=2)] == ["c1", "c2", "c3"]
    assert script.requests[1].url.params["after"] == "c2"


def test_path_parameters_are_percent_encoded() -> None:
    script = Script(httpx.Response(204))
    script.client().suppressions.remove("@bad/domain.example")
    assert script.requests[0].url.raw_path == b"/v1/suppressions/%40bad%2Fdomain.example"


def test_the_async_client_retries_with_the_same_rules() -> None:
    script = Script(problem(429, "rate_limited", retry_after=2), sent())
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> str | None:
        async with AsyncKeyguard(
            KEY,
            base_url="http://keyguard.test",
            transport=httpx.MockTransport(script),
            sleep=sleep,
        ) as client:
            return (await client.mail.send({"from": "a@b.example"})).messages[0].id

    assert asyncio.run(main()) == "msg_1"
    assert slept == [2.0]
    assert len({r.headers["Idempotency-Key"] for r in script.requests}) == 1
