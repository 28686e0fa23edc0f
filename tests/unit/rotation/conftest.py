"""Fixtures of the rotation tests: real OpenBao and moto servers, delivery targets, a service."""

from __future__ import annotations

import secrets

import boto3
import pytest

from keyguard.clock import ManualClock
from keyguard.rotation.delivery import Targets
from keyguard.rotation.service import RotationService
from keyguard.runtime import Runtime
from tests.unit.secrets.conftest import (  # noqa: F401 - fixtures are found by name
    Bao,
    aws_env,
    bao,
    moto_server,
    openbao_server,
)


@pytest.fixture(params=["openbao", "aws"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def targets(request: pytest.FixtureRequest, backend: str) -> Targets:
    """Targets on the one backend this test runs against (the other server is not started)."""
    if backend == "openbao":
        connection = request.getfixturevalue("bao").connection
        return Targets(openbao=lambda: connection)
    request.getfixturevalue("aws_env")
    client = boto3.session.Session().client("secretsmanager")
    return Targets(aws=lambda: client)


@pytest.fixture
def address(backend: str) -> str:
    """A fresh consumer secret on the backend under test."""
    unique = secrets.token_hex(4)
    return f"openbao:secret/apps/mailer-{unique}" if backend == "openbao" else f"aws:apps/{unique}"


@pytest.fixture
def service(runtime: Runtime, clock: ManualClock, targets: Targets) -> RotationService:
    return RotationService(runtime.sessions, runtime.keys, runtime.peppers, clock, targets)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test runs on SQLite and PostgreSQL with OpenBao, and on SQLite with AWS (moto):
    the database code does not depend on the vault, and this keeps the suite short."""
    for item in list(items):
        if "[postgres-aws]" in item.nodeid:
            items.remove(item)
