"""What a node does when Redis or PostgreSQL goes away (docs/operations.md, "When a
dependency fails"), on real services: a redis-server of the test's own that is stopped and
started again, and PostgreSQL behind a TCP forwarder that the test cuts and restores.
Nothing that was accepted is lost: every answered request has its usage event."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from keyguard.usage.models import UsageEvent
from tests.conftest import create_key
from tests.functional.api.conftest import StartApi
from tests.private_redis import PrivateRedis, private_redis
from tests.tcp_forwarder import Forwarder

__all__ = ["private_redis"]  # the fixture, for the tests below
BOUND = 15.0  # failure bound of each wait below; every wait ends when its condition holds


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)  # the node is catching up; the loop ends as soon as it has


def stored(runtime: Runtime, key_id: str) -> list[int]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(UsageEvent.status).where(UsageEvent.key_id == key_id).order_by(UsageEvent.id)
            )
        )


@pytest.fixture
def forwarder(runtime: Runtime) -> Iterator[Forwarder]:
    url = runtime.engine.url
    if url.get_backend_name() != "postgresql":
        pytest.skip("the database outage is played on PostgreSQL, behind a TCP forwarder")
    forward = Forwarder(url.host or "127.0.0.1", url.port or 5432)
    yield forward
    forward.close()


def test_with_postgresql_away_cached_keys_keep_serving_and_no_usage_event_is_lost(
    runtime: Runtime, start_api: StartApi, forwarder: Forwarder
) -> None:
    forwarded = make_url(runtime.engine.url).set(host="127.0.0.1", port=forwarder.port)
    api = start_api(database_url=forwarded.render_as_string(hide_password=False))
    assert api.runtime.engine.url.port == forwarder.port
    gateway = create_key(runtime, scopes=["keys:verify"])
    target = create_key(runtime, scopes=["mail:send"])
    reader = create_key(runtime, scopes=["keys:read"])
    client, lister = api.client(gateway), api.client(reader)
    ask = {"key": target.key.reveal()}
    assert client.post("/v1/keys/verify", json=ask).json()["valid"]  # both now cached
    assert lister.get("/v1/keys").status_code == 200
    forwarder.cut()
    listing = lister.get("/v1/keys")  # the key is cached, but the route reads the database
    assert (listing.status_code, listing.json()["code"]) == (503, "database_unavailable")
    answers = [client.post("/v1/keys/verify", json=ask) for _ in range(10)]
    assert [(a.status_code, a.json()["valid"]) for a in answers] == [(200, True)] * 10
    uncached = api.client(create_key(runtime, scopes=["keys:read"]))
    refused = uncached.get("/v1/keys")
    assert (refused.status_code, refused.json()["code"]) == (503, "database_unavailable")
    assert refused.headers["retry-after"] == "1"
    assert api.runtime.usage.flush() == 0  # nowhere to write: the events wait in memory
    assert api.runtime.usage.depth() >= 11
    forwarder.restore()
    until(lambda: api.runtime.usage.flush() >= 0 and api.runtime.usage.depth() == 0, "flushed")
    assert stored(runtime, gateway.view.id) == [200] * 11
    assert len(stored(runtime, target.view.id)) == 11  # the verified key's own events
    assert stored(runtime, reader.view.id) == [200, 503]


def test_with_redis_stopped_revocations_arrive_through_the_change_feed(
    runtime: Runtime, start_api: StartApi, private_redis: PrivateRedis
) -> None:
    api = start_api(redis_url=private_redis.url)
    limited = api.client(api.key("keys:read", rate_limit_per_minute=100))
    plain_key = api.key("keys:read")
    plain = api.client(plain_key)
    assert (limited.get("/v1/keys").status_code, plain.get("/v1/keys").status_code) == (200, 200)
    private_redis.stop()
    refused = limited.get("/v1/keys")
    assert (refused.status_code, refused.json()["code"]) == (503, "rate_limiter_unavailable")
    assert plain.get("/v1/keys").status_code == 200  # no rate to check: Redis is not needed
    runtime.keys.revoke(OPERATOR, plain_key.view.id)  # another process, without Redis
    until(lambda: plain.get("/v1/keys").status_code == 401, "the change feed's fallback")
    private_redis.start()
    until(lambda: limited.get("/v1/keys").status_code == 200, "rate limits back with Redis")
    api.runtime.usage.flush()
    statuses = stored(runtime, plain_key.view.id)
    assert statuses[:2] == [200, 200] and set(statuses[2:]) <= {200, 401}
    assert statuses[-1] == 401


def test_with_redis_stopped_and_fail_open_rate_limited_keys_pass_and_are_recorded(
    runtime: Runtime, start_api: StartApi, private_redis: PrivateRedis
) -> None:
    api = start_api(redis_url=private_redis.url, redis_fail_open=True)
    key = api.key("keys:read", rate_limit_per_minute=100)
    client = api.client(key)
    assert client.get("/v1/keys").status_code == 200
    private_redis.stop()
    assert [client.get("/v1/keys").status_code for _ in range(3)] == [200] * 3
    assert api.runtime.limits.backend_errors == 3
    api.runtime.usage.flush()
    assert stored(runtime, key.view.id) == [200] * 4


def test_the_forwarder_really_cuts_the_database(runtime: Runtime, forwarder: Forwarder) -> None:
    engine = create_engine(make_url(runtime.engine.url).set(port=forwarder.port))
    try:
        with engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(UsageEvent)) == 0
            forwarder.cut()
            with pytest.raises(OperationalError):
                connection.scalar(select(1))
        with pytest.raises(OperationalError):
            engine.connect()
        forwarder.restore()
        with engine.connect() as connection:
            assert connection.scalar(select(1)) == 1
    finally:
        engine.dispose()


def test_when_the_usage_queue_is_full_uses_are_refused_and_every_event_is_kept(
    runtime: Runtime, start_api: StartApi, forwarder: Forwarder
) -> None:
    forwarded = make_url(runtime.engine.url).set(host="127.0.0.1", port=forwarder.port)
    api = start_api(
        database_url=forwarded.render_as_string(hide_password=False), usage_queue_limit=6
    )
    gateway = create_key(runtime, scopes=["keys:verify"])
    client = api.client(gateway)
    ask = {"key": create_key(runtime, scopes=["mail:send"]).key.reveal()}
    assert client.post("/v1/keys/verify", json=ask).status_code == 200
    api.runtime.usage.flush()  # an empty queue to start from
    forwarder.cut()
    statuses = [client.post("/v1/keys/verify", json=ask).status_code for _ in range(6)]
    # Each verification queues two events (the gateway's and the verified key's): the
    # queue of 6 is full after three, and the gate refuses until it drains.
    assert statuses == [200, 200, 200, 503, 503, 503]
    refused = client.post("/v1/keys/verify", json=ask)
    assert refused.json()["code"] == "usage_backlog_full"
    forwarder.restore()
    until(lambda: api.runtime.usage.flush() >= 0 and api.runtime.usage.depth() == 0, "flushed")
    assert client.post("/v1/keys/verify", json=ask).status_code == 200  # drained: served again
    api.runtime.usage.flush()
    assert stored(runtime, gateway.view.id) == [200] * 5  # every accepted use
    with runtime.sessions() as session:  # and the refusals (decided before the key was)
        refusals = session.scalars(select(UsageEvent.outcome).where(UsageEvent.status == 503))
        assert list(refusals) == ["rate_limited"] * 4
    assert api.runtime.usage.dropped == 0
