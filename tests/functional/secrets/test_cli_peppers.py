"""`keyguard secrets rotate-pepper [--rehash]` and `secrets peppers`, end to end: a key verifies
under v1, is used once, is then stored under v2, and v1 is retired once no live key uses it."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_PEPPER
from tests.functional.rotation.conftest import VaultCli
from tests.unit.secrets.conftest import Bao


def _json(text: str) -> dict[str, Any]:
    return json.loads(text)  # type: ignore[no-any-return]


def _versions(cli: VaultCli) -> dict[str, tuple[int, int, bool]]:
    listed = _json(cli.run("secrets", "peppers", "--json").stdout)["versions"]
    return {v["label"]: (v["live_keys"], v["dead_keys"], v["in_provider"]) for v in listed}


@pytest.fixture
def file_cli(tmp_path: Path, database_url: str) -> VaultCli:
    directory = tmp_path / "secrets"
    directory.mkdir(mode=0o700)
    backend = {"KEYGUARD_SECRETS_BACKEND": "file", "KEYGUARD_SECRETS_DIR": str(directory)}
    return VaultCli(tmp_path / "data", database_url, [], extra=backend)


def test_a_used_key_moves_to_the_new_pepper_and_the_old_version_retires(file_cli: VaultCli) -> None:
    cli = file_cli
    assert _json(cli.run("secrets", "rotate-pepper", "--json").stdout)["label"] == "v1"
    cli.run("init")  # its admin key is hashed under v1 too
    key = _json(cli.run("keys", "create", "--env", "live", "--scope", "mail:send", "--json").stdout)
    assert _json(cli.run("secrets", "rotate-pepper", "--json").stdout)["label"] == "v2"
    assert _versions(cli) == {"v1": (2, 0, True), "v2": (0, 0, True)}

    cli.run("keys", "verify", stdin=key["key"])  # used once: re-hashed when the command exits
    assert _versions(cli) == {"v1": (1, 0, True), "v2": (1, 0, True)}

    report = _json(cli.run("secrets", "rotate-pepper", "--rehash", "--json").stdout)
    assert (report["remaining"], report["retired"]) == (1, [])  # the unused admin key
    admin = next(k for k in _json(cli.run("keys", "list", "--json").stdout)["keys"] if k["name"])
    cli.run("keys", "revoke", admin["id"])
    report = _json(cli.run("secrets", "rotate-pepper", "--rehash", "--json").stdout)
    assert (report["remaining"], report["retired"]) == (0, ["v1"])

    assert _versions(cli) == {"v2": (1, 0, True), "v1": (0, 1, False)}
    cli.run("keys", "verify", stdin=key["key"])  # v1 is gone from the provider: still valid


def test_the_env_backend_explains_how_to_rotate_and_prints_no_pepper(
    tmp_path: Path, database_url: str
) -> None:
    cli = VaultCli(tmp_path / "data", database_url, [])
    text = cli.run("secrets", "rotate-pepper", check=2)
    assert "read-only" in text.stderr and "KEYGUARD_PEPPER_PREVIOUS" in text.stderr
    answer = _json(cli.run("secrets", "rotate-pepper", "--json", check=2).stdout)
    assert answer["rotated"] is False and len(answer["instructions"]) == 5
    assert all(TEST_PEPPER not in out for out in cli.transcript)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rehash_reads_delivered_keys_back_from_their_vault(
    bao: Bao, tmp_path: Path, database_url: str
) -> None:
    cli = VaultCli(
        tmp_path / "data",
        database_url,
        [],
        extra={
            "KEYGUARD_SECRETS_BACKEND": "openbao",
            "KEYGUARD_OPENBAO_KV_PREFIX": f"keyguard-tests/{secrets.token_hex(4)}",
            "BAO_ADDR": bao.server.address,
            "BAO_TOKEN": bao.server.root_token,
        },
    )
    cli.run("secrets", "rotate-pepper")
    cli.run("init")
    address = f"openbao:secret/apps/pepper-{secrets.token_hex(4)}"
    cli.run("keys", "create", "--env", "live", "--scope", "mail:send", "--deliver", address)
    cli.run("secrets", "rotate-pepper")
    report = _json(cli.run("secrets", "rotate-pepper", "--rehash", "--json").stdout)
    assert (report["rehashed"], report["remaining"]) == (1, 1)  # the admin key was not delivered
    assert {v["label"]: v["live_keys"] for v in report["versions"]} == {"v1": 1, "v2": 1}
    assert cli.keys_printed() == []
