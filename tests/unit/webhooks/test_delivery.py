"""The delivery worker: signed POSTs a Standard Webhooks verifier accepts, the delivery log,
retries on the backoff schedule, no redirects followed, and no secret in any log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import structlog
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from keyguard.clock import ManualClock
from keyguard.lifecycle import OPERATOR
from keyguard.runtime import Runtime
from keyguard.secrets import SecretValue
from keyguard.webhooks import Backoff, ExpiryScan, WebhookDeliverer, signed_headers
from keyguard.webhooks.models import WebhookMessage
from tests.conftest import create_key

URL = "https://hooks.example.com/keyguard"
BACKOFF = Backoff(
    base=timedelta(seconds=10), cap=timedelta(minutes=5), max_attempts=3, max_age=timedelta(days=1)
)
Handler = Callable[[httpx.Request], httpx.Response]


class Receiver:
    """An httpx transport that answers with the next of `answers` and keeps the requests."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        headers = {"location": "https://elsewhere.example/"} if 300 <= answer < 400 else {}
        return httpx.Response(answer, headers=headers)


def _deliverer(runtime: Runtime, clock: ManualClock, receiver: Receiver) -> WebhookDeliverer:
    return WebhookDeliverer(
        runtime.sessions,
        runtime.webhooks,
        clock,
        backoff=BACKOFF,
        transport=httpx.MockTransport(receiver),
        rng=lambda: 0.0,
        monotonic=clock.monotonic,
    )


@pytest.fixture
def secret(runtime: Runtime) -> str:
    created = runtime.webhooks.create(OPERATOR, "default", URL, ["key.created", "key.expiring"])
    return created.secret.reveal()


def _message(runtime: Runtime) -> WebhookMessage:
    with runtime.sessions() as session:
        return session.scalars(select(WebhookMessage)).one()


def test_a_signature_verifies_with_the_standard_webhooks_library() -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    # The library checks the timestamp against the real time, so the attempt is stamped now.
    now = datetime.now(UTC)
    headers = signed_headers([SecretValue(secret)], "msg_1", now, '{"a":1}')
    assert Webhook(secret).verify('{"a":1}', headers) == {"a": 1}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify('{"a":2}', headers)


def test_a_delivery_is_signed_with_the_endpoints_secret(
    runtime: Runtime, clock: ManualClock, secret: str
) -> None:
    receiver = Receiver(204)
    key = create_key(runtime)
    assert _deliverer(runtime, clock, receiver).run() == 1
    (request,) = receiver.requests
    body = request.content.decode()
    timestamp = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(request.headers["webhook-id"], timestamp, body)
    assert request.headers["webhook-signature"] == expected
    assert timestamp == clock().replace(microsecond=0)
    assert json.loads(body)["data"]["key_id"] == key.view.id
    assert key.key.reveal() not in body
    message = _message(runtime)
    assert (message.state, message.attempts) == ("delivered", 1)


def test_after_a_rotation_both_secrets_sign_for_a_day(
    runtime: Runtime, clock: ManualClock, secret: str
) -> None:
    receiver = Receiver(204)
    deliverer = _deliverer(runtime, clock, receiver)
    endpoint_id = runtime.webhooks.endpoints(OPERATOR, "default")[0].id
    new = runtime.webhooks.rotate_secret(OPERATOR, "default", endpoint_id).secret.reveal()
    create_key(runtime)
    deliverer.run()
    clock.advance(timedelta(hours=24))
    create_key(runtime)
    deliverer.run()
    during, after = (_signatures(r) for r in receiver.requests)
    assert during == [
        _signature(new, receiver.requests[0]),
        _signature(secret, receiver.requests[0]),
    ]
    assert after == [_signature(new, receiver.requests[1])]


def _signatures(request: httpx.Request) -> list[str]:
    return request.headers["webhook-signature"].split(" ")


def _signature(secret: str, request: httpx.Request) -> str:
    timestamp = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    return Webhook(secret).sign(request.headers["webhook-id"], timestamp, request.content.decode())


def test_a_failing_receiver_is_retried_on_the_schedule_then_given_up(
    runtime: Runtime, clock: ManualClock, secret: str
) -> None:
    receiver = Receiver(500)
    create_key(runtime)
    deliverer = _deliverer(runtime, clock, receiver)
    assert deliverer.run() == 1
    assert _message(runtime).next_attempt_at == clock() + timedelta(seconds=5)
    clock.advance(timedelta(seconds=4))
    assert deliverer.run() == 0  # not due yet
    clock.advance(timedelta(seconds=1))
    assert deliverer.run() == 1
    assert _message(runtime).next_attempt_at == clock() + timedelta(seconds=10)
    clock.advance(timedelta(seconds=10))
    assert deliverer.run() == 1
    message = _message(runtime)
    assert (message.state, message.attempts) == ("failed", 3)
    log = runtime.webhooks.deliveries(OPERATOR, "default", message.endpoint_id)[0].log
    assert [(a.attempt, a.status_code, a.error) for a in log] == [
        (1, 500, "HTTP 500"),
        (2, 500, "HTTP 500"),
        (3, 500, "HTTP 500"),
    ]
    assert deliverer.outcomes == {"retried": 2, "failed": 1}


def test_a_redirect_is_not_followed(runtime: Runtime, clock: ManualClock, secret: str) -> None:
    receiver = Receiver(302)
    create_key(runtime)
    _deliverer(runtime, clock, receiver).run()
    assert [str(r.url) for r in receiver.requests] == [URL]
    (delivery,) = runtime.webhooks.deliveries(OPERATOR, "default", _message(runtime).endpoint_id)
    assert delivery.state == "pending"
    assert delivery.log[0].error == "redirect to https://elsewhere.example/ not followed"


def test_a_timeout_is_logged_and_retried(runtime: Runtime, clock: ManualClock, secret: str) -> None:
    receiver = Receiver(httpx.ReadTimeout("timed out"), 200)
    create_key(runtime)
    deliverer = _deliverer(runtime, clock, receiver)
    deliverer.run()
    clock.advance(timedelta(minutes=1))
    deliverer.run()
    (delivery,) = runtime.webhooks.deliveries(OPERATOR, "default", _message(runtime).endpoint_id)
    assert delivery.state == "delivered"
    assert [(a.status_code, a.error) for a in delivery.log] == [
        (None, "ReadTimeout: timed out"),
        (200, None),
    ]


def test_the_secret_never_reaches_the_logs(
    runtime: Runtime, clock: ManualClock, secret: str, captured: io.StringIO
) -> None:
    create_key(runtime)
    _deliverer(runtime, clock, Receiver(500)).run()
    rotated = runtime.webhooks.rotate_secret(OPERATOR, "default", _message(runtime).endpoint_id)
    output = captured.getvalue()
    assert "webhook_delivery" in output  # the log was captured
    assert secret not in output
    assert rotated.secret.reveal() not in output


def test_the_expiry_scan_emits_key_expiring_once_per_key(
    runtime: Runtime, clock: ManualClock, secret: str
) -> None:
    soon = create_key(runtime, expires_in=timedelta(days=10))
    create_key(runtime, expires_in=timedelta(days=30))
    scan = ExpiryScan(runtime.sessions, clock, days=7)
    assert scan.run() == 0
    clock.advance(timedelta(days=3, seconds=1))
    assert scan.run() == 1
    assert scan.run() == 0
    with runtime.sessions() as session:
        rows = session.scalars(
            select(WebhookMessage).where(WebhookMessage.event_type == "key.expiring")
        ).all()
    assert [r.payload["data"]["key_id"] for r in rows] == [soon.view.id]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged meanwhile, through the stdlib root logger and structlog."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(stream))
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        structlog.reset_defaults()


def test_a_disabled_endpoint_is_queued_nothing_new_and_its_queue_waits(
    runtime: Runtime, clock: ManualClock, secret: str
) -> None:
    receiver = Receiver(204)
    deliverer = _deliverer(runtime, clock, receiver)
    endpoint_id = runtime.webhooks.endpoints(OPERATOR, "default")[0].id
    create_key(runtime)  # queued while enabled
    view = runtime.webhooks.set_enabled(OPERATOR, "default", endpoint_id, enabled=False)
    assert view.enabled is False
    create_key(runtime)  # not queued: the endpoint is disabled
    assert deliverer.run() == 0
    assert _message(runtime).state == "pending"
    runtime.webhooks.set_enabled(OPERATOR, "default", endpoint_id, enabled=True)
    assert deliverer.run() == 1
    assert (_message(runtime).state, len(receiver.requests)) == ("delivered", 1)
