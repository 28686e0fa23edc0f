"""When a failed delivery is tried again: exponential backoff with jitter, within limits.

The n-th retry waits ``min(cap, base * 2**(n-1))`` scaled by a random factor in [0.5, 1):
half the wait is guaranteed (a failing receiver is not hammered), half is spread (receivers
coming back up are not hit by every sender at once). A message is given up after
`max_attempts` attempts or once it is older than `max_age`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

Random = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Backoff:
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=6)
    max_attempts: int = 10
    max_age: timedelta = timedelta(days=3)

    def delay(self, attempts: int, rng: Random = random.random) -> timedelta:
        """The wait after the `attempts`-th failed attempt (1 for the first)."""
        ceiling = min(self.cap, self.base * (1 << min(max(attempts - 1, 0), 40)))
        return ceiling * (0.5 + rng() / 2)

    def next_attempt(
        self, attempts: int, created_at: datetime, now: datetime, rng: Random = random.random
    ) -> datetime | None:
        """When to try again after `attempts` failures, or None when the message is given up."""
        if attempts >= self.max_attempts:
            return None
        when = now + self.delay(attempts, rng)
        if when - created_at > self.max_age:
            return None
        return when
