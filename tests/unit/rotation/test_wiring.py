"""The runtime builds one rotation service per process, configured from the settings, whose
outcomes reach /metrics (a service built per command would count into nothing)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keyguard.api.app import create_app
from keyguard.clock import ManualClock
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.storage import migrate
from tests.conftest import TEST_PEPPER
from tests.unit.secrets.conftest import Bao


@pytest.fixture
def vault_runtime(tmp_path: Path, clock: ManualClock, bao: Bao) -> Iterator[Runtime]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'keyguard.db'}",
        pepper=TEST_PEPPER,
        secrets={  # type: ignore[arg-type]  # validated into SecretsSettings
            "openbao_addr": bao.server.address,
            "openbao_token": bao.server.root_token,
        },
    )
    runtime = Runtime.build(settings, clock, monotonic=clock.monotonic)
    migrate.upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        ensure_tenant(session, clock, DEFAULT_TENANT, OPERATOR.id)
    yield runtime
    runtime.close()


def test_the_runtimes_rotation_service_delivers_and_its_outcomes_reach_metrics(
    vault_runtime: Runtime,
) -> None:
    target = f"openbao:secret/apps/mailer-{secrets.token_hex(4)}"
    spec = KeySpec(tenant_id=DEFAULT_TENANT, env="live", scopes=["mail:send"])
    vault_runtime.rotation.create_delivered(OPERATOR, spec, target)
    assert vault_runtime.scheduler.service is vault_runtime.rotation

    async def scrape() -> str:
        transport = httpx.ASGITransport(app=create_app(vault_runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get("/metrics")).text

    text = asyncio.run(scrape())
    assert 'keyguard_rotation_outcomes_total{outcome="delivered"} 1.0' in text
