"""Fixtures of the rotation CLI tests: the real `keyguard` command pointed at real vaults."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from keyguard.clock import system_clock
from keyguard.keys import KEY_PATTERN
from keyguard.rotation.delivery import Targets
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.verification import Verifier
from keyguard.verification.cache import SnapshotCache
from tests.conftest import TEST_PEPPER
from tests.functional.cli import Cli
from tests.unit.secrets.conftest import (  # noqa: F401 - fixtures are found by name
    Bao,
    aws_env,
    bao,
    moto_server,
    openbao_server,
)


@dataclass
class VaultCli(Cli):
    """`keyguard` with OpenBao's address and token (and moto's variables) in its environment."""

    extra: dict[str, str] = field(default_factory=dict)

    def _env(self) -> dict[str, str]:
        return {**super()._env(), **self.extra}

    def keys_printed(self) -> list[str]:
        """Every whole key that appeared in any output so far (there must be none)."""
        return [m.group(0) for text in self.transcript for m in KEY_PATTERN.finditer(text)]


@pytest.fixture
def cli(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> VaultCli:
    server = _bao(request).server
    tool = VaultCli(
        tmp_path / "data",
        database_url,
        [],
        extra={"BAO_ADDR": server.address, "BAO_TOKEN": server.root_token},
    )
    tool.run("init")
    return tool


@pytest.fixture
def vault(request: pytest.FixtureRequest) -> Targets:
    """How the tests read the consumer secrets (as any consumer with access would)."""
    connection = _bao(request).connection
    return Targets(openbao=lambda: connection, aws=lambda: boto3.client("secretsmanager"))


def _bao(request: pytest.FixtureRequest) -> Bao:
    found: Bao = request.getfixturevalue("bao")
    return found


@pytest.fixture
def openbao_address() -> str:
    return f"openbao:secret/apps/mailer-{secrets.token_hex(4)}"


@pytest.fixture
def cli_runtime(cli: VaultCli) -> Iterator[Runtime]:
    """An in-process view of the CLI's database (system clock, like the CLI)."""
    settings = Settings(data_dir=cli.data_dir, database_url=cli.database_url, pepper=TEST_PEPPER)
    built = Runtime.build(settings)
    yield built
    built.close()


def holder(runtime: Runtime, key: str | None, *, later: timedelta = timedelta(0)) -> str | None:
    """The id of the key `key` authenticates as (`later` from now; empty cache), or None."""
    if key is None:
        return None
    moment = system_clock() + later
    verifier = Verifier(
        runtime.sessions, runtime.peppers, lambda: moment, SnapshotCache(30, monotonic=lambda: 0.0)
    )
    decision = verifier.verify(key)
    return decision.key.id if decision.allowed and decision.key is not None else None
