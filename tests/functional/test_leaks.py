"""No raw key anywhere but the one-time display: database files, dumps, logs and CLI output."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from tests.conftest import create_key
from tests.functional.cli import Cli


def _database_bytes(database_url: str, tmp_path: Path) -> bytes:
    """Everything the database holds, as bytes: the SQLite files, or a pg_dump of the schema."""
    if database_url.startswith("sqlite"):
        db = Path(database_url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    parts = urlsplit(database_url)
    schema = unquote(parts.query).split("search_path=")[1].split("&")[0]
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is needed to inspect the PostgreSQL side of the leak test")
    dump = subprocess.run(
        ["pg_dump", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
         "-U", parts.username or "postgres", "-n", schema, parts.path.lstrip("/")],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert b"CREATE TABLE" in dump.stdout  # the dump really covers our tables
    return dump.stdout


def test_cli_scenario_leaves_no_raw_key_outside_the_one_time_display(
    tmp_path: Path, database_url: str
) -> None:
    cli = Cli(tmp_path / "data", database_url, [])
    cli.run("init")
    admin_key = (cli.data_dir / "admin.key").read_text().strip()
    displays = []
    keys = [admin_key]
    for env, scope in (("live", "mail:send"), ("test", "contacts:read"), ("dev", "lists:*")):
        result = cli.run(
            "keys", "create", "--env", env, "--scope", scope, "--allow-ip", "10.0.0.0/8", "--json"
        )
        displays.append(result.stdout)
        keys.append(json.loads(result.stdout)["key"])
    first_id = json.loads(displays[0])["id"]
    rotated = cli.run("keys", "rotate", first_id, "--grace", "1h", "--json")
    displays.append(rotated.stdout)
    keys.append(json.loads(rotated.stdout)["key"])
    cli.transcript = [t for t in cli.transcript if t not in displays]
    for key in keys[1:3]:
        cli.run("keys", "verify", "--ip", "10.1.1.1", "--json", stdin=key, check=None)
        cli.run(
            "keys", "verify", "--ip", "192.0.2.1", "--scope", "audit:read", stdin=key, check=None
        )
    cli.run("keys", "verify", stdin=keys[3][:-1] + "x", check=None)
    cli.run("keys", "revoke", first_id)
    cli.run("keys", "list", "--json")
    cli.run("audit", "export")
    stored = _database_bytes(database_url, tmp_path)
    output = "\n".join(cli.transcript)
    for key in keys:
        body = key.split("_", 2)[2]
        assert body.encode() not in stored
        assert body not in output


def test_logs_at_debug_level_never_contain_a_key(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)  # logs SQL parameters
    try:
        created = create_key(runtime, scopes=["mail:send"])
        runtime.verifier.verify(created.key.reveal(), scope="mail:send")
        runtime.verifier.verify(created.key.reveal(), scope="audit:read")
        successor = runtime.keys.rotate(OPERATOR, created.view.id, timedelta(hours=1))
        runtime.verifier.verify(successor.key.reveal())
        runtime.keys.revoke(OPERATOR, successor.view.id)
        runtime.verifier.last_used.flush(runtime.sessions)
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert "INSERT INTO api_keys" in caplog.text  # parameters were really logged
    for key in (created.key.reveal(), successor.key.reveal()):
        assert key.split("_", 2)[2] not in caplog.text
