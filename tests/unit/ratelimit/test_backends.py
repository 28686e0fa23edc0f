"""Both backends make the same decisions; the Redis one is atomic across clients."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from keyguard.ratelimit.interfaces import BackendUnavailable, LimitBackend
from keyguard.ratelimit.memory import MemoryBackend
from keyguard.ratelimit.redis_backend import RedisBackend
from tests.services import REDIS, service_url

NOW = 1_795_000_000.0
DAY = "2026-11-27"


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[LimitBackend]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    redis_backend = RedisBackend(service_url(REDIS), prefix=f"test-{secrets.token_hex(4)}")
    yield redis_backend
    redis_backend.close()


def _key() -> str:
    return "key_" + secrets.token_hex(8)


def test_rate_decisions_follow_gcra(backend: LimitBackend) -> None:
    key = _key()
    decisions = [backend.hit(key, 3, NOW + t) for t in (0, 0, 0, 0, 20, 20)]
    assert [d.allowed for d in decisions] == [True, True, True, False, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[3].retry_after == pytest.approx(20)


def test_async_hits_share_the_sync_state(backend: LimitBackend) -> None:
    key = _key()
    assert backend.hit(key, 2, NOW).allowed

    async def second_and_third() -> list[bool]:
        result = [
            (await backend.hit_async(key, 2, NOW)).allowed,
            (await backend.hit_async(key, 2, NOW)).allowed,
        ]
        await backend.aclose()
        return result

    assert asyncio.run(second_and_third()) == [True, False]


def test_quota_is_all_or_nothing(backend: LimitBackend) -> None:
    key = _key()
    assert backend.consume(key, DAY, 7, 10, 86_400) == (True, 7)
    assert backend.consume(key, DAY, 4, 10, 86_400) == (False, 7)
    assert backend.consume(key, DAY, 3, 10, 86_400) == (True, 10)
    assert backend.consume(key, "2026-11-28", 10, 10, 86_400) == (True, 10)


def test_a_refund_gives_units_back_but_never_below_zero(backend: LimitBackend) -> None:
    key = _key()
    backend.consume(key, DAY, 5, 5, 86_400)
    backend.refund(key, DAY, 2)
    assert backend.consume(key, DAY, 2, 5, 86_400) == (True, 5)
    backend.refund(key, DAY, 50)
    assert backend.consume(key, DAY, 5, 5, 86_400) == (True, 5)


def test_concurrent_consumers_never_overspend(backend: LimitBackend) -> None:
    key = _key()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: backend.consume(key, DAY, 1, 25, 86_400), range(100)))
    assert sum(allowed for allowed, _ in results) == 25


def test_concurrent_hits_never_exceed_the_burst(backend: LimitBackend) -> None:
    key = _key()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: backend.hit(key, 10, NOW).allowed, range(60)))
    assert sum(results) == 10


def test_an_unreachable_redis_raises_backend_unavailable() -> None:
    backend = RedisBackend("redis://127.0.0.1:1/0", timeout=0.2)
    with pytest.raises(BackendUnavailable):
        backend.hit(_key(), 1, NOW)
    with pytest.raises(BackendUnavailable):
        backend.consume(_key(), DAY, 1, 1, 60)
    assert backend.ping() is False


def test_the_memory_sweep_forgets_only_what_no_longer_matters() -> None:
    backend = MemoryBackend()
    backend.hit("key_a", 1, NOW)
    backend.consume("key_a", DAY, 1, 5, 60)
    backend.sweep(NOW + 30, DAY)
    assert not backend.hit("key_a", 1, NOW + 30).allowed  # still within its minute
    backend.sweep(NOW + 61, "2026-11-28")
    assert backend.hit("key_a", 1, NOW + 61).allowed
    assert backend.consume("key_a", DAY, 5, 5, 60) == (True, 5)  # yesterday was forgotten
