"""Usage events: one per protected request, allowed or denied, durable across a graceful stop;
a route that records its own event inside its own transaction is not counted twice."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from keyguard.api import EnforcedRoute, Principal, mark_usage_recorded, require_scope
from keyguard.api.context import RuntimeDep, context_of
from keyguard.errors import PermissionDenied
from keyguard.usage.models import UsageEvent
from keyguard.usage.records import UsageRecord
from tests.functional.api.conftest import Api, StartApi

feature = APIRouter(route_class=EnforcedRoute)


@feature.post("/v1/test/send", status_code=202)
def send(
    request: Request,
    principal: Annotated[Principal, require_scope("mail:send")],
    runtime: RuntimeDep,
) -> dict[str, str]:
    """Like the mail send: the event is written in the route's own transaction."""
    record = UsageRecord(
        ts=context_of(request).ts,
        method="POST",
        path="/v1/test/send",
        outcome="ok",
        status=202,
        key_id=principal.key.id,
        tenant_id=principal.key.tenant_id,
        env=principal.key.env,
        ip=str(principal.ip),
        scope="mail:send",
        recipients=3,
        recipient_domains=["example.com"],
        sender="news@brand.example",
    )
    with runtime.sessions.begin() as session:
        session.add(record.to_row())
    mark_usage_recorded(request)
    return {"status": "queued"}


@feature.post("/v1/test/refuse")
def refuse(principal: Annotated[Principal, require_scope("mail:send")]) -> None:
    raise PermissionDenied("sender domain not allowed", code="denied_sender")


def test_every_protected_request_leaves_one_event_in_the_product_schema(api: Api) -> None:
    reader = api.key("keys:read")
    api.client(reader).get("/v1/keys")
    api.client(reader).post("/v1/keys", json={"scopes": ["keys:read"]})  # denied: scope
    api.client("kg_live_nonsense").get("/v1/keys")
    api.client().get("/v1/keys")
    api.client(reader).get("/v1/keys", params={"limit": 0})  # allowed, then invalid
    events = [e.to_json() for e in api.usage()]
    assert [(e["outcome"], e["status"]) for e in events] == [
        ("ok", 200),
        ("denied_scope", 403),
        ("invalid_key", 401),
        ("invalid_key", 401),
        ("ok", 422),
    ]
    first = events[0]
    assert first["key_id"] == reader.view.id
    assert (first["tenant"], first["env"], first["ip"]) == ("default", "live", "127.0.0.1")
    assert (first["method"], first["path"], first["scope"]) == ("GET", "/v1/keys", "keys:read")
    assert first["user_agent"].startswith("python-httpx")
    assert first["ts"].endswith("Z")
    assert events[2]["key_id"] is None
    assert events[2]["tenant"] is None
    assert events[4]["code"] == "validation_failed"


def test_unprotected_requests_leave_no_event(api: Api) -> None:
    api.client().get("/healthz")
    api.client().get("/nowhere")
    assert api.usage() == []


def test_a_graceful_stop_writes_every_queued_event(start_api: StartApi) -> None:
    api = start_api(usage_flush_seconds=3600.0)  # the background flush never runs
    client = api.client(api.key("keys:read"))
    for _ in range(25):
        client.get("/v1/keys")
    api.stop()
    with api.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(UsageEvent)) == 25


def test_a_route_that_records_its_own_event_is_not_counted_twice(start_api: StartApi) -> None:
    api = start_api(routers=[feature])
    answer = api.client(api.key("mail:send")).post("/v1/test/send")
    assert answer.status_code == 202
    (event,) = api.usage()
    assert (event.recipients, event.sender, event.status) == (3, "news@brand.example", 202)


def test_a_routes_own_refusal_becomes_the_events_outcome(start_api: StartApi) -> None:
    api = start_api(routers=[feature])
    answer = api.client(api.key("mail:send")).post("/v1/test/refuse")
    assert answer.status_code == 403
    (event,) = api.usage()
    assert (event.outcome, event.status) == ("denied_sender", 403)
