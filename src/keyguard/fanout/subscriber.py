"""Following the change channel: apply each change; after every (re)connection, catch up.

Pub/sub delivers only to whoever is connected at that moment, so each time the subscription
is (re)established the subscriber asks for `catch_up` (a poll of the database change feed and
a reload of the throttles): whatever was published while this process was not listening is
read from the database instead. Redis going away never ends the loop: it waits (`Backoff`)
and tries again, and meanwhile the change feed keeps its fixed interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import redis
import redis.asyncio
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from keyguard.fanout.changes import Change
from keyguard.fanout.publisher import DEFAULT_CHANNEL

log = structlog.get_logger("keyguard.fanout")

# How long one read waits for a message before the loop looks at its health again, and how
# often an idle subscription pings Redis (a half-open connection is found within that).
READ_SECONDS: Final = 1.0
PING_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Doubling delays between reconnections, from `first` up to `cap` seconds."""

    first: float = 0.05
    cap: float = 2.0

    def delay(self, failures: int) -> float:
        return float(min(self.cap, self.first * 2 ** max(failures - 1, 0)))


class Subscriber:
    """`apply(change)` for every message; `catch_up()` after every successful subscription."""

    def __init__(
        self,
        url: str,
        channel: str = DEFAULT_CHANNEL,
        *,
        apply: Callable[[Change], Awaitable[None]],
        catch_up: Callable[[], Awaitable[None]],
        backoff: Backoff = Backoff(),
        connect_timeout: float = 1.0,
    ) -> None:
        self._url = url
        self.channel = channel
        self._apply = apply
        self._catch_up = catch_up
        self._backoff = backoff
        self._connect_timeout = connect_timeout
        self.connected = asyncio.Event()
        self.connections = 0  # successful subscriptions, the first included
        self.received = 0
        self.disconnects = 0

    async def run(self) -> None:
        """Follow the channel until cancelled; never returns otherwise, never raises."""
        failures = 0
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                log.warning("fanout_subscriber_disconnected", error=type(exc).__name__)
            except Exception:  # a bug here must not end revocation fan-out for good
                log.exception("fanout_subscriber_failed")
            if self.connected.is_set():
                self.connected.clear()
                self.disconnects += 1
                failures = 0
            failures += 1
            await asyncio.sleep(self._backoff.delay(failures))

    async def _follow(self) -> None:
        client = redis.asyncio.Redis.from_url(
            self._url,
            socket_connect_timeout=self._connect_timeout,
            retry=Retry(NoBackoff(), 0),  # the loop in `run` is the retry, with its backoff
        )
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(self.channel)
                await self._confirmed(pubsub)
                await self._listening(pubsub)
        finally:
            await client.aclose()

    async def _confirmed(self, pubsub: Any) -> None:
        """Wait for Redis to confirm the subscription: only from then on is nothing missed,
        so only then may the catch-up read what was missed before."""
        async with asyncio.timeout(self._connect_timeout * 5):  # TimeoutError: an OSError
            while True:
                message = await pubsub.get_message(timeout=self._connect_timeout)
                if message is not None and message.get("type") == "subscribe":
                    return

    async def _listening(self, pubsub: Any) -> None:
        self.connections += 1
        self.connected.set()
        try:
            await self._catch_up()  # what was published while this process was not listening
        except Exception as exc:  # the database may be away too; its feed retries on its own
            log.warning("fanout_catch_up_failed", error=type(exc).__name__)
        loop = asyncio.get_running_loop()
        pinged = loop.time()
        while True:
            message = await pubsub.get_message(timeout=READ_SECONDS)
            if message is not None and message.get("type") == "message":
                await self._deliver(message["data"])
            if loop.time() - pinged >= PING_SECONDS:
                await pubsub.ping()
                pinged = loop.time()

    async def _deliver(self, data: str | bytes) -> None:
        change = Change.from_json(data)
        if change is None:
            log.warning("fanout_message_ignored")
            return
        self.received += 1
        try:
            await self._apply(change)
        except Exception:  # one bad apply must not end the subscription
            log.exception("fanout_apply_failed")
