"""The delivery worker: due outbox messages POSTed to their endpoints, signed, and logged.

Each round claims a batch of due messages in one short transaction (pushing their next
attempt out by a lease, so that another worker does not take them too), POSTs each outside
any transaction, and records the attempt in another. A 2xx answer delivers the message; a
redirect is never followed (it could lead a signed payload anywhere) and counts as a failure,
like any other answer, a timeout or a connection error. Failures are retried on the Backoff
schedule until it gives up. The signing secret is decrypted only for the request and never
logged; the payload was scrubbed when it was queued.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from keyguard.clock import Clock
from keyguard.secrets import SecretValue
from keyguard.webhooks.backoff import Backoff
from keyguard.webhooks.endpoints import WebhookService
from keyguard.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage

log = structlog.get_logger("keyguard.webhooks")

USER_AGENT: Final = "Keyguard-Webhooks/1"
MAX_ERROR_CHARS: Final = 300


@dataclass(frozen=True, slots=True)
class _Claimed:
    message_id: str
    endpoint_id: str
    url: str
    body: str
    attempt: int
    secrets: tuple[SecretValue, ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Result:
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(payload: dict[str, Any]) -> str:
    """The exact bytes signed and sent: compact JSON with sorted keys."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def signed_headers(
    secrets: Sequence[SecretValue], message_id: str, now: datetime, body: str
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (the timestamp is the attempt's); one
    signature per secret, space-separated, as the specification allows during a rotation."""
    signatures = [Webhook(s.reveal()).sign(message_id, now, body) for s in secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


class WebhookDeliverer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        service: WebhookService,
        clock: Clock,
        *,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
        batch: int = 50,
        transport: httpx.BaseTransport | None = None,
        rng: Callable[[], float] = random.random,  # jitter, not a secret
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._service = service
        self._clock = clock
        self.backoff = backoff or Backoff()
        self._timeout = timeout
        self._batch = batch
        self._transport = transport
        self._rng = rng
        self._monotonic = monotonic
        self.outcomes: Counter[str] = Counter()  # delivered, retried, failed

    def run(self) -> int:
        """Deliver what is due now; returns how many attempts were made."""
        claimed = self._claim()
        if not claimed:
            return 0
        with httpx.Client(
            transport=self._transport,
            timeout=self._timeout,
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment sees signed payloads
            headers={"user-agent": USER_AGENT, "content-type": "application/json"},
        ) as client:
            for item in claimed:
                now = self._clock()
                result = self._post(client, item, now)
                self._record(item, now, result)
        return len(claimed)

    def _claim(self) -> list[_Claimed]:
        now = self._clock()
        lease = timedelta(seconds=self._timeout + 60)
        query = (
            select(WebhookMessage, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
            .where(
                WebhookMessage.state == "pending",
                WebhookMessage.next_attempt_at <= now,
                WebhookEndpoint.enabled.is_(True),  # a disabled endpoint's messages wait
            )
            .order_by(WebhookMessage.next_attempt_at, WebhookMessage.created_at, WebhookMessage.id)
            .limit(self._batch)
            .with_for_update(skip_locked=True, of=WebhookMessage)
        )
        claimed = []
        with self._sessions.begin() as session:
            for message, endpoint in session.execute(query):
                message.next_attempt_at = now + lease
                secrets = self._service.signing_secrets(session, endpoint, now)
                claimed.append(
                    _Claimed(
                        message.id,
                        endpoint.id,
                        endpoint.url,
                        body_of(message.payload),
                        message.attempts + 1,
                        tuple(secrets),
                    )
                )
        return claimed

    def _post(self, client: httpx.Client, item: _Claimed, now: datetime) -> Result:
        headers = signed_headers(item.secrets, item.message_id, now, item.body)
        started = self._monotonic()
        try:
            response = client.post(item.url, content=item.body.encode("utf-8"), headers=headers)
        except httpx.HTTPError as exc:
            return Result(None, self._elapsed(started), _error(exc))
        error = None
        if response.is_redirect:
            error = f"redirect to {response.headers.get('location', '?')[:200]} not followed"
        elif not response.is_success:
            error = f"HTTP {response.status_code}"
        return Result(response.status_code, self._elapsed(started), error)

    def _record(self, item: _Claimed, now: datetime, result: Result) -> None:
        with self._sessions.begin() as session:
            message = session.get(WebhookMessage, item.message_id)
            if message is None:  # the endpoint was removed meanwhile
                return
            session.add(
                WebhookAttempt(
                    message_id=message.id,
                    attempt=item.attempt,
                    at=now,
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    error=result.error,
                )
            )
            message.attempts = item.attempt
            outcome = self._settle(message, now, result)
        self.outcomes[outcome] += 1
        log.info(
            "webhook_delivery",
            message_id=item.message_id,
            endpoint_id=item.endpoint_id,
            attempt=item.attempt,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            outcome=outcome,
            error=result.error,
        )

    def _settle(self, message: WebhookMessage, now: datetime, result: Result) -> str:
        if result.ok:
            message.state, message.finished_at = "delivered", now
            return "delivered"
        retry_at = self.backoff.next_attempt(message.attempts, message.created_at, now, self._rng)
        if retry_at is None:
            message.state, message.finished_at = "failed", now
            return "failed"
        message.next_attempt_at = retry_at
        return "retried"

    def _elapsed(self, started: float) -> int:
        return max(0, round((self._monotonic() - started) * 1000))


def _error(exc: httpx.HTTPError) -> str:
    # The exception's class says what went wrong; its text may echo the URL, which is the
    # tenant's own, and holds no secret (credentials in URLs are refused).
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]
