"""RateLimits: the clock, the fail-open/closed rule and the counters around a backend."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta

from keyguard.clock import Clock
from keyguard.errors import ConfigurationError, KeyguardError
from keyguard.ratelimit.decisions import LimitDecision, quota_decision
from keyguard.ratelimit.interfaces import BackendUnavailable, LimitBackend
from keyguard.ratelimit.memory import MemoryBackend
from keyguard.ratelimit.overrides import Overrides
from keyguard.ratelimit.redis_backend import RedisBackend

UNAVAILABLE = "rate_limiter_unavailable"
QUOTA_EXCEEDED = "quota_exceeded"


class RateLimits:
    """Per-key request rates and daily quotas; days are UTC calendar days."""

    def __init__(self, backend: LimitBackend, clock: Clock, *, fail_open: bool = False) -> None:
        self.backend = backend
        self._clock = clock
        self._fail_open = fail_open
        self.hits: Counter[str] = Counter()  # refusals by kind: "rate", "quota"
        self.backend_errors = 0
        self.overrides = Overrides(clock)  # throttles (keyguard.ratelimit.overrides)

    # -- request rate --------------------------------------------------------------------

    def check(self, key_id: str, per_minute: int) -> LimitDecision:
        """Count one request; the decision says whether it may proceed."""
        try:
            decision = self.backend.hit(key_id, per_minute, self._clock().timestamp())
        except BackendUnavailable:
            decision = self._unavailable(per_minute)
        return self._count("rate", decision)

    async def check_async(self, key_id: str, per_minute: int) -> LimitDecision:
        try:
            decision = await self.backend.hit_async(key_id, per_minute, self._clock().timestamp())
        except BackendUnavailable:
            decision = self._unavailable(per_minute)
        return self._count("rate", decision)

    # -- daily quota ---------------------------------------------------------------------

    def consume(self, key_id: str, n: int, limit: int) -> LimitDecision:
        """Spend `n` units (e.g. recipients) of today's `limit`, all or nothing."""
        day, reset_after = self._day()
        try:
            allowed, used = self.backend.consume(
                key_id, day, _units(n), limit, int(reset_after) + 3600
            )
        except BackendUnavailable:
            return self._count("quota", self._unavailable(limit))
        return self._count("quota", quota_decision(allowed, limit, used, reset_after))

    async def consume_async(self, key_id: str, n: int, limit: int) -> LimitDecision:
        day, reset_after = self._day()
        try:
            allowed, used = await self.backend.consume_async(
                key_id, day, _units(n), limit, int(reset_after) + 3600
            )
        except BackendUnavailable:
            return self._count("quota", self._unavailable(limit))
        return self._count("quota", quota_decision(allowed, limit, used, reset_after))

    def count_refusal(self, error: KeyguardError) -> None:
        """Count a refusal decided elsewhere: the mail quota is spent inside the sending
        transaction (keyguard.mail.sending.quota), not through `consume`."""
        if error.code == QUOTA_EXCEEDED:
            self.hits["quota"] += 1

    def refund(self, key_id: str, n: int) -> None:
        """Give back units consumed by an operation that then failed (best effort)."""
        try:
            self.backend.refund(key_id, self._day()[0], _units(n))
        except BackendUnavailable:
            self.backend_errors += 1

    # -- housekeeping --------------------------------------------------------------------

    def sweep(self) -> None:
        self.backend.sweep(self._clock().timestamp(), self._day()[0])

    def _day(self) -> tuple[str, float]:
        now = self._clock()
        midnight = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)
        return now.date().isoformat(), (midnight - now).total_seconds()

    def _unavailable(self, limit: int) -> LimitDecision:
        self.backend_errors += 1
        if self._fail_open:
            return LimitDecision(True, limit, limit, 0.0)
        # Fail closed: without the shared counter no process may grant anything.
        raise ConfigurationError(
            "the rate-limit store is unreachable; retry shortly", code=UNAVAILABLE
        )

    def _count(self, kind: str, decision: LimitDecision) -> LimitDecision:
        if not decision.allowed:
            self.hits[kind] += 1
        return decision


def _units(n: int) -> int:
    if n < 0:
        raise ValueError("cannot consume a negative amount")
    return n


def build_limits(clock: Clock, *, redis_url: str | None, fail_open: bool) -> RateLimits:
    """The in-process backend, or Redis when a URL is given (shared by processes)."""
    backend: LimitBackend = RedisBackend(redis_url) if redis_url else MemoryBackend()
    return RateLimits(backend, clock, fail_open=fail_open)
