"""Direct routes (keyguard.api.direct) answer exactly as the same route through FastAPI.

Two servers on one runtime: the app as built (POST /v1/keys/verify served directly by the
middleware) and the same app with its direct table emptied (the route through FastAPI's
routing, dependencies and exception middleware). Every request below goes to both; status,
headers that matter and the body (but for the request id) must agree, and each side must
leave the same usage events.
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
from keyguard.runtime import Runtime
from keyguard.usage.models import UsageEvent
from tests.conftest import create_key
from tests.functional.api.servers import ThreadServer

JSON = {"Content-Type": "application/json"}


@dataclass
class Pair:
    direct: httpx.Client
    through_fastapi: httpx.Client
    direct_calls: list[str]


@pytest.fixture
def pair(runtime: Runtime) -> Iterator[Pair]:
    calls: list[str] = []
    direct_app = create_app(runtime, log_stream=io.StringIO())
    served = direct_app.state.keyguard.direct[("POST", PATH)]

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await served(scope, receive, send)

    direct_app.state.keyguard.direct[("POST", PATH)] = counted
    fastapi_app = create_app(runtime, log_stream=io.StringIO())
    fastapi_app.state.keyguard.direct.clear()
    servers = [ThreadServer(direct_app).start(), ThreadServer(fastapi_app).start()]
    clients = [httpx.Client(base_url=s.url, timeout=30) for s in servers]
    yield Pair(clients[0], clients[1], calls)
    for client in clients:
        client.close()
    for server in servers:
        server.stop()


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


CASES: dict[str, tuple[dict[str, str], bytes | None]] = {
    "malformed JSON": (JSON, b'{"key": '),
    "empty body": (JSON, b""),
    "not JSON (text/plain)": ({"Content-Type": "text/plain"}, b'{"key": "x"}'),
    "no content type": ({}, b'{"key": "x"}'),
    "a +json media type": ({"Content-Type": "application/merge-patch+json"}, b'{"key": "x"}'),
    "json with parameters": ({"Content-Type": "application/json; charset=utf-8"}, b'{"key": 1}'),
    "not UTF-8": (JSON, b'{"key": "\xff\xfe"}'),
    "an array": (JSON, b"[]"),
    "nested past the recursion limit": (JSON, b"[" * 200_000 + b"]" * 200_000),
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


@pytest.mark.parametrize(
    ("scopes", "authorization"),
    [((), None), (("mail:send",), "gateway"), (("keys:verify",), "Bearer kg_live_forged")],
)
def test_the_gateways_own_refusals_agree(
    pair: Pair, runtime: Runtime, scopes: tuple[str, ...], authorization: str | None
) -> None:
    headers = dict(JSON)
    if authorization == "gateway":
        headers["Authorization"] = f"Bearer {_gateway(runtime, *scopes)}"
    elif authorization is not None:
        headers["Authorization"] = authorization
    answers = [
        client.post(PATH, content=b'{"key": "x"}', headers=headers)
        for client in (pair.direct, pair.through_fastapi)
    ]
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
    assert list(direct) == [("POST", PATH)]
    assert isinstance(direct[("POST", PATH)], DirectRoute)
    assert direct[("POST", PATH)].route.path == PATH
