"""What a rate-limit backend provides; `now` and `day` always come from the caller's clock."""

from __future__ import annotations

from typing import Protocol

from keyguard.ratelimit.decisions import LimitDecision


class BackendUnavailable(Exception):
    """The shared store could not be reached; RateLimits applies the fail-open setting."""


class LimitBackend(Protocol):
    def hit(self, key_id: str, limit: int, now: float) -> LimitDecision: ...

    async def hit_async(self, key_id: str, limit: int, now: float) -> LimitDecision: ...

    def consume(self, key_id: str, day: str, n: int, limit: int, ttl: int) -> tuple[bool, int]:
        """Add `n` to the day's counter unless that would pass `limit`; (allowed, used)."""
        ...

    async def consume_async(
        self, key_id: str, day: str, n: int, limit: int, ttl: int
    ) -> tuple[bool, int]: ...

    def refund(self, key_id: str, day: str, n: int) -> None: ...

    def ping(self) -> bool: ...

    async def ping_async(self) -> bool: ...

    def sweep(self, now: float, day: str) -> None:
        """Forget state that no longer matters (in-process backend); no-op elsewhere."""
        ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...
