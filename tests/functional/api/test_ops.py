"""Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from keyguard.secrets import OpenBaoSecretProvider, SecretsSettings, format_pepper
from tests.functional.api.conftest import Api, StartApi
from tests.functional.api.servers import free_port
from tests.services import OPENBAO, REDIS, service_url
from tests.unit.secrets.servers import start_openbao


def test_health_and_readiness_need_no_key(api: Api) -> None:
    assert httpx.get(f"{api.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{api.url}/readyz").json()
    assert ready == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "not_configured", "secrets": "ok"},
    }


def test_readiness_checks_redis_when_configured(start_api: StartApi) -> None:
    api = start_api(redis_url=service_url(REDIS))
    assert httpx.get(f"{api.url}/readyz").json()["checks"]["redis"] == "ok"


def test_unreachable_redis_makes_the_server_not_ready(start_api: StartApi) -> None:
    api = start_api(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    answer = httpx.get(f"{api.url}/readyz")
    assert answer.status_code == 503
    assert answer.json()["code"] == "not_ready"
    assert "redis" in answer.json()["detail"]
    assert answer.json()["checks"] == {
        "database": "ok",
        "redis": "unavailable",
        "secrets": "ok",
    }
    assert "redis://" not in answer.text and answer.headers["Retry-After"] == "5"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_vault_that_stops_makes_the_server_not_ready_without_leaking_it(
    start_api: StartApi, tmp_path: Path
) -> None:
    service_url(OPENBAO)
    server = start_openbao(tmp_path)  # its own server: this test stops it
    try:
        secrets = SecretsSettings(
            backend="openbao", openbao_addr=server.address, openbao_token=server.root_token
        )
        provider = OpenBaoSecretProvider(server.connection())
        provider.put("pepper", format_pepper("v1", "f" * 8 + "0123456789abcdef" * 3))
        api = start_api(secrets=secrets)  # the pepper ring comes from OpenBao
        assert httpx.get(f"{api.url}/readyz").json()["checks"]["secrets"] == "ok"
        api = start_api(secrets=secrets)  # a fresh app: its probe has no cached answer
    finally:
        server.stop()
    answer = httpx.get(f"{api.url}/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["secrets"] == "unavailable"
    assert answer.json()["detail"] == "not ready: secrets unavailable"
    assert server.address not in answer.text and server.root_token not in answer.text
    assert httpx.get(f"{api.url}/healthz").status_code == 200  # alive, only not ready


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
