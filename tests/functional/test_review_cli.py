"""`keyguard review` and `keyguard review apply` end to end, on the real clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, update

from keyguard.lifecycle import ApiKey
from tests.functional.cli import Cli


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    cli = Cli(tmp_path / "data", database_url, [])
    cli.run("init")
    return cli


def _create(cli: Cli, *args: str) -> dict[str, Any]:
    return json.loads(cli.run("keys", "create", *args, "--json").stdout)  # type: ignore[no-any-return]


def _findings(cli: Cli, *args: str) -> list[dict[str, Any]]:
    return json.loads(cli.run("review", "--format", "json", *args).stdout)["findings"]  # type: ignore[no-any-return]


def _of(findings: list[dict[str, Any]], key: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(f for f in findings if f["key_id"] == key["id"] and f["kind"] == kind)


def _outcome(cli: Cli, key: str) -> str:
    result = cli.run("keys", "verify", "--json", stdin=key, check=None)
    return str(json.loads(result.stdout)["outcome"])


def _age(database_url: str, key_id: str, days: int) -> None:
    """Make a key `days` old, as if it had been created then (the CLI runs on the real clock)."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        born = datetime.now(UTC) - timedelta(days=days)
        connection.execute(update(ApiKey).where(ApiKey.id == key_id).values(created_at=born))
    engine.dispose()


def test_an_expiring_key_rotates_with_grace_and_its_successor_is_shown_once(cli: Cli) -> None:
    key = _create(cli, "--env", "live", "--scope", "mail:send", "--expires-in", "5d")
    finding = _of(_findings(cli), key, "expiring_soon")
    applied = json.loads(cli.run("review", "apply", finding["id"], "--json").stdout)
    successor = applied["successor"]
    assert successor["parent_id"] == key["id"] and successor["scopes"] == ["mail:send"]
    assert applied["key"]["state"] == "rotating"
    assert _outcome(cli, key["key"]) == "ok"  # the old key still works in its grace
    assert _outcome(cli, successor["key"]) == "ok"
    gone = cli.run("review", "apply", finding["id"], check=2)
    assert "not_found" in gone.stderr


def test_an_unused_key_is_revoked_only_with_yes(cli: Cli, database_url: str) -> None:
    key = _create(cli, "--env", "live", "--scope", "mail:send")
    _age(database_url, key["id"], 40)
    finding = _of(_findings(cli), key, "unused_key")
    refused = cli.run("review", "apply", finding["id"], check=2)
    assert "confirmation_required" in refused.stderr
    shown = json.loads(cli.run("keys", "show", key["id"], "--json").stdout)
    assert shown["state"] == "active"
    done = cli.run("review", "apply", finding["id"], "--yes")
    assert f"{key['id']} is revoked" in done.stdout
    assert _outcome(cli, key["key"]) == "revoked"


def test_a_use_clears_the_unused_finding(cli: Cli, database_url: str) -> None:
    key = _create(cli, "--env", "live", "--scope", "mail:send")
    _age(database_url, key["id"], 40)
    finding = _of(_findings(cli), key, "unused_key")
    assert _outcome(cli, key["key"]) == "ok"  # a use: the last-used time is written
    assert finding["id"] not in {f["id"] for f in _findings(cli)}


def test_text_and_md_formats_and_the_tenant_filter(cli: Cli) -> None:
    key = _create(cli, "--env", "live", "--scope", "keys:write")
    text = cli.run("review", "--tenant", "default").stdout
    assert text.startswith("2 finding(s) on 2 active key(s) of default")  # with init's admin
    assert f"{key['id']} live  holds_keys_write" in text
    markdown = cli.run("review", "--format", "md").stdout
    assert markdown.startswith("# Access review") and f"`{key['id']}`" in markdown
    assert json.loads(cli.run("review", "--json").stdout)["tenants"] == ["default"]
    assert "unknown format" in cli.run("review", "--format", "pdf", check=2).stderr
    assert "no tenant" in cli.run("review", "--tenant", "nobody", check=2).stderr


def test_a_finding_without_a_change_is_refused(cli: Cli) -> None:
    key = _create(cli, "--env", "live", "--scope", "keys:write")
    finding = _of(_findings(cli), key, "holds_keys_write")
    refused = cli.run("review", "apply", finding["id"], check=2)
    assert "nothing_to_apply" in refused.stderr


def test_out_holds_the_successor_and_nothing_is_left_for_a_revocation(
    cli: Cli, database_url: str, tmp_path: Path
) -> None:
    expiring = _create(cli, "--env", "live", "--scope", "mail:send", "--expires-in", "5d")
    idle = _create(cli, "--env", "live", "--scope", "mail:send")
    _age(database_url, idle["id"], 40)
    findings = _findings(cli)
    out = tmp_path / "successor.key"
    cli.run("review", "apply", _of(findings, expiring, "expiring_soon")["id"], "--out", str(out))
    assert _outcome(cli, out.read_text().strip()) == "ok"
    unused = _of(findings, idle, "unused_key")["id"]
    nothing = tmp_path / "nothing.key"
    cli.run("review", "apply", unused, "--yes", "--out", str(nothing))
    assert not nothing.exists()
