"""The GCRA arithmetic and the decision it yields, shared by every backend.

GCRA (generic cell rate algorithm) keeps one number per key, the theoretical arrival time
(TAT) of the next request. A key allowed `limit` requests per `period` may burst `limit`
requests at once, then one every `period / limit` seconds. The Redis Lua script mirrors
`gcra()` line by line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

PERIOD: Final = 60.0  # rates are per minute
_EPSILON: Final = 1e-9


@dataclass(frozen=True, slots=True)
class LimitDecision:
    """`reset_after`: seconds until the allowance is whole again; `retry_after`: seconds until
    the next call can succeed (0 when this one was allowed)."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float = 0.0

    def headers(self) -> dict[str, str]:
        """RateLimit-* headers (draft-ietf-httpapi-ratelimit-headers); a refusal's Retry-After
        travels with the RateLimited error instead."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_after)),
        }


def gcra(
    tat: float | None, now: float, limit: int, period: float = PERIOD
) -> tuple[LimitDecision, float | None]:
    """Decide one request; return the decision and the new TAT (None when refused)."""
    interval = period / limit
    tat = now if tat is None or tat < now else tat
    new_tat = tat + interval
    allow_at = new_tat - period
    if allow_at > now + _EPSILON:
        return LimitDecision(False, limit, 0, tat - now, allow_at - now), None
    remaining = math.floor((period - (new_tat - now)) / interval + _EPSILON)
    return LimitDecision(True, limit, max(remaining, 0), new_tat - now), new_tat


def quota_decision(allowed: bool, limit: int, used: int, reset_after: float) -> LimitDecision:
    return LimitDecision(
        allowed, limit, max(limit - used, 0), reset_after, 0.0 if allowed else reset_after
    )
