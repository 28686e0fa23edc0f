"""Fixtures of the client tests: one real `keyguard serve` process per module, and keys for it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from keyguard_client import Keyguard

from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant
from keyguard.lifecycle.views import OPERATOR, CreatedKey
from keyguard.policy.restrictions import build_restrictions
from keyguard.policy.scopes import ALL_SCOPES
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.storage import migrate
from tests.conftest import TEST_PEPPER, create_key
from tests.functional.api.servers import ProcessServer
from tests.unit.incidents.github_keys import Signer, publish
from tests.unit.secrets.conftest import (  # noqa: F401 - fixtures are found by name
    aws_env,
    bao,
    moto_server,
    openbao_server,
)

SENDER_DOMAIN = "brand.example"


@dataclass
class Served:
    """A `keyguard serve` process, a Runtime on its database to make keys with, and the
    GitHub-like signer whose public key the server trusts for /v1/leaks/github."""

    server: ProcessServer
    runtime: Runtime
    github: Signer

    @property
    def url(self) -> str:
        return self.server.url

    def key(self, *scopes: str, env: str = "test", **restrictions: object) -> CreatedKey:
        return create_key(
            self.runtime,
            env=env,
            scopes=list(scopes or ALL_SCOPES),
            restrictions=build_restrictions(**restrictions),  # type: ignore[arg-type]
        )

    def client(self, *scopes: str, env: str = "test", **options: object) -> Keyguard:
        created = self.key(*scopes, env=env)
        return Keyguard(created.key.reveal(), base_url=self.url, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Started once per module: a process takes a second or two to import and bind."""
    root = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{root / 'keyguard.db'}"
    runtime = Runtime.build(Settings(data_dir=root / "data", database_url=url, pepper=TEST_PEPPER))
    migrate.upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        ensure_tenant(session, runtime.clock, DEFAULT_TENANT, OPERATOR.id)
    runtime.mail.domains.add_domain(DEFAULT_TENANT, SENDER_DOMAIN, OPERATOR.id)
    github = Signer("github-key-1")
    env = {
        # Usage events reach the database in batches; a short interval keeps usage tests quick.
        "KEYGUARD_USAGE_FLUSH_SECONDS": "0.05",
        "KEYGUARD_GITHUB_KEYS_FILE": str(publish(root / "github-keys.json", github)),
    }
    server = ProcessServer(root / "data", url, env=env).start()
    try:
        server.wait_ready()
        yield Served(server, runtime, github)
    finally:
        server.stop()
        runtime.close()


@pytest.fixture
def admin(served: Served) -> Iterator[Keyguard]:
    """A client holding a test key with every scope."""
    with served.client() as client:
        yield client


def message(**overrides: object) -> dict[str, object]:
    """A message of the sending shape (PRODUCT.md) that the served tenant may send."""
    return {
        "from": f"news@{SENDER_DOMAIN}",
        "to": ["a@example.com"],
        "subject": "Hello",
        "text": "Hi!",
        **overrides,
    }


def private_file(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path
