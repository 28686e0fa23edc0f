"""Every request has an id, in the answer, the access log, the usage event and problem JSON;
the caller's X-Request-ID is honoured when well-formed and never when it looks like a key."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from keyguard.keys import generate_key
from tests.functional.api.conftest import Api

GENERATED = re.compile(r"[0-9a-f]{32}")


def _ids(api: Api, answer: httpx.Response) -> tuple[str, str | None, str | None]:
    """The response header's id, and the id in the last access log line and usage event."""
    usage = api.usage()
    return (
        answer.headers["x-request-id"],
        api.access_log()[-1].get("request_id"),
        usage[-1].request_id if usage else None,
    )


def test_a_well_formed_request_id_is_honoured_everywhere(api: Api) -> None:
    client = api.client(api.key("keys:read"))
    answer = client.get("/v1/keys", headers={"X-Request-ID": "edge-1.2_3"})
    assert _ids(api, answer) == ("edge-1.2_3", "edge-1.2_3", "edge-1.2_3")


def test_a_problem_names_its_request_as_instance(api: Api) -> None:
    answer = api.client().get("/v1/keys", headers={"X-Request-ID": "abc"})
    assert answer.status_code == 401
    assert answer.json()["instance"] == "abc"
    assert _ids(api, answer) == ("abc", "abc", "abc")


@pytest.mark.parametrize("sent", [None, "", "a" * 129, "has space", "semi;colon", "caf\xe9"])
def test_without_a_well_formed_id_one_is_generated(api: Api, sent: str | None) -> None:
    # Sent as bytes: httpx refuses non-ASCII str header values.
    headers = {"X-Request-ID": sent.encode("latin-1")} if sent is not None else {}
    answer = api.client(api.key("keys:read")).get("/v1/keys", headers=headers)
    request_id, logged, stored = _ids(api, answer)
    assert GENERATED.fullmatch(request_id)
    assert logged == stored == request_id


def test_each_generated_id_is_new(api: Api) -> None:
    client = api.client()
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize("shape", ["{}", "x{}", "{}.trace"])
def test_a_key_sent_as_request_id_is_replaced_and_never_echoed(api: Api, shape: str) -> None:
    raw = generate_key("live").reveal()
    answer = api.client().get("/v1/keys", headers={"X-Request-ID": shape.format(raw)})
    request_id, logged, stored = _ids(api, answer)
    assert GENERATED.fullmatch(request_id)
    assert logged == stored == request_id
    assert raw not in answer.text
    assert raw not in api.log.getvalue()


def test_routes_that_write_their_own_usage_event_store_the_request_id(api: Api) -> None:
    sender = api.client(api.key("mail:send"))
    letter = {
        "from": "a@unregistered.example",
        "to": ["b@example.com"],
        "subject": "s",
        "text": "t",
    }
    refused = sender.post("/v1/mail/send", json=letter, headers={"X-Request-ID": "mail-1"})
    assert refused.status_code >= 400
    gateway = api.client(api.key("keys:verify"))
    checked = api.key("keys:read").key.reveal()
    gateway.post("/v1/keys/verify", json={"key": checked}, headers={"X-Request-ID": "verify-1"})
    stored = {(e.path, e.request_id) for e in api.usage()}
    assert {("/v1/mail/send", "mail-1"), ("/v1/keys/verify", "verify-1")} <= stored


def test_the_usage_event_and_log_line_exist_before_the_last_byte_of_the_answer(api: Api) -> None:
    # A client may hang up (or a test look) the moment it has the answer: by then the usage
    # event must be queued and the access log line written. Driven through the ASGI app
    # itself, so "before the last byte" is an ordering the test observes, not a race.
    app = api.server.server.config.app
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/v1/keys", "raw_path": b"/v1/keys", "query_string": b"",
        "root_path": "", "headers": [(b"x-request-id", b"order-1")],
        "client": ("203.0.113.7", 40000), "server": ("127.0.0.1", api.server.port),
    }  # fmt: skip
    seen: list[tuple[int, list[str]]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            ids = [line.get("request_id") for line in api.access_log()]
            seen.append((api.runtime.usage.depth(), ids))

    api.runtime.usage.flush()
    asyncio.run(app(scope, receive, send))
    [(queued, logged)] = seen
    assert queued == 1
    assert logged[-1] == "order-1"
    assert [e.request_id for e in api.usage()][-1] == "order-1"
