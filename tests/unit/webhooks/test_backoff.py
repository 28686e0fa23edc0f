"""The retry schedule: exponential, jittered within [half, whole) of the step, capped, and
given up after the attempts or the age allowed."""

from __future__ import annotations

from datetime import timedelta

from keyguard.webhooks import Backoff
from tests.conftest import START

BACKOFF = Backoff(
    base=timedelta(seconds=30),
    cap=timedelta(minutes=10),
    max_attempts=5,
    max_age=timedelta(hours=1),
)


def test_each_failure_doubles_the_wait_until_the_cap() -> None:
    waits = [BACKOFF.delay(n, rng=lambda: 0.999999).total_seconds() for n in range(1, 7)]
    assert [round(w) for w in waits] == [30, 60, 120, 240, 480, 600]


def test_jitter_keeps_at_least_half_of_the_wait() -> None:
    assert BACKOFF.delay(3, rng=lambda: 0.0) == timedelta(seconds=60)
    assert BACKOFF.delay(3, rng=lambda: 0.5) == timedelta(seconds=90)


def test_the_next_attempt_is_the_wait_after_now() -> None:
    now = START + timedelta(minutes=2)
    assert BACKOFF.next_attempt(2, START, now, rng=lambda: 0.0) == now + timedelta(seconds=30)


def test_a_message_is_given_up_after_its_last_attempt() -> None:
    assert BACKOFF.next_attempt(4, START, START, rng=lambda: 0.0) is not None
    assert BACKOFF.next_attempt(5, START, START, rng=lambda: 0.0) is None


def test_a_message_is_given_up_when_the_retry_would_pass_its_age() -> None:
    assert BACKOFF.next_attempt(1, START, START + timedelta(minutes=59), rng=lambda: 0.0)
    late = START + timedelta(minutes=59, seconds=50)  # the first retry waits 15 s
    assert BACKOFF.next_attempt(1, START, late, rng=lambda: 0.0) is None
