"""The shared backend: one Redis for every server process, each decision one atomic Lua call.

Both scripts run entirely inside Redis, so two processes can never both spend the last unit
of an allowance. Time comes from the caller's clock (keep hosts on NTP; a skew of a few
milliseconds is irrelevant at per-minute rates) so tests can drive it with a manual clock.
"""

from __future__ import annotations

from typing import Any, Final

import redis
import redis.asyncio

from keyguard.ratelimit.decisions import PERIOD, LimitDecision
from keyguard.ratelimit.interfaces import BackendUnavailable

# Mirrors decisions.gcra(); numbers travel as strings because Redis truncates Lua floats.
GCRA_LUA: Final = """
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if allow_at > now + 1e-9 then
  return {0, '0', string.format('%.6f', tat - now), string.format('%.6f', allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', math.ceil((new_tat - now) * 1000))
local remaining = math.floor((period - (new_tat - now)) / interval + 1e-9)
if remaining < 0 then remaining = 0 end
return {1, tostring(remaining), string.format('%.6f', new_tat - now), '0'}
"""

QUOTA_LUA: Final = """
local n = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + n > limit then return {0, used} end
used = redis.call('INCRBY', KEYS[1], n)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, used}
"""

REFUND_LUA: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local used = redis.call('DECRBY', KEYS[1], tonumber(ARGV[1]))
if used < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
return 1
"""


class RedisBackend:
    def __init__(self, url: str, *, timeout: float = 0.5, prefix: str = "keyguard") -> None:
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "health_check_interval": 30,
        }
        self._prefix = prefix
        self._sync = redis.Redis.from_url(url, **options)
        self._async = redis.asyncio.Redis.from_url(url, **options)
        self._gcra = self._sync.register_script(GCRA_LUA)
        self._gcra_async = self._async.register_script(GCRA_LUA)
        self._quota = self._sync.register_script(QUOTA_LUA)
        self._quota_async = self._async.register_script(QUOTA_LUA)
        self._refund = self._sync.register_script(REFUND_LUA)

    def _rate_key(self, key_id: str) -> str:
        return f"{self._prefix}:rate:{key_id}"

    def _quota_key(self, key_id: str, day: str) -> str:
        return f"{self._prefix}:quota:{key_id}:{day}"

    def hit(self, key_id: str, limit: int, now: float) -> LimitDecision:
        try:
            reply = self._gcra(keys=[self._rate_key(key_id)], args=[repr(now), limit, PERIOD])
        except redis.RedisError as exc:
            raise BackendUnavailable(type(exc).__name__) from exc
        return _gcra_decision(reply, limit)

    async def hit_async(self, key_id: str, limit: int, now: float) -> LimitDecision:
        try:
            reply = await self._gcra_async(
                keys=[self._rate_key(key_id)], args=[repr(now), limit, PERIOD]
            )
        except redis.RedisError as exc:
            raise BackendUnavailable(type(exc).__name__) from exc
        return _gcra_decision(reply, limit)

    def consume(self, key_id: str, day: str, n: int, limit: int, ttl: int) -> tuple[bool, int]:
        try:
            reply = self._quota(keys=[self._quota_key(key_id, day)], args=[n, limit, ttl])
        except redis.RedisError as exc:
            raise BackendUnavailable(type(exc).__name__) from exc
        return bool(reply[0]), int(reply[1])

    async def consume_async(
        self, key_id: str, day: str, n: int, limit: int, ttl: int
    ) -> tuple[bool, int]:
        try:
            reply = await self._quota_async(
                keys=[self._quota_key(key_id, day)], args=[n, limit, ttl]
            )
        except redis.RedisError as exc:
            raise BackendUnavailable(type(exc).__name__) from exc
        return bool(reply[0]), int(reply[1])

    def refund(self, key_id: str, day: str, n: int) -> None:
        try:
            self._refund(keys=[self._quota_key(key_id, day)], args=[n])
        except redis.RedisError as exc:
            raise BackendUnavailable(type(exc).__name__) from exc

    def ping(self) -> bool:
        try:
            return bool(self._sync.ping())
        except redis.RedisError:
            return False

    async def ping_async(self) -> bool:
        try:
            return bool(await self._async.ping())
        except redis.RedisError:
            return False

    def sweep(self, now: float, day: str) -> None:
        return None  # Redis expires keys by itself

    def close(self) -> None:
        self._sync.close()

    async def aclose(self) -> None:
        await self._async.aclose()


def _gcra_decision(reply: list[Any], limit: int) -> LimitDecision:
    allowed, remaining, reset_after, retry_after = reply
    return LimitDecision(
        allowed=bool(int(allowed)),
        limit=limit,
        remaining=int(remaining),
        reset_after=float(reset_after),
        retry_after=float(retry_after),
    )
