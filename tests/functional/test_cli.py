"""The CLI end to end, as a subprocess, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.functional.cli import Cli


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    cli = Cli(tmp_path / "data", database_url, [])
    cli.run("init")
    return cli


def _create(cli: Cli, *args: str) -> dict[str, str]:
    return json.loads(cli.run("keys", "create", *args, "--json").stdout)  # type: ignore[no-any-return]


def test_init_writes_a_private_admin_key_file_and_is_idempotent(cli: Cli) -> None:
    key_file = cli.data_dir / "admin.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    result = cli.run_process("init", "--if-needed")  # the console script, in a real process
    assert key_file.read_text() == first
    assert first.strip() not in result.stdout + result.stderr
    keys = json.loads(cli.run("keys", "list", "--json").stdout)["keys"]
    assert [k["name"] for k in keys] == ["admin"]


def test_create_verify_revoke_round_trip(cli: Cli) -> None:
    created = _create(cli, "--env", "test", "--scope", "mail:send", "--allow-ip", "2001:db8::/32")
    key = created["key"]
    ok = json.loads(
        cli.run(
            "keys", "verify", "--scope", "mail:send", "--ip", "2001:db8::9", "--json", stdin=key
        ).stdout
    )
    assert ok["outcome"] == "ok" and ok["valid"] is True and ok["key"]["id"] == created["id"]
    assert "digest" not in json.dumps(ok)
    denied = cli.run("keys", "verify", "--ip", "192.0.2.1", "--json", stdin=key, check=1)
    assert json.loads(denied.stdout)["outcome"] == "denied_ip"
    cli.run("keys", "revoke", created["id"], "--reason", "test")
    revoked = cli.run("keys", "verify", "--json", stdin=key, check=1)
    assert json.loads(revoked.stdout)["outcome"] == "revoked"


def test_rotate_with_out_file_prints_nothing_secret(cli: Cli, tmp_path: Path) -> None:
    created = _create(cli, "--env", "live", "--scope", "contacts:read")
    out = tmp_path / "new.key"
    result = cli.run("keys", "rotate", created["id"], "--grace", "1h", "--out", str(out), "--json")
    new_key = out.read_text().strip()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert new_key not in result.stdout
    assert "key" not in json.loads(result.stdout)
    old = json.loads(cli.run("keys", "verify", "--json", stdin=created["key"]).stdout)
    assert old["outcome"] == "ok"  # inside the grace window
    shown = json.loads(cli.run("keys", "show", created["id"], "--json").stdout)
    assert shown["state"] == "rotating"


def test_out_file_that_exists_is_not_overwritten_and_no_key_is_created(
    cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "exists.key"
    out.write_text("keep me")
    result = cli.run(
        "keys", "create", "--env", "live", "--scope", "mail:send", "--out", str(out), check=2
    )
    assert "already exists" in result.stderr
    assert out.read_text() == "keep me"
    assert len(json.loads(cli.run("keys", "list", "--json").stdout)["keys"]) == 1  # the admin key


def test_suspend_and_resume(cli: Cli) -> None:
    created = _create(cli, "--env", "dev", "--scope", "lists:read")
    cli.run("keys", "suspend", created["id"])
    assert (
        json.loads(cli.run("keys", "verify", "--json", stdin=created["key"], check=1).stdout)[
            "outcome"
        ]
        == "suspended"
    )
    cli.run("keys", "resume", created["id"])
    cli.run("keys", "verify", stdin=created["key"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--env", "live", "--scope", "mail:sned"], "unknown scope"),
        (["keys", "create", "--env", "prod", "--scope", "mail:send"], "unknown environment"),
        (
            [
                "keys",
                "create",
                "--env",
                "live",
                "--scope",
                "mail:send",
                "--allow-ip",
                "10.0.0.0/99",
            ],
            "invalid CIDR",
        ),
        (
            ["keys", "create", "--env", "live", "--scope", "mail:send", "--expires-in", "400d"],
            "cap of 365 days",
        ),
        (
            ["keys", "create", "--env", "live", "--scope", "mail:send", "--expires-in", "soon"],
            "invalid duration",
        ),
        (["keys", "show", "key_doesnotexist"], "no key"),
        (["keys", "revoke", "key_doesnotexist"], "no key"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_2(
    cli: Cli, args: list[str], message: str
) -> None:
    result = cli.run(*args, check=2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_option_is_a_usage_error_without_traceback(cli: Cli) -> None:
    result = cli.run_process("keys", "create", "--scope", "mail:send", check=2)
    assert "--env" in result.stderr
    assert "Traceback" not in result.stderr


def test_illegal_transition_is_a_usage_error(cli: Cli) -> None:
    created = _create(cli, "--env", "live", "--scope", "mail:send")
    cli.run("keys", "revoke", created["id"])
    result = cli.run("keys", "resume", created["id"], check=2)
    assert "cannot resume" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "create", "--env", "live", "--scope", "mail:send", "--expires-in", "0s"),
        ("keys", "create", "--env", "live", "--scope", "mail:send", "--expires-in", "999999w"),
        ("keys", "rotate", "{id}", "--grace", "999999w"),
    ],
)
def test_out_of_range_durations_are_one_line_errors(cli: Cli, args: tuple[str, ...]) -> None:
    created = _create(cli, "--env", "live", "--scope", "mail:send")
    result = cli.run_process(*(a.format(id=created["id"]) for a in args), check=2)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "expires_in" in result.stderr or "grace" in result.stderr
    keys = json.loads(cli.run("keys", "list", "--json").stdout)["keys"]
    assert {k["state"] for k in keys} == {"active"}
    assert len(keys) == 2  # the admin key and the one above: nothing was created


@pytest.mark.parametrize(
    ("variable", "value"),
    [("KEYGUARD_PEPPER", "short"), ("KEYGUARD_PEPPER_PREVIOUS", "no-version-separator")],
)
@pytest.mark.parametrize("command", [("keys", "list"), ("worker", "--once")])
def test_a_weak_or_malformed_pepper_is_one_line_for_every_command(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    command: tuple[str, ...],
) -> None:
    monkeypatch.setattr(cli, "_env", lambda: {**Cli._env(cli), variable: value})
    result = cli.run_process(*command, check=2)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "pepper" in result.stderr.lower()


def test_verify_reads_stdin_and_rejects_garbage_with_exit_1(cli: Cli) -> None:
    result = cli.run("keys", "verify", "--json", stdin="kg_live_notarealkey\n", check=1)
    assert json.loads(result.stdout) == {"valid": False, "outcome": "invalid_key"}
    empty = cli.run("keys", "verify", stdin="", check=2)
    assert "stdin" in empty.stderr


def test_verify_has_no_key_argument(cli: Cli) -> None:
    created = _create(cli, "--env", "live", "--scope", "mail:send")
    result = cli.run_process("keys", "verify", created["key"], check=2)
    assert created["key"] not in result.stderr + result.stdout
    assert "stdin" in result.stderr


def test_audit_verify_and_export(cli: Cli) -> None:
    created = _create(cli, "--env", "live", "--scope", "mail:send")
    cli.run("keys", "revoke", created["id"])
    report = json.loads(cli.run("audit", "verify", "--json").stdout)
    assert report["intact"] is True
    lines = cli.run("audit", "export", "--json").stdout.splitlines()
    actions = [json.loads(line)["action"] for line in lines]
    assert actions == ["tenant.created", "key.created", "key.created", "key.revoked"]


def test_audit_verify_names_the_first_bad_record(cli: Cli) -> None:
    from sqlalchemy import create_engine, text

    _create(cli, "--env", "live", "--scope", "mail:send")
    engine = create_engine(cli.database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    engine.dispose()
    result = cli.run("audit", "verify", check=1)
    assert "record 2" in result.stderr


def test_an_uninitialised_database_is_a_usage_error_without_traceback(
    tmp_path: Path, database_url: str
) -> None:
    fresh = Cli(tmp_path / "empty", database_url, [])
    for args in (("keys", "list"), ("audit", "verify")):
        result = fresh.run_process(*args, check=2)
        assert "keyguard init" in result.stderr
        assert "Traceback" not in result.stderr
