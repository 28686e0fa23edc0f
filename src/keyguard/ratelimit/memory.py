"""The default backend: state in this process (each server process limits on its own)."""

from __future__ import annotations

import threading

from keyguard.ratelimit.decisions import LimitDecision, gcra


class MemoryBackend:
    def __init__(self) -> None:
        self._tats: dict[str, float] = {}
        self._used: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def hit(self, key_id: str, limit: int, now: float) -> LimitDecision:
        with self._lock:
            decision, new_tat = gcra(self._tats.get(key_id), now, limit)
            if new_tat is not None:
                self._tats[key_id] = new_tat
        return decision

    async def hit_async(self, key_id: str, limit: int, now: float) -> LimitDecision:
        return self.hit(key_id, limit, now)

    def consume(self, key_id: str, day: str, n: int, limit: int, ttl: int) -> tuple[bool, int]:
        with self._lock:
            used = self._used.get((key_id, day), 0)
            if used + n > limit:
                return False, used
            self._used[(key_id, day)] = used + n
            return True, used + n

    async def consume_async(
        self, key_id: str, day: str, n: int, limit: int, ttl: int
    ) -> tuple[bool, int]:
        return self.consume(key_id, day, n, limit, ttl)

    def refund(self, key_id: str, day: str, n: int) -> None:
        with self._lock:
            used = self._used.get((key_id, day))
            if used is not None:
                self._used[(key_id, day)] = max(used - n, 0)

    def ping(self) -> bool:
        return True

    async def ping_async(self) -> bool:
        return True

    def sweep(self, now: float, day: str) -> None:
        """A TAT in the past means a full allowance, the same as no entry at all."""
        with self._lock:
            self._tats = {k: tat for k, tat in self._tats.items() if tat > now}
            self._used = {k: used for k, used in self._used.items() if k[1] >= day}

    def close(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
