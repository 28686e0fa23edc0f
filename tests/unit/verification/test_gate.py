"""The gate every door asks: the verifier's decision, then the key's request rate."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from keyguard.clock import ManualClock
from keyguard.policy.restrictions import build_restrictions
from keyguard.runtime import Runtime
from keyguard.verification import Allowed, Denied
from tests.conftest import create_key


def _limited_key(runtime: Runtime, per_minute: int) -> str:
    restrictions = build_restrictions(rate_limit_per_minute=per_minute)
    return create_key(runtime, restrictions=restrictions).key.reveal()


def test_a_key_within_its_rate_is_allowed_with_the_rate_it_has_left(runtime: Runtime) -> None:
    key = _limited_key(runtime, 3)
    decision = asyncio.run(runtime.gate.admit(key, scope="mail:send", ip=None))
    assert isinstance(decision, Allowed)
    assert decision.rate is not None and (decision.rate.limit, decision.rate.remaining) == (3, 2)


def test_the_use_past_the_rate_is_refused_and_says_when_to_retry(runtime: Runtime) -> None:
    key = _limited_key(runtime, 2)

    async def three() -> list[object]:
        return [await runtime.gate.admit(key, scope="mail:send", ip=None) for _ in range(3)]

    first, second, third = asyncio.run(three())
    assert isinstance(first, Allowed) and isinstance(second, Allowed)
    assert isinstance(third, Denied) and third.outcome == "rate_limited"
    assert third.rate is not None and third.rate.retry_after > 0
    assert runtime.limits.hits["rate"] == 1


def test_a_refused_key_spends_none_of_its_rate(runtime: Runtime) -> None:
    key = _limited_key(runtime, 1)
    refused = asyncio.run(runtime.gate.admit(key, scope="contacts:write", ip=None))
    assert isinstance(refused, Denied) and refused.outcome == "denied_scope"
    assert refused.rate is None
    assert isinstance(runtime.gate.admit_blocking(key, scope="mail:send", ip=None), Allowed)


def test_the_blocking_door_counts_against_the_same_rate(
    runtime: Runtime, clock: ManualClock
) -> None:
    key = _limited_key(runtime, 1)
    assert isinstance(asyncio.run(runtime.gate.admit(key, scope="mail:send", ip=None)), Allowed)
    blocked = runtime.gate.admit_blocking(key, scope="mail:send", ip=None)
    assert isinstance(blocked, Denied) and blocked.outcome == "rate_limited"
    clock.advance(timedelta(minutes=1))  # the allowance refills on the injected clock
    assert isinstance(runtime.gate.admit_blocking(key, scope="mail:send", ip=None), Allowed)
