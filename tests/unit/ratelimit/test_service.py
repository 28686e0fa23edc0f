"""RateLimits: UTC days from the clock, the fail-open/closed setting and the refusal counters."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from keyguard.clock import ManualClock
from keyguard.errors import ConfigurationError
from keyguard.ratelimit import RateLimits, build_limits
from keyguard.ratelimit.decisions import LimitDecision
from keyguard.ratelimit.interfaces import BackendUnavailable
from keyguard.ratelimit.memory import MemoryBackend
from keyguard.ratelimit.redis_backend import RedisBackend
from tests.conftest import START


class Unreachable(MemoryBackend):
    def hit(self, key_id: str, limit: int, now: float) -> LimitDecision:
        raise BackendUnavailable("ConnectionError")

    def consume(self, key_id: str, day: str, n: int, limit: int, ttl: int) -> tuple[bool, int]:
        raise BackendUnavailable("ConnectionError")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def test_the_quota_resets_at_utc_midnight(clock: ManualClock) -> None:
    limits = RateLimits(MemoryBackend(), clock)
    assert limits.consume("key_a", 10, 10).allowed
    refused = limits.consume("key_a", 1, 10)
    assert not refused.allowed
    assert refused.retry_after == 14 * 3600  # START is 10:00 UTC
    clock.advance(timedelta(hours=14))
    assert limits.consume("key_a", 1, 10).allowed


def test_refusals_are_counted_by_kind(clock: ManualClock) -> None:
    limits = RateLimits(MemoryBackend(), clock)
    limits.check("key_a", 1)
    limits.check("key_a", 1)
    limits.consume("key_a", 2, 1)
    assert limits.hits == {"rate": 1, "quota": 1}


def test_a_refund_makes_room_again(clock: ManualClock) -> None:
    limits = RateLimits(MemoryBackend(), clock)
    limits.consume("key_a", 5, 5)
    limits.refund("key_a", 3)
    assert limits.consume("key_a", 3, 5).remaining == 0


def test_negative_amounts_are_refused(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="negative"):
        RateLimits(MemoryBackend(), clock).consume("key_a", -1, 5)


def test_an_unreachable_backend_fails_closed_by_default(clock: ManualClock) -> None:
    limits = RateLimits(Unreachable(), clock)
    with pytest.raises(ConfigurationError) as raised:
        limits.check("key_a", 10)
    assert raised.value.code == "rate_limiter_unavailable"
    with pytest.raises(ConfigurationError):
        asyncio.run(limits.consume_async("key_a", 1, 10))
    assert limits.backend_errors == 2


def test_an_unreachable_backend_can_be_configured_to_fail_open(clock: ManualClock) -> None:
    limits = RateLimits(Unreachable(), clock, fail_open=True)
    assert limits.check("key_a", 10).allowed
    assert limits.consume("key_a", 100, 10).allowed
    assert limits.backend_errors == 2


def test_the_backend_is_chosen_by_the_redis_setting(clock: ManualClock) -> None:
    assert isinstance(build_limits(clock, redis_url=None, fail_open=False).backend, MemoryBackend)
    shared = build_limits(clock, redis_url="redis://127.0.0.1:6379/0", fail_open=False)
    assert isinstance(shared.backend, RedisBackend)
    shared.backend.close()
