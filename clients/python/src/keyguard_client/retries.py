"""When a request is tried again, and after how long.

A request is retried when trying again cannot do anything twice:

- the server refused it before doing anything: 429 (rate limited), or the connection was never
  made (connect errors, pool time-outs) — any request;
- otherwise (502, 503, 504, a read time-out, a connection broken off mid-answer) only when the
  request is safe to repeat: GET, HEAD, OPTIONS, PUT, DELETE, or a POST that carries an
  `Idempotency-Key` (mail sends always do: the client makes one and reuses it on every try).

The delay is the server's `Retry-After` when it gives one (a wait longer than
`max_retry_after` is not waited for: the error is raised), else exponential backoff with
jitter: `backoff * 2**attempt`, at most `max_backoff`, times a random factor in [0.5, 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

import httpx

__all__ = ["Retries"]

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_NOT_PROCESSED: Final = frozenset({429})
_TRANSIENT: Final = frozenset({502, 503, 504})
# Failures before a byte of the request reached the server.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class Retries:
    """`total` retries after the first try; `Retries(0)` never retries."""

    total: int = 2
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def after_answer(
        self,
        attempt: int,
        response: httpx.Response,
        *,
        safe: bool,
        random: Callable[[], float],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> float | None:
        """Seconds to wait before try `attempt + 1` after this error answer; None: give up."""
        status = response.status_code
        if attempt >= self.total:
            return None
        if status not in _NOT_PROCESSED and not (safe and status in _TRANSIENT):
            return None
        told = retry_after(response.headers.get("Retry-After"), now)
        if told is None:
            return self._backoff(attempt, random)
        return told if told <= self.max_retry_after else None

    def after_failure(
        self, attempt: int, error: httpx.TransportError, *, safe: bool, random: Callable[[], float]
    ) -> float | None:
        """Seconds to wait after a request that got no answer; None: give up."""
        if attempt >= self.total or not (safe or isinstance(error, _NOT_SENT)):
            return None
        return self._backoff(attempt, random)

    def _backoff(self, attempt: int, random: Callable[[], float]) -> float:
        return min(self.max_backoff, self.backoff * 2.0**attempt) * (0.5 + random() / 2)


def retry_after(value: str | None, now: Callable[[], datetime]) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def is_safe(method: str, headers: httpx.Headers) -> bool:
    return method in SAFE_METHODS or "Idempotency-Key" in headers
