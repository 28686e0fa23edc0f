"""/v1/webhooks end to end: a real receiver on loopback gets key events signed per Standard
Webhooks (checked with the standardwebhooks verifier), a failing one is retried with backoff
and every attempt is in the delivery log, and no secret or key leaks on the way."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from keyguard.audit import AuditEvent
from keyguard.clock import ManualClock
from tests.functional.api.conftest import Api


class Receiver:
    """An HTTP server on 127.0.0.1 that verifies each delivery with the endpoint's secret."""

    def __init__(self) -> None:
        self.secret = ""
        self.status = 204
        self.verified: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.hits = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                receiver.hits += 1
                try:
                    receiver.verified.append(
                        Webhook(receiver.secret).verify(body, dict(self.headers))
                    )
                except WebhookVerificationError as exc:
                    receiver.rejected.append(str(exc))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def admin(api: Api, clock: ManualClock) -> httpx.Client:
    # The standardwebhooks verifier accepts a signature only within 5 minutes of the real
    # time, so these tests run the server's clock from the real time (moved by hand after).
    clock.set(datetime.now(UTC).replace(microsecond=0))
    return api.client(api.key())


def _subscribe(admin: httpx.Client, receiver: Receiver, *types: str) -> str:
    answer = admin.post("/v1/webhooks", json={"url": receiver.url, "event_types": list(types)})
    assert answer.status_code == 201, answer.text
    receiver.secret = answer.json()["secret"]
    assert receiver.secret.startswith("whsec_")
    return str(answer.json()["webhook"]["id"])


def test_a_receiver_gets_signed_key_created_and_key_revoked(
    api: Api, admin: httpx.Client, receiver: Receiver, clock: ManualClock
) -> None:
    _subscribe(admin, receiver, "key.created", "key.revoked")
    created = admin.post("/v1/keys", json={"scopes": ["mail:send"], "name": "ci"}).json()
    clock.advance(timedelta(seconds=1))  # the outbox is delivered in the order of its times
    assert admin.post(f"/v1/keys/{created['id']}/revoke", json={}).status_code == 200
    assert api.runtime.deliveries.run() == 2
    assert receiver.rejected == []
    assert [(e["type"], e["data"]["key_id"]) for e in receiver.verified] == [
        ("key.created", created["id"]),
        ("key.revoked", created["id"]),
    ]
    assert created["key"] not in json.dumps(receiver.verified)


def test_a_tampered_secret_fails_verification(
    api: Api, admin: httpx.Client, receiver: Receiver
) -> None:
    # Guards the test above against vacuity: the receiver does reject what it cannot verify.
    _subscribe(admin, receiver, "key.created")
    receiver.secret = "whsec_" + "A" * 32
    admin.post("/v1/keys", json={"scopes": ["mail:send"]})
    api.runtime.deliveries.run()
    assert receiver.rejected == ["No matching signature found"]


def test_a_failing_receiver_is_retried_with_backoff_and_logged(
    api: Api, admin: httpx.Client, receiver: Receiver, clock: ManualClock
) -> None:
    webhook_id = _subscribe(admin, receiver, "key.created")
    receiver.status = 503
    admin.post("/v1/keys", json={"scopes": ["mail:send"]})
    deliverer = api.runtime.deliveries
    assert deliverer.run() == 1
    assert deliverer.run() == 0  # the retry waits
    (pending,) = admin.get(f"/v1/webhooks/{webhook_id}/deliveries").json()["deliveries"]
    wait = datetime.fromisoformat(pending["next_attempt_at"]) - clock()
    base = deliverer.backoff.base
    assert base / 2 <= wait < base
    clock.advance(base)
    receiver.status = 200
    assert deliverer.run() == 1
    (done,) = admin.get(f"/v1/webhooks/{webhook_id}/deliveries").json()["deliveries"]
    assert done["state"] == "delivered"
    assert [(a["attempt"], a["status_code"], a["error"]) for a in done["log"]] == [
        (1, 503, "HTTP 503"),
        (2, 200, None),
    ]
    assert all(a["latency_ms"] >= 0 for a in done["log"])
    assert receiver.hits == 2
    metrics = httpx.get(f"{api.url}/metrics").text
    assert 'keyguard_webhook_deliveries_total{outcome="retried"} 1.0' in metrics
    assert 'keyguard_webhook_deliveries_total{outcome="delivered"} 1.0' in metrics


def test_a_key_pasted_into_a_name_is_masked_in_the_delivery(
    api: Api, admin: httpx.Client, receiver: Receiver, clock: ManualClock
) -> None:
    _subscribe(admin, receiver, "key.created")
    leaked = admin.post("/v1/keys", json={"scopes": ["mail:send"]}).json()["key"]
    clock.advance(timedelta(seconds=1))
    admin.post("/v1/keys", json={"scopes": ["mail:send"], "name": f"copy of {leaked}"})
    api.runtime.deliveries.run()
    names = [e["data"]["name"] for e in receiver.verified]
    assert len(names) == 2
    assert leaked not in json.dumps(receiver.verified)
    assert names[1].startswith("copy of kg_live_")


def test_the_secret_is_not_in_lists_logs_or_audit(
    api: Api, admin: httpx.Client, receiver: Receiver
) -> None:
    webhook_id = _subscribe(admin, receiver, "key.created")
    first = receiver.secret
    rotated = admin.post(f"/v1/webhooks/{webhook_id}/rotate-secret").json()["secret"]
    assert rotated != first
    listing = admin.get("/v1/webhooks").json()
    assert [w["id"] for w in listing["webhooks"]] == [webhook_id]
    with api.runtime.sessions() as session:
        audit = str([(e.action, e.data) for e in session.scalars(select(AuditEvent))])
    assert "webhook.secret_rotated" in audit
    for secret in (first, rotated):
        assert secret not in json.dumps(listing)
        assert secret not in api.log.getvalue()
        assert secret not in audit


def test_webhooks_are_partitioned_by_tenant(
    api: Api, admin: httpx.Client, receiver: Receiver
) -> None:
    webhook_id = _subscribe(admin, receiver, "key.created")
    other = api.client(api.key("webhooks:write", tenant="other"))
    assert other.get("/v1/webhooks").json() == {"webhooks": []}
    answer = other.get(f"/v1/webhooks/{webhook_id}/deliveries")
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
    assert other.delete(f"/v1/webhooks/{webhook_id}").status_code == 404
    assert admin.delete(f"/v1/webhooks/{webhook_id}").status_code == 204
    assert admin.get("/v1/webhooks").json() == {"webhooks": []}


def test_a_clear_text_url_is_refused_with_a_stable_code(admin: httpx.Client) -> None:
    answer = admin.post(
        "/v1/webhooks", json={"url": "http://hooks.example.com/", "event_types": ["key.created"]}
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_webhook_url")
    answer = admin.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/", "event_types": ["key.nope"]}
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "unknown_event_type")


def test_a_key_without_webhooks_write_is_refused(api: Api, admin: httpx.Client) -> None:
    answer = api.client(api.key("keys:read")).get("/v1/webhooks")
    assert answer.status_code == 403


def test_the_retry_waits_grow(
    api: Api, admin: httpx.Client, receiver: Receiver, clock: ManualClock
) -> None:
    webhook_id = _subscribe(admin, receiver, "key.created")
    receiver.status = 500
    admin.post("/v1/keys", json={"scopes": ["mail:send"]})
    deliverer = api.runtime.deliveries
    waits = []
    for _ in range(3):
        assert deliverer.run() == 1
        (row,) = admin.get(f"/v1/webhooks/{webhook_id}/deliveries").json()["deliveries"]
        waits.append(datetime.fromisoformat(row["next_attempt_at"]) - clock())
        clock.advance(waits[-1] + timedelta(seconds=1))
    base = deliverer.backoff.base
    for n, wait in enumerate(waits):
        assert base * 2**n / 2 <= wait < base * 2**n
