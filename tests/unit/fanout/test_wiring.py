"""Two runtimes on one database and one Redis: a revocation or a throttle committed by one
reaches the other through the fan-out alone (no change feed running in the receiver)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

import pytest

from keyguard.clock import ManualClock
from keyguard.lifecycle.views import OPERATOR
from keyguard.ratelimit import set_override
from keyguard.runtime import Runtime
from keyguard.runtime.housekeeping import subscriber
from keyguard.settings import Settings
from tests.conftest import create_key
from tests.services import REDIS, service_url

BOUND = 15.0


@pytest.fixture
def pair(settings: Settings, runtime: Runtime, clock: ManualClock) -> Iterator[list[Runtime]]:
    shared = {
        "redis_url": service_url(REDIS),
        "fanout_channel": f"test:{secrets.token_hex(6)}",  # pub/sub is global to a server
    }
    both = [
        Runtime.build(settings.model_copy(update=shared), clock, monotonic=clock.monotonic)
        for _ in range(2)
    ]
    yield both
    for each in both:
        each.close()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(BOUND):
        while not condition():
            await asyncio.sleep(0.01)


def following(receiver: Runtime, body: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        follower = subscriber(receiver)
        task = asyncio.create_task(follower.run())
        try:
            await until(follower.connected.is_set)
            await body()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_a_revocation_in_one_runtime_drops_the_key_from_the_others_cache(
    pair: list[Runtime],
) -> None:
    sender, receiver = pair
    created = create_key(sender)
    key = created.key.reveal()
    assert receiver.verifier.verify(key).allowed  # now cached in the receiver

    async def body() -> None:
        await asyncio.to_thread(sender.keys.revoke, OPERATOR, created.view.id)
        await until(lambda: not receiver.verifier.verify(key).allowed)

    following(receiver, body)
    assert sender.publisher is not None and sender.publisher.published >= 1
    assert receiver.verifier.verify(key).outcome == "revoked"


def test_a_throttle_set_in_one_runtime_applies_in_the_other(
    pair: list[Runtime], clock: ManualClock
) -> None:
    sender, receiver = pair
    key_id = create_key(sender).view.id

    def throttle() -> None:
        with sender.sessions.begin() as session:
            set_override(
                session, clock(), key_id=key_id, tenant_id="default", per_minute=2,
                until=clock() + timedelta(minutes=5), reason="test",
            )  # fmt: skip

    async def body() -> None:
        await asyncio.to_thread(throttle)
        await until(lambda: receiver.limits.overrides.per_minute(key_id, None) == 2)

    following(receiver, body)
