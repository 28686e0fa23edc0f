"""Per-key request rate (GCRA) and daily quotas, in process or shared through Redis.

Public surface::

    RateLimits(backend, clock, fail_open=False)   # runtime.limits
        .check(key_id, per_minute)               # one request against the key's rate
        .consume(key_id, n, limit)               # n units (recipients) of the daily quota
        .refund(key_id, n)                       # give back what a failed send consumed
        (each has an `_async` twin for the event loop)
    LimitDecision                                # allowed, limit, remaining, reset, retry
"""

from keyguard.ratelimit.decisions import LimitDecision
from keyguard.ratelimit.redis_backend import RedisBackend
from keyguard.ratelimit.service import RateLimits, build_limits

__all__ = ["LimitDecision", "RateLimits", "RedisBackend", "build_limits"]
