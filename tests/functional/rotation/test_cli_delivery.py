"""`keyguard keys create|rotate --deliver`: keys go into vaults and are never printed."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

import pytest
from keyguard_client import load_key

from keyguard.clock import system_clock
from keyguard.lifecycle.models import ApiKey
from keyguard.rotation.delivery import Targets
from keyguard.runtime import Runtime
from tests.functional.rotation.conftest import VaultCli, holder


def _json(outcome_stdout: str) -> dict[str, Any]:
    return json.loads(outcome_stdout)  # type: ignore[no-any-return]


def _create_delivered(cli: VaultCli, address: str, *options: str) -> dict[str, Any]:
    """`keys create --deliver address --json` for a live mail:send key, its JSON answer."""
    return _json(
        cli.run(
            "keys", "create", "--env", "live", "--scope", "mail:send",
            "--deliver", address, *options, "--json",
        ).stdout
    )  # fmt: skip


def _current(vault: Targets, address: str) -> str | None:
    value = vault.open(address).current()
    return value.reveal() if value is not None else None


def test_create_and_rotate_deliver_into_openbao_without_printing_a_key(
    cli: VaultCli, cli_runtime: Runtime, vault: Targets, openbao_address: str
) -> None:
    created = _create_delivered(cli, openbao_address)
    assert "key" not in created and created["delivered_to"] == openbao_address
    delivered = _current(vault, openbao_address)
    assert holder(cli_runtime, delivered) == created["id"]
    # A delivered key rotates into its vault by default, and the text output is checked too.
    cli.run("keys", "rotate", created["id"], "--grace", "1h")
    successor = _current(vault, openbao_address)
    assert successor != delivered
    assert holder(cli_runtime, successor) not in {None, created["id"]}
    assert holder(cli_runtime, delivered) == created["id"]  # in its grace window
    assert cli.keys_printed() == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_console_script_prints_no_key_when_delivering(
    cli: VaultCli, vault: Targets, openbao_address: str
) -> None:
    outcome = cli.run_process(
        "keys", "create", "--env", "test", "--scope", "mail:send", "--deliver", openbao_address
    )
    assert "was not shown" in outcome.stdout
    key = _current(vault, openbao_address)
    assert key is not None and key not in outcome.stdout + outcome.stderr
    assert cli.keys_printed() == []


def test_delivery_into_aws_is_read_by_the_client(
    cli: VaultCli, cli_runtime: Runtime, aws_env: dict[str, str]
) -> None:
    cli.extra.update(aws_env)
    secret_id = f"apps/mailer-{secrets.token_hex(4)}"
    created = _create_delivered(cli, f"aws:{secret_id}")
    consumer = load_key(f"aws:{secret_id}")
    assert holder(cli_runtime, consumer.reveal()) == created["id"]
    rotated = _json(cli.run("keys", "rotate", created["id"], "--json").stdout)
    assert rotated["replaced"]["id"] == created["id"]
    assert consumer.refresh() is True
    assert holder(cli_runtime, consumer.reveal()) == rotated["id"]
    assert cli.keys_printed() == []


def test_due_keys_are_rotated_by_keys_rotate_due(
    cli: VaultCli, cli_runtime: Runtime, vault: Targets, openbao_address: str
) -> None:
    created = _create_delivered(cli, openbao_address, "--rotate-every", "30d")
    assert _json(cli.run("keys", "rotate", "--due", "--json").stdout)["rotated"] == []
    with cli_runtime.sessions.begin() as session:  # the key is now 31 days old
        row = session.get(ApiKey, created["id"])
        assert row is not None
        row.created_at = system_clock() - timedelta(days=31)
    report = _json(cli.run("keys", "rotate", "--due", "--json").stdout)
    [rotated] = report["rotated"]
    assert rotated["replaced"]["id"] == created["id"]
    assert holder(cli_runtime, _current(vault, openbao_address)) == rotated["id"]
    assert cli.keys_printed() == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--deliver", "openbao:secret/x", "--out", "k.txt"), "exclude each other"),
        (("--rotate-every", "30d"), "needs --deliver"),
        (("--deliver", "vault:secret/x"), "invalid delivery target"),
    ],
)
def test_delivery_options_are_checked(cli: VaultCli, args: tuple[str, ...], message: str) -> None:
    outcome = cli.run("keys", "create", "--env", "live", "--scope", "mail:send", *args, check=2)
    assert message in outcome.stderr
