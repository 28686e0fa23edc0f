"""Per-key request rate (GCRA) and daily quotas, in process or shared through Redis.

Public surface::

    RateLimits(backend, clock, fail_open=False)   # runtime.limits
        .check(key_id, per_minute)               # one request against the key's rate
        .consume(key_id, n, limit)               # n units (recipients) of the daily quota
        .refund(key_id, n)                       # give back what a failed send consumed
        (each has an `_async` twin for the event loop)
        .overrides.per_minute(key_id, configured) # a throttle's lower rate, if one is live
    set_override / clear_override(session, …)    # a throttle, in the caller's transaction
    RateOverride                                 # its row (the fan-out watches for it)
    LimitDecision                                # allowed, limit, remaining, reset, retry
"""

from keyguard.ratelimit.decisions import LimitDecision
from keyguard.ratelimit.models import RateOverride
from keyguard.ratelimit.overrides import Overrides, clear_override, set_override
from keyguard.ratelimit.redis_backend import RedisBackend
from keyguard.ratelimit.service import RateLimits, build_limits

__all__ = [
    "LimitDecision",
    "Overrides",
    "RateLimits",
    "RateOverride",
    "RedisBackend",
    "build_limits",
    "clear_override",
    "set_override",
]
