"""SIGKILL a real `keyguard keys rotate --deliver` at each step: an old or a new key is always
valid, the vault always holds a valid key, and reconciliation finishes or undoes the rotation."""

from __future__ import annotations

import json
import secrets
import signal
from datetime import timedelta

import pytest
from sqlalchemy import select

from keyguard.lifecycle.models import ApiKey
from keyguard.rotation.delivery import Targets
from keyguard.rotation.service import FAILPOINT_VARIABLE, STEPS
from keyguard.runtime import Runtime
from tests.functional.rotation.conftest import VaultCli, holder

ROLLED_BACK = {"opened", "staged"}  # killed before the new key was committed
# Every step but the last (after it, the rotation is simply done) on OpenBao and SQLite; the
# point of no return on PostgreSQL; AWS on each side of it.
CASES = [
    *[("openbao", step, "sqlite") for step in STEPS if step != "finished"],
    ("openbao", "committed", "postgres"),
    ("aws", "staged", "sqlite"),
    ("aws", "committed", "sqlite"),
]


def _address(request: pytest.FixtureRequest, cli: VaultCli, backend: str) -> str:
    if backend == "openbao":
        return f"openbao:secret/apps/crash-{secrets.token_hex(4)}"
    cli.extra.update(request.getfixturevalue("aws_env"))
    return f"aws:apps/crash-{secrets.token_hex(4)}"


def _current(vault: Targets, address: str) -> str | None:
    value = vault.open(address).current()
    return value.reveal() if value is not None else None


def _successors(runtime: Runtime, key_id: str) -> list[ApiKey]:
    with runtime.sessions() as session:
        return list(session.scalars(select(ApiKey).where(ApiKey.parent_id == key_id)))


@pytest.mark.parametrize(("backend", "step", "database_url"), CASES, indirect=["database_url"])
def test_a_rotation_killed_at_any_step_never_leaves_neither_key_valid(
    request: pytest.FixtureRequest,
    *,
    cli: VaultCli,
    cli_runtime: Runtime,
    vault: Targets,
    backend: str,
    step: str,
) -> None:
    address = _address(request, cli, backend)
    created = json.loads(
        cli.run(
            "keys", "create", "--env", "live", "--scope", "mail:send",
            "--deliver", address, "--json",
        ).stdout
    )  # fmt: skip
    old_key = _current(vault, address)

    cli.extra[FAILPOINT_VARIABLE] = step
    killed = cli.run_process("keys", "rotate", created["id"], "--grace", "1h", check=None)
    del cli.extra[FAILPOINT_VARIABLE]
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    # Right after the kill, and even once the old key's grace would be over, the vault's
    # current key is valid: the grace window starts only after the vault holds the successor.
    in_vault = _current(vault, address)
    assert holder(cli_runtime, in_vault) is not None
    assert holder(cli_runtime, in_vault, later=timedelta(hours=2)) is not None
    # The old key too is still valid right after the kill (its grace, if begun, lasts 1h), and
    # the vault holds either it or a successor committed by this rotation, nothing else.
    assert holder(cli_runtime, old_key) == created["id"]
    ours = {created["id"], *(s.id for s in _successors(cli_runtime, created["id"]))}
    assert holder(cli_runtime, in_vault) in ours

    if step == "committed":  # the interrupted rotation still holds the vault
        busy = cli.run("keys", "rotate", created["id"], check=2)
        assert "already in progress" in busy.stderr

    outcome = json.loads(cli.run("keys", "rotate", "--reconcile", "--take-over", "--json").stdout)
    in_vault = _current(vault, address)
    successors = _successors(cli_runtime, created["id"])
    if step in ROLLED_BACK:
        assert [r["outcome"] for r in outcome["reconciled"]] == ["rolled_back"]
        assert in_vault == old_key and holder(cli_runtime, old_key) == created["id"]
        assert successors == []
    else:
        assert [r["outcome"] for r in outcome["reconciled"]] == ["completed"]
        [successor] = successors
        assert holder(cli_runtime, in_vault) == successor.id
        with cli_runtime.sessions() as session:
            old = session.get(ApiKey, created["id"])
            assert old is not None and old.state == "rotating"
    assert cli.keys_printed() == []
