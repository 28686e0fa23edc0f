"""Fixtures of the secrets tests: real OpenBao and moto servers, a local wrapper, a database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from keyguard.secrets.local import LocalKeyWrapper
from keyguard.secrets.models import StoredSecret
from keyguard.secrets.openbao import OpenBaoConnection, OpenBaoSecretProvider, TransitKeyWrapper
from keyguard.storage.base import Base
from tests.unit.secrets.servers import (
    MotoServer,
    OpenBaoServer,
    moto_server_fixture,
    openbao_server_fixture,
)

openbao_server = pytest.fixture(scope="session")(openbao_server_fixture)
moto_server = pytest.fixture(scope="session")(moto_server_fixture)


@dataclass
class Bao:
    """One test's corner of the shared OpenBao server: its own KV prefix and Transit key."""

    server: OpenBaoServer
    connection: OpenBaoConnection
    provider: OpenBaoSecretProvider
    wrapper: TransitKeyWrapper

    def admin(self) -> Any:
        return self.server.admin()

    def rotate_transit_key(self) -> None:
        self.admin().secrets.transit.rotate_key(name=self.wrapper.key)


@pytest.fixture
def bao(openbao_server: OpenBaoServer) -> Bao:
    unique = "t" + secrets.token_hex(4)
    connection = openbao_server.connection()
    wrapper = TransitKeyWrapper(connection, key=unique, batch_size=100)
    wrapper.ensure_key()
    provider = OpenBaoSecretProvider(connection, prefix=f"keyguard-tests/{unique}")
    return Bao(openbao_server, connection, provider, wrapper)


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(variable, raising=False)
    env = moto_server.env()
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    return env


@pytest.fixture
def local_wrapper(tmp_path: Path) -> LocalKeyWrapper:
    return LocalKeyWrapper.open(tmp_path / "master.key", create=True)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on a fresh database holding the stored_secrets table."""
    engine = create_engine(database_url)
    Base.metadata.create_all(engine, tables=[StoredSecret.__table__])  # type: ignore[list-item]
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()
