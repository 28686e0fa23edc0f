"""Direct routes (keyguard.api.direct) answer exactly as the same route through FastAPI.

Two servers on one runtime: the app as built (POST /v1/keys/verify and POST /v1/mail/send
served directly by the middleware) and the same app with its direct table emptied (the
routes through FastAPI's routing, dependencies and exception middleware). Every request
below goes to both; status, headers that matter and the body (but for the request id and
message ids) must agree, and each side must leave the same usage events.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from keyguard.api import create_app
from keyguard.api.direct import DirectRoute
from keyguard.api.routes.verify import PATH
from keyguard.lifecycle.views import OPERATOR
from keyguard.mail.models import Message
from keyguard.runtime import Runtime
from keyguard.usage.models import UsageEvent
from tests.conftest import create_key
from tests.functional.api.servers import ThreadServer

JSON = {"Content-Type": "application/json"}
SEND = "/v1/mail/send"
DIRECT_PATHS = (PATH, SEND)


@dataclass
class Pair:
    direct: httpx.Client
    through_fastapi: httpx.Client
    direct_calls: list[str]


@pytest.fixture
def pair(runtime: Runtime) -> Iterator[Pair]:
    calls: list[str] = []
    direct_app = create_app(runtime, log_stream=io.StringIO())
    table = direct_app.state.keyguard.direct
    for path in DIRECT_PATHS:
        table[("POST", path)] = _counted(table[("POST", path)], calls)
    fastapi_app = create_app(runtime, log_stream=io.StringIO())
    fastapi_app.state.keyguard.direct.clear()
    servers = [ThreadServer(direct_app).start(), ThreadServer(fastapi_app).start()]
    clients = [httpx.Client(base_url=s.url, timeout=30) for s in servers]
    yield Pair(clients[0], clients[1], calls)
    for client in clients:
        client.close()
    for server in servers:
        server.stop()


def _counted(served: DirectRoute, calls: list[str]) -> Any:
    async def counted(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await served(scope, receive, send)

    return counted


def _gateway(runtime: Runtime, *scopes: str) -> str:
    return create_key(runtime, scopes=list(scopes)).key.reveal()


def _comparable(answer: httpx.Response) -> dict[str, Any]:
    body = answer.json()
    if isinstance(body, dict):
        body.pop("instance", None)  # the request id: different by design
    return {
        "status": answer.status_code,
        "content-type": answer.headers.get("content-type"),
        "retry-after": answer.headers.get("retry-after"),
        "www-authenticate": answer.headers.get("www-authenticate"),
        "cache-control": answer.headers.get("cache-control"),
        "body": body,
    }


def _usage(runtime: Runtime, request_ids: list[str]) -> list[tuple[Any, ...]]:
    runtime.usage.flush()
    with runtime.sessions() as session:
        query = session.query(UsageEvent).filter(UsageEvent.request_id.in_(request_ids))
        return [(r.key_id, r.outcome, r.status, r.scope) for r in query.order_by(UsageEvent.id)]


Cases = dict[str, tuple[dict[str, str], bytes | None]]


def _odd_bodies(field: str) -> Cases:
    """Bodies every direct route must refuse as FastAPI does; `field` is one of its body's."""
    one = f'{{"{field}": "x"}}'.encode()
    return {
        "malformed JSON": (JSON, one[:-5]),
        "empty body": (JSON, b""),
        "not JSON (text/plain)": ({"Content-Type": "text/plain"}, one),
        "no content type": ({}, one),
        "an array": (JSON, b"[]"),
        "nested past the recursion limit": (JSON, b"[" * 200_000 + b"]" * 200_000),
    }


CASES: Cases = {
    **_odd_bodies("key"),
    "a +json media type": ({"Content-Type": "application/merge-patch+json"}, b'{"key": "x"}'),
    "json with parameters": ({"Content-Type": "application/json; charset=utf-8"}, b'{"key": 1}'),
    "not UTF-8": (JSON, b'{"key": "\xff\xfe"}'),
    "an unknown field": (JSON, b'{"key": "x", "extra": 1}'),
    "a missing field": (JSON, b'{"scope": "mail:send"}'),
    "an unknown scope": (JSON, b'{"key": "x", "scope": "mail:sendd"}'),
    "a bad address": (JSON, b'{"key": "x", "ip": "999.1.1.1"}'),
    "a bad environment": (JSON, b'{"key": "x", "env": "prod"}'),
    "a key too long": (JSON, b'{"key": "' + b"k" * 5000 + b'"}'),
    "a body over the limit": (JSON, b'{"key": "' + b"k" * 1_100_000 + b'"}'),
    "an unknown key": (JSON, b'{"key": "kg_live_notoneofours"}'),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_refused_or_odd_request_gets_the_same_answer_both_ways(
    pair: Pair, runtime: Runtime, case: str
) -> None:
    headers, content = CASES[case]
    gateway = _gateway(runtime, "keys:verify")
    answers = []
    for index, client in enumerate((pair.direct, pair.through_fastapi)):
        request_id = (
            f"direct-parity-{case.replace(' ', '-').replace('(', '').replace(')', '')}-{index}"
        )
        sent = {**headers, "Authorization": f"Bearer {gateway}", "X-Request-ID": request_id}
        answers.append(client.post(PATH, content=content, headers=sent))
    assert pair.direct_calls == [PATH]
    assert _comparable(answers[0]) == _comparable(answers[1])
    assert answers[0].status_code != 500


def test_valid_and_denied_verifications_agree_and_leave_the_same_usage(
    pair: Pair, runtime: Runtime
) -> None:
    gateway = _gateway(runtime, "keys:verify")
    checked = create_key(runtime, scopes=["mail:send"]).key.reveal()
    bodies = [
        {"key": checked, "scope": "mail:send", "ip": "203.0.113.7", "env": "live"},
        {"key": checked, "scope": "audit:read"},
        {"key": checked, "env": "test"},
    ]
    for number, body in enumerate(bodies):
        ids = [f"direct-usage-{number}-a", f"direct-usage-{number}-b"]
        answers = [
            client.post(
                PATH, json=body, headers={"Authorization": f"Bearer {gateway}", "X-Request-ID": i}
            )
            for client, i in zip((pair.direct, pair.through_fastapi), ids, strict=True)
        ]
        assert _comparable(answers[0]) == _comparable(answers[1])
        direct_rows, fastapi_rows = (_usage(runtime, [i]) for i in ids)
        assert len(direct_rows) == 2  # the gateway's own use and the verified key's
        assert direct_rows == fastapi_rows
    assert len(pair.direct_calls) == len(bodies)


REFUSALS = [
    (PATH, (), None),
    (PATH, ("mail:send",), "a key"),
    (PATH, (), "Bearer kg_live_forged"),
    (SEND, (), None),
    (SEND, ("keys:verify",), "a key"),
    (SEND, (), "Bearer kg_live_forged"),
]


@pytest.mark.parametrize(("path", "scopes", "authorization"), REFUSALS)
def test_a_caller_without_a_usable_key_is_refused_alike(
    pair: Pair, runtime: Runtime, path: str, scopes: tuple[str, ...], authorization: str | None
) -> None:
    headers = dict(JSON)
    if authorization == "a key":  # a real key without the route's scope
        headers["Authorization"] = f"Bearer {_gateway(runtime, *scopes)}"
    elif authorization is not None:
        headers["Authorization"] = authorization
    answers = [
        client.post(path, content=b"{", headers=headers)
        for client in (pair.direct, pair.through_fastapi)
    ]
    assert pair.direct_calls == [path]
    assert answers[0].status_code in (401, 403)
    assert _comparable(answers[0]) == _comparable(answers[1])


def test_other_methods_on_the_path_still_go_through_fastapi(pair: Pair) -> None:
    answer = pair.direct.put(PATH, json={})
    assert answer.status_code == 405
    assert answer.json()["code"] == "method_not_allowed"
    assert pair.direct_calls == []


def test_direct_routes_are_found_by_operation_id(runtime: Runtime) -> None:
    app = create_app(runtime, log_stream=io.StringIO())
    direct = app.state.keyguard.direct
    assert sorted(direct) == [("POST", PATH), ("POST", SEND)]
    for path in DIRECT_PATHS:
        assert isinstance(direct[("POST", path)], DirectRoute)
        assert direct[("POST", path)].route.path == path


# -- POST /v1/mail/send ---------------------------------------------------------------------

LETTER = {"from": "news@brand.example", "to": ["ada@example.com"], "subject": "Hi", "text": "Hello"}
LONG_IDEMPOTENCY_KEY = {"Idempotency-Key": "i" * 300}
MAIL_CASES: Cases = {
    **_odd_bodies("from"),
    "a missing field": (JSON, b'{"from": "news@brand.example", "subject": "Hi"}'),
    "an unknown field": (JSON, b'{"from": "news@brand.example", "to": ["a@b.c"], "x": 1}'),
    "a batch with a bad item": (JSON, b'{"messages": [{"from": "x"}]}'),
    "messages that is not a list": (JSON, b'{"messages": 3}'),
    "a sender of another domain": (
        JSON,
        b'{"from": "x@other.example", "to": ["a@example.com"], "subject": "s", "text": "t"}',
    ),
    "an idempotency key too long": ({**JSON, **LONG_IDEMPOTENCY_KEY}, b'{"from": "x"}'),
    "a long idempotency key, no body": ({**JSON, **LONG_IDEMPOTENCY_KEY}, b""),
    "a long idempotency key, not JSON": ({**JSON, **LONG_IDEMPOTENCY_KEY}, b"{"),
    "a body over the limit": (JSON, b'{"text": "' + b"t" * 33_000_000 + b'"}'),
}


@pytest.fixture
def sender(runtime: Runtime) -> str:
    runtime.mail.domains.add_domain("default", "brand.example", OPERATOR.id)
    return create_key(runtime, scopes=["mail:send"]).key.reveal()


def _without_ids(answer: httpx.Response) -> dict[str, Any]:
    compared = _comparable(answer)
    for item in compared["body"].get("messages", ()) if answer.status_code == 202 else ():
        item.pop("id", None)
    return compared


@pytest.mark.parametrize("case", list(MAIL_CASES))
def test_an_odd_send_gets_the_same_answer_both_ways(pair: Pair, sender: str, case: str) -> None:
    headers, content = MAIL_CASES[case]
    answers = [
        client.post(SEND, content=content, headers={**headers, "Authorization": f"Bearer {sender}"})
        for client in (pair.direct, pair.through_fastapi)
    ]
    assert pair.direct_calls == [SEND]
    assert _comparable(answers[0]) == _comparable(answers[1])
    assert answers[0].status_code in (400, 403, 413, 415, 422)


def test_sends_agree_queue_the_same_mail_and_leave_the_same_usage(
    pair: Pair, runtime: Runtime, sender: str
) -> None:
    bodies: list[tuple[dict[str, Any], dict[str, str]]] = [
        (LETTER, {}),
        ({"messages": [LETTER, {**LETTER, "to": ["bob@example.com"]}]}, {}),
        ({"messages": [LETTER, {**LETTER, "from": "x@other.example"}]}, {}),
        ({"messages": [LETTER, {**LETTER, "from": "x@other.example"}], "partial": True}, {}),
        (LETTER, {"Idempotency-Key": "order-1"}),
    ]
    for number, (body, extra) in enumerate(bodies):
        ids = [f"direct-send-{number}-a", f"direct-send-{number}-b"]
        answers = []
        for client, request_id in zip((pair.direct, pair.through_fastapi), ids, strict=True):
            # Each side its own idempotency key: the second would otherwise replay the first.
            headers = {**{k: f"{v}-{request_id}" for k, v in extra.items()}}
            headers |= {"Authorization": f"Bearer {sender}", "X-Request-ID": request_id}
            answers.append(client.post(SEND, json=body, headers=headers))
        assert _without_ids(answers[0]) == _without_ids(answers[1])
        assert answers[0].status_code in (202, 403)
        direct_rows, fastapi_rows = (_usage(runtime, [i]) for i in ids)
        assert direct_rows
        assert direct_rows == fastapi_rows
    assert pair.direct_calls == [SEND] * len(bodies)
    with runtime.sessions() as session:
        queued = session.query(Message).count()
    assert queued == 2 * (1 + 2 + 1 + 1)  # the refused batch queued nothing on either side


def test_a_replayed_send_is_replayed_by_the_direct_route(pair: Pair, sender: str) -> None:
    headers = {"Authorization": f"Bearer {sender}", "Idempotency-Key": "retry-me"}
    first = pair.through_fastapi.post(SEND, json=LETTER, headers=headers)
    again = pair.direct.post(SEND, json=LETTER, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
