"""A key created in the dashboard straight into OpenBao: nobody sees it, not even the page."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from keyguard.keys import KEY_PATTERN
from keyguard.lifecycle import OPERATOR
from keyguard.rotation import Targets
from keyguard.settings import Settings
from tests.conftest import TEST_PEPPER
from tests.functional.web.conftest import Api, PeopleFactory
from tests.unit.secrets.conftest import Bao, bao, openbao_server  # noqa: F401 - fixtures


@pytest.fixture
def settings(tmp_path: Path, database_url: str, bao: Bao) -> Settings:  # noqa: F811 - the fixture
    """The server's settings, reaching the test's OpenBao (overrides tests/conftest.py's)."""
    server = bao.server
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, pepper=TEST_PEPPER,
        secrets={"openbao_addr": server.address, "openbao_token": server.root_token},
    )  # fmt: skip


def test_a_key_delivered_into_a_vault_is_shown_to_nobody(
    people: PeopleFactory,
    api: Api,
    bao: Bao,  # noqa: F811 - the fixture
) -> None:
    owner = people("owner")
    owner.sign_in()
    address = f"openbao:secret/apps/web-{secrets.token_hex(4)}"
    answer = owner.post(
        "/ui/keys/new", "/ui/keys/new", name="vaulted", scope="mail:send", deliver=address
    )
    assert answer.status_code == 200, answer.text[:1000]
    assert "Key delivered" in answer.text and KEY_PATTERN.search(answer.text) is None
    (key,) = api.runtime.keys.list(OPERATOR)
    vault = Targets(openbao=lambda: bao.connection, aws=lambda: None)  # type: ignore[arg-type,return-value]
    stored = vault.open(address).current()
    assert stored is not None and stored.reveal().startswith("kg_live_")
    assert key.id in answer.text
