"""Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import httpx

from tests.functional.api.conftest import Api, StartApi
from tests.functional.api.servers import free_port
from tests.services import REDIS, service_url


def test_health_and_readiness_need_no_key(api: Api) -> None:
    assert httpx.get(f"{api.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{api.url}/readyz").json()
    assert ready == {"status": "ready", "checks": {"database": "ok", "redis": "not_configured"}}


def test_readiness_checks_redis_when_configured(start_api: StartApi) -> None:
    api = start_api(redis_url=service_url(REDIS))
    assert httpx.get(f"{api.url}/readyz").json()["checks"]["redis"] == "ok"


def test_unreachable_redis_makes_the_server_not_ready(start_api: StartApi) -> None:
    api = start_api(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    answer = httpx.get(f"{api.url}/readyz")
    assert answer.status_code == 503
    assert answer.json()["code"] == "not_ready"
    assert "redis" in answer.json()["detail"]


def test_metrics_count_outcomes_latency_limits_and_the_usage_queue(api: Api) -> None:
    api.client(api.key("keys:read")).get("/v1/keys")
    api.client("not-a-key").get("/v1/keys")
    limited = api.client(api.key("keys:read", rate_limit_per_minute=1))
    limited.get("/v1/keys")
    limited.get("/v1/keys")
    text = httpx.get(f"{api.url}/metrics").text
    assert 'keyguard_verifications_total{outcome="ok"}' in text
    assert 'keyguard_verifications_total{outcome="invalid_key"} 1.0' in text
    assert 'keyguard_rate_limit_hits_total{kind="rate"} 1.0' in text
    assert "keyguard_usage_writer_queue_depth" in text
    assert (
        'keyguard_http_request_duration_seconds_count{method="GET",route="/v1/keys",status="200"}'
        in text
    )
    assert "keyguard_verification_lookup_duration_seconds_count 2.0" in text  # two misses


def test_openapi_describes_the_security_schemes_and_problems(api: Api) -> None:
    document = httpx.get(f"{api.url}/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    operation = document["paths"]["/v1/keys/{key_id}/revoke"]["post"]
    assert operation["x-required-scope"] == "keys:write"
    assert "application/problem+json" in operation["responses"]["403"]["content"]
    assert document["paths"]["/healthz"]["get"]["security"] == []
