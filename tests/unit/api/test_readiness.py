"""The secrets backend's readiness probe: cached for its TTL, bounded by its timeout."""

from __future__ import annotations

import asyncio
import threading

from keyguard.api.readiness import CachedProbe
from keyguard.errors import ConfigurationError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_check_runs_once_per_ttl_and_its_answer_is_kept_between() -> None:
    clock, calls = Clock(), []
    probe = CachedProbe(lambda: calls.append(1), ttl=30.0, timeout=5.0, monotonic=clock)

    async def scenario() -> list[bool]:
        answers = [await probe(), await probe()]
        clock.now += 29.9
        answers.append(await probe())
        clock.now += 0.2
        answers.append(await probe())
        return answers

    assert asyncio.run(scenario()) == [True, True, True, True]
    assert len(calls) == 2


def test_a_failing_check_is_not_ready_and_cached_too() -> None:
    clock, calls = Clock(), []

    def check() -> None:
        calls.append(1)
        raise ConfigurationError("cannot reach OpenBao at https://bao.internal:8200")

    probe = CachedProbe(check, ttl=30.0, timeout=5.0, monotonic=clock)

    async def scenario() -> list[bool]:
        return [await probe(), await probe()]

    assert asyncio.run(scenario()) == [False, False]
    assert len(calls) == 1


def test_a_hanging_backend_answers_not_ready_and_callers_share_one_check() -> None:
    release, started = threading.Event(), []

    def check() -> None:
        started.append(1)
        release.wait(timeout=30)

    probe = CachedProbe(check, ttl=30.0, timeout=0.05, monotonic=Clock())

    async def scenario() -> list[bool]:
        answers = list(await asyncio.gather(probe(), probe(), probe()))
        answers.append(await probe())  # still hanging: the same check, not a fourth
        release.set()
        return answers

    assert asyncio.run(scenario()) == [False, False, False, False]
    assert len(started) == 1
