"""Publishing a committed change on the Redis channel every process follows.

Called in the committing thread right after the commit (keyguard.fanout.watch), so it must be
quick and must never raise: a PUBLISH on loopback takes about 0.1 ms. When Redis does not
answer, the publisher pauses (`pause` seconds, doubled after each further failure up to
`max_pause`) instead of making every commit wait for a timeout; what it did not publish, the
database change feed delivers within its interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

import redis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

from keyguard.fanout.changes import Change

log = structlog.get_logger("keyguard.fanout")

DEFAULT_CHANNEL: Final = "keyguard:changes"


class Publisher:
    def __init__(
        self,
        url: str,
        channel: str = DEFAULT_CHANNEL,
        *,
        timeout: float = 0.25,
        pause: float = 1.0,
        max_pause: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        # One immediate retry, for a pooled connection Redis closed (a restart): beyond that a
        # failed publish is covered by the change feed, and retries only delay the committer.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._pause = pause
        self._max_pause = max_pause
        self._failed_in_a_row = 0
        self._monotonic = monotonic
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.published = 0
        self.failures = 0
        self.skipped = 0

    def publish(self, change: Change) -> bool:
        """Announce `change`; False when it was not sent (Redis away, or paused after that)."""
        if not change:
            return False
        if self._monotonic() < self._paused_until:
            self.skipped += 1
            return False
        try:
            self._client.publish(self.channel, change.to_json())
        except (redis.RedisError, OSError) as exc:
            with self._lock:
                self.failures += 1
                pause = min(self._pause * 2**self._failed_in_a_row, self._max_pause)
                self._failed_in_a_row += 1
                self._paused_until = self._monotonic() + pause
            log.warning("fanout_publish_unavailable", error=type(exc).__name__)
            return False
        self.published += 1
        self._failed_in_a_row = 0
        return True

    def close(self) -> None:
        self._client.close()
