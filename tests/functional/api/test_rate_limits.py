"""Per-key request rates over HTTP, in process and through Redis, including two server
processes that share one Redis."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from keyguard.clock import ManualClock
from keyguard.lifecycle.views import OPERATOR
from keyguard.policy.restrictions import build_restrictions
from keyguard.runtime import Runtime
from tests.conftest import create_key
from tests.functional.api.conftest import Api, StartApi
from tests.functional.api.servers import ProcessServer, free_port
from tests.services import REDIS, service_url


@pytest.fixture(params=["memory", "redis"])
def limited_api(request: pytest.FixtureRequest, start_api: StartApi) -> Api:
    if request.param == "memory":
        return start_api()
    return start_api(redis_url=service_url(REDIS))


def test_a_key_gets_its_burst_then_429_until_the_rate_refills(
    limited_api: Api, clock: ManualClock
) -> None:
    client = limited_api.client(limited_api.key("keys:read", rate_limit_per_minute=3))
    answers = [client.get("/v1/keys") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[3]
    assert refused.headers["retry-after"] == "20"
    assert refused.headers["ratelimit-limit"] == "3"
    assert refused.json()["code"] == "rate_limited"
    clock.advance(timedelta(seconds=20))
    assert client.get("/v1/keys").status_code == 200
    assert client.get("/v1/keys").status_code == 429
    assert limited_api.usage()[-1].outcome == "rate_limited"


def test_keys_without_a_rate_limit_get_no_rate_limit_headers(limited_api: Api) -> None:
    answer = limited_api.client(limited_api.key("keys:read")).get("/v1/keys")
    assert "ratelimit-limit" not in answer.headers


def test_limits_are_per_key(limited_api: Api) -> None:
    first = limited_api.client(limited_api.key("keys:read", rate_limit_per_minute=1))
    second = limited_api.client(limited_api.key("keys:read", rate_limit_per_minute=1))
    assert first.get("/v1/keys").status_code == 200
    assert first.get("/v1/keys").status_code == 429
    assert second.get("/v1/keys").status_code == 200


def test_unreachable_redis_fails_closed_by_default(start_api: StartApi) -> None:
    api = start_api(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = api.client(api.key("keys:read", rate_limit_per_minute=10))
    answer = client.get("/v1/keys")
    assert answer.status_code == 503
    assert answer.json()["code"] == "rate_limiter_unavailable"
    assert answer.headers["retry-after"] == "1"
    unlimited = api.client(api.key("keys:read"))
    assert unlimited.get("/v1/keys").status_code == 200  # no limit, nothing to check


def test_unreachable_redis_lets_requests_through_when_configured_to(start_api: StartApi) -> None:
    api = start_api(redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_fail_open=True)
    client = api.client(api.key("keys:read", rate_limit_per_minute=10))
    assert client.get("/v1/keys").status_code == 200
    assert api.runtime.limits.backend_errors == 1


@pytest.mark.slow
def test_two_processes_sharing_redis_never_allow_more_than_the_limit_together(
    runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    limit = 5
    key = create_key(
        runtime, scopes=["keys:read"], restrictions=build_restrictions(rate_limit_per_minute=limit)
    ).key.reveal()
    env = {"KEYGUARD_REDIS_URL": service_url(REDIS)}
    servers = [ProcessServer(tmp_path / "data", database_url, env=env).start() for _ in range(2)]
    try:
        for server in servers:
            server.wait_ready()
        urls = [f"{server.url}/v1/keys" for server in servers] * 15
        headers = {"Authorization": f"Bearer {key}"}
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda url: httpx.get(url, headers=headers).status_code, urls))
        elapsed = time.monotonic() - started
    finally:
        for server in servers:
            server.stop()
    assert set(statuses) <= {200, 429}
    allowed = statuses.count(200)
    # GCRA grants a burst of `limit`, then one request per 60/limit seconds: however slow
    # this machine is, both processes together can never exceed that.
    refill = int(elapsed // (60 / limit))
    assert limit <= allowed <= limit + refill, (allowed, elapsed)


def _quota_hits(api: Api) -> float:
    metrics = httpx.get(f"{api.url}/metrics").text.splitlines()
    [line] = [m for m in metrics if m.startswith('keyguard_rate_limit_hits_total{kind="quota"}')]
    return float(line.rsplit(" ", 1)[1])


def test_quota_refusals_are_counted_in_the_metrics(api: Api) -> None:
    api.runtime.mail.domains.add_domain("default", "example.org", OPERATOR.id)
    client = api.client(api.key("mail:send", daily_quota=1))
    letter = {"from": "a@example.org", "to": ["b@example.com"], "subject": "s", "text": "t"}
    assert client.post("/v1/mail/send", json=letter).status_code == 202
    assert _quota_hits(api) == 0
    for _ in range(2):
        refused = client.post("/v1/mail/send", json=letter)
        assert (refused.status_code, refused.json()["code"]) == (429, "quota_exceeded")
    assert _quota_hits(api) == 2
