"""The publisher and the subscriber on a real Redis of the test's own, which is stopped and
started again: nothing raises, the subscriber reconnects and catches up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis

from keyguard.fanout import Backoff, Change, Publisher, Subscriber
from tests.private_redis import PrivateRedis

BOUND = 15.0  # every wait below ends as soon as its condition holds; this is the failure bound


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(BOUND):
        while not condition():
            await asyncio.sleep(0.01)


class Recorder:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.catch_ups = 0

    async def apply(self, change: Change) -> None:
        self.changes.append(change)

    async def catch_up(self) -> None:
        self.catch_ups += 1


def follow(redis_url: str, recorder: Recorder) -> Subscriber:
    return Subscriber(
        redis_url,
        "test:changes",
        apply=recorder.apply,
        catch_up=recorder.catch_up,
        backoff=Backoff(first=0.01, cap=0.2),
    )


def running(subscriber: Subscriber, body: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        task = asyncio.create_task(subscriber.run())
        try:
            await body()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_a_published_change_reaches_the_subscriber(private_redis: PrivateRedis) -> None:
    recorder = Recorder()
    subscriber = follow(private_redis.url, recorder)
    publisher = Publisher(private_redis.url, "test:changes")
    change = Change(frozenset({"key_one"}))

    async def body() -> None:
        await until(subscriber.connected.is_set)
        assert recorder.catch_ups == 1  # a first subscription catches up too
        assert await asyncio.to_thread(publisher.publish, change)
        await until(lambda: bool(recorder.changes))

    running(subscriber, body)
    publisher.close()
    assert recorder.changes == [change]


def test_the_subscriber_reconnects_after_redis_restarts_and_catches_up(
    private_redis: PrivateRedis,
) -> None:
    recorder = Recorder()
    subscriber = follow(private_redis.url, recorder)
    publisher = Publisher(private_redis.url, "test:changes", pause=0.0)
    after = Change(frozenset({"key_after"}))

    async def body() -> None:
        await until(subscriber.connected.is_set)
        await asyncio.to_thread(private_redis.stop)
        await until(lambda: not subscriber.connected.is_set())
        lost = Change(frozenset({"key_lost"}))
        assert not await asyncio.to_thread(publisher.publish, lost)  # refused, not raised
        await asyncio.to_thread(private_redis.start)
        await until(lambda: subscriber.connections == 2)
        assert recorder.catch_ups == 2  # the feed is asked for what was missed
        assert await asyncio.to_thread(publisher.publish, after)  # a new connection
        await until(lambda: bool(recorder.changes))

    running(subscriber, body)
    publisher.close()
    assert subscriber.disconnects == 1
    assert publisher.failures == 1
    assert recorder.changes == [after]


def test_a_publisher_pauses_after_a_failure_instead_of_waiting_on_every_commit() -> None:
    ticks = iter([0.0, 0.0, 0.5, 2.0, 2.0, 3.5, 4.5, 4.5])
    publisher = Publisher("redis://127.0.0.1:1/0", pause=1.0, monotonic=lambda: next(ticks))
    change = Change(frozenset({"key_x"}))
    assert not publisher.publish(change)  # t=0: tried, connection refused: 1 s pause
    assert not publisher.publish(change)  # t=0.5, within the pause: not even tried
    assert not publisher.publish(change)  # t=2: tried again, refused again: 2 s pause
    assert not publisher.publish(change)  # t=3.5: within the doubled pause
    assert not publisher.publish(change)  # t=4.5: tried
    assert (publisher.failures, publisher.skipped) == (3, 2)
    publisher.close()


def test_an_unreadable_message_is_ignored_and_the_subscription_goes_on(
    private_redis: PrivateRedis,
) -> None:
    recorder = Recorder()
    subscriber = follow(private_redis.url, recorder)
    raw = redis.Redis.from_url(private_redis.url)
    change = Change(frozenset({"key_fine"}))

    async def body() -> None:
        await until(subscriber.connected.is_set)
        raw.publish("test:changes", "garbage")
        raw.publish("test:changes", change.to_json())
        await until(lambda: bool(recorder.changes))

    running(subscriber, body)
    raw.close()
    assert recorder.changes == [change]
    assert subscriber.disconnects == 0
