"""The delivery worker: claim due messages from the outbox, hand them to the relay over SMTP,
record what the relay said.

Each worker keeps a few SMTP connections open and reuses them message after message; a
connection that fails is dropped and reopened for the next message. Database work runs in
a thread so the event loop (uvicorn's, inside `keyguard serve`) never blocks on it.

Exactly-once is as strong as SMTP allows: a message is marked sent in the transaction right
after the relay's 250; if the process dies between the two, the lease runs out and the
message is sent again (at-least-once, the same as every MTA).
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, TypeVar

import aiosmtplib
import structlog
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.mail.audience import suppressions
from keyguard.mail.sending import idempotency, outbox
from keyguard.mail.sending.outbox import Claimed, DeliveryResult, RetryPolicy
from keyguard.mail.transport.relay import RelayConfig

log = structlog.get_logger("keyguard.mail.transport.delivery")
T = TypeVar("T")

# Replies that say the mailbox does not exist or never will: the address is suppressed.
HARD_BOUNCES: Final = frozenset({550, 551, 553})
HOUSEKEEPING_SECONDS: Final = 600.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    batch: int = 100
    connections: int = 4
    poll_interval: float = 1.0
    lease: timedelta = timedelta(minutes=5)
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class RelayConnection:
    """One SMTP session with the relay, opened on first use and kept for the next message."""

    def __init__(self, relay: RelayConfig) -> None:
        self._relay = relay
        self._client: aiosmtplib.SMTP | None = None

    async def deliver(self, message: Claimed) -> DeliveryResult:
        result = DeliveryResult(message)
        try:
            client = await self._connected()
            refused, reply = await client.sendmail(message.sender, message.rcpt, message.mime)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            for refusal in exc.recipients:
                _classify(result, refusal.recipient, refusal.code, refusal.message)
            return result
        except aiosmtplib.SMTPResponseException as exc:  # sender refused, DATA refused, 421…
            for rcpt in message.rcpt:
                _classify(result, rcpt, exc.code, exc.message)
            if exc.code == 421:
                await self.close()
            return result
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            result.deferred = [(rcpt, None, _describe(exc)) for rcpt in message.rcpt]
            await self.close()
            return result
        for rcpt in message.rcpt:
            if rcpt in refused:
                _classify(result, rcpt, refused[rcpt].code, refused[rcpt].message)
            else:
                result.delivered.append((rcpt, 250, reply))
        return result

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        relay = self._relay
        client = aiosmtplib.SMTP(
            hostname=relay.host,
            port=relay.port,
            use_tls=relay.implicit_tls,
            # True: STARTTLS or nothing (live). None: STARTTLS when the relay offers it (dev).
            start_tls=None if relay.implicit_tls else (True if relay.require_tls else None),
            tls_context=relay.tls_context(),
            timeout=relay.timeout,
            local_hostname=socket.gethostname(),
            username=relay.username,
            password=relay.password.get_secret_value() if relay.password else None,
        )
        await client.connect()
        self._client = client
        return client


class DeliveryWorker:
    """Claims batches, delivers them over a pool of relay connections, records the results."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        relay: RelayConfig,
        *,
        config: WorkerConfig | None = None,
        owner: str | None = None,
        counts: Counter[str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._relay = relay
        self.config = config or WorkerConfig()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._connections = [RelayConnection(relay) for _ in range(self.config.connections)]
        self._random = random.SystemRandom()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._next_housekeeping = 0.0
        # Messages by the state a delivery left them in (sent, deferred, dead) and step errors;
        # shared with MailService.deliveries so /metrics can read it.
        self.counts: Counter[str] = Counter() if counts is None else counts

    def wake(self) -> None:
        """Thread-safe: look at the outbox now (called after a commit that queued mail)."""
        loop, event = self._loop, self._wakeup
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; sleeps `poll_interval` (or until woken) when idle.

        Recording a batch's results overlaps with claiming and delivering the next one (its
        messages are leased, so the next claim cannot take them again).
        """
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        log.info("mail worker started", owner=self.owner, relay=self._relay.display)
        recording: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                claimed = await self._guarded(asyncio.to_thread(self._claim)) or []
                if claimed:
                    results = await self._deliver(claimed)
                    if recording is not None:
                        await recording
                    recording = asyncio.create_task(self._record(results))
                elif recording is not None:
                    await recording  # its deferrals may be due at once: look again
                    recording = None
                else:
                    await self._idle(stop)
        finally:
            if recording is not None:
                await recording
            await self.close()
            log.info("mail worker stopped", owner=self.owner, **dict(self.counts))

    async def run_once(self) -> int:
        """Claim one batch, deliver it and record the results; the number of messages
        (held ones included, so that a drain goes on past a batch of held mail)."""
        claimed, held = await asyncio.to_thread(self._claim_counted)
        if claimed:
            await asyncio.to_thread(self._complete, await self._deliver(claimed))
        return len(claimed) + held

    async def close(self) -> None:
        await asyncio.gather(*(conn.close() for conn in self._connections))

    async def _deliver(self, claimed: Sequence[Claimed]) -> list[DeliveryResult]:
        width = len(self._connections)
        delivered = await asyncio.gather(
            *(
                self._deliver_chunk(conn, claimed[i::width])
                for i, conn in enumerate(self._connections)
            )
        )
        return [result for chunk in delivered for result in chunk]

    async def _record(self, results: Sequence[DeliveryResult]) -> None:
        await self._guarded(asyncio.to_thread(self._complete, results))

    async def _idle(self, stop: asyncio.Event) -> None:
        assert self._wakeup is not None  # noqa: S101 - set by run()
        if time.monotonic() >= self._next_housekeeping:
            await self._guarded(asyncio.to_thread(self._housekeeping))
        await _first(stop, self._wakeup, self.config.poll_interval)
        self._wakeup.clear()

    async def _guarded(self, step: Awaitable[T]) -> T | None:
        """A database hiccup must not kill the worker: log, count, carry on (leases cover
        the rows it held; they are delivered again once the lease runs out)."""
        try:
            return await step
        except Exception:
            log.exception("mail worker step failed", owner=self.owner)
            self.counts["errors"] += 1
            return None

    async def _deliver_chunk(
        self, connection: RelayConnection, chunk: Sequence[Claimed]
    ) -> list[DeliveryResult]:
        return [await connection.deliver(message) for message in chunk]

    def _claim(self) -> list[Claimed]:
        return self._claim_counted()[0]

    def _claim_counted(self) -> tuple[list[Claimed], int]:
        """(messages to deliver, how many more were claimed and held)."""
        now = self._clock()
        with self._sessions.begin() as session:
            claimed = outbox.claim(
                session, owner=self.owner, limit=self.config.batch, lease=self.config.lease, now=now
            )
            # In the claim's transaction: a revocation committed before it is always seen.
            deliverable = outbox.hold_revoked(session, claimed, now=now)
        held = len(claimed) - len(deliverable)
        if held:
            self.counts["held"] += held
            log.warning("mail of revoked keys held", held=held)
        return deliverable, held

    def _complete(self, results: Sequence[DeliveryResult]) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            states = outbox.complete(
                session, results, now=now, retry=self.config.retry, jitter=self._random.random()
            )
            for result in results:
                hard = [r for r, code, _ in result.bounced if code in HARD_BOUNCES]
                if hard and result.message.id in states:
                    suppressions.add_bounces(
                        session, result.message.tenant_id, result.message.env, hard, now
                    )
        self.counts.update(states.values())
        for result in results:
            if result.deferred or result.bounced:
                log.warning(
                    "mail delivery problem",
                    message_id=result.message.id,
                    state=states.get(result.message.id, "lease_lost"),
                    relay=self._relay.display,
                    deferred=[f"{code} {text}" for _, code, text in result.deferred][:3],
                    bounced=[f"{code} {text}" for _, code, text in result.bounced][:3],
                )

    def _housekeeping(self) -> None:
        self._next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
        with self._sessions.begin() as session:
            idempotency.forget_expired(session, self._clock())


def _classify(result: DeliveryResult, rcpt: str, code: int, text: str) -> None:
    if code >= 500:
        result.bounced.append((rcpt, code, text))
    else:
        result.deferred.append((rcpt, code, text))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


async def _first(stop: asyncio.Event, wakeup: asyncio.Event, timeout: float) -> None:
    """Wait until stopped, woken, or `timeout` seconds have passed."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits:
            waiter.cancel()
