"""After a mixed HTTP scenario against the real `keyguard serve`, no raw key is in the access
logs, in any error body, or in the database; only the one-time creation answers carry keys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from keyguard.keys.format import KEY_PATTERN
from keyguard.runtime import Runtime
from tests.conftest import create_key
from tests.functional.api.conftest import Api, StartApi
from tests.functional.api.servers import ProcessServer
from tests.functional.cli import Cli


def _database_bytes(database_url: str) -> bytes:
    """Everything the database holds: the SQLite files (WAL included) or a pg_dump."""
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
    assert b"usage_events" in dump.stdout  # the dump really covers our tables
    return dump.stdout


class Scenario:
    """Drives the server and remembers every key it saw and every answer but the displays."""

    def __init__(self, url: str, admin_key: str) -> None:
        self.url = url
        self.admin_key = admin_key
        self.keys = [admin_key]
        self.answers: list[httpx.Response] = []

    def create(self, path: str, body: dict[str, object]) -> str:
        answer = httpx.post(self.url + path, json=body, headers=self._auth(self.admin_key))
        assert answer.status_code == 201, answer.text  # the one-time display: not collected
        self.keys.append(answer.json()["key"])
        return str(answer.json()["id"])

    def call(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> None:
        headers = {**kwargs.pop("headers", {}), **(self._auth(key) if key else {})}
        self.answers.append(httpx.request(method, self.url + path, headers=headers, **kwargs))

    @staticmethod
    def _auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def _run(scenario: Scenario) -> None:
    admin, call = scenario.admin_key, scenario.call
    cidr = {"scopes": ["keys:read"], "restrictions": {"allowed_cidrs": ["10.0.0.0/8"]}}
    sender = scenario.create("/v1/keys", cidr)
    rate = {"scopes": ["keys:read"], "restrictions": {"rate_limit_per_minute": 1}}
    limited = scenario.create("/v1/keys", rate)
    scenario.create(f"/v1/keys/{sender}/rotate", {"grace": "1h"})
    sender_key, limited_key, successor_key = scenario.keys[1:]
    call("GET", "/v1/keys", sender_key)  # denied_ip: the peer is 127.0.0.1
    call("GET", "/v1/keys", limited_key)
    call("GET", "/v1/keys", limited_key)  # rate limited
    call("GET", "/v1/audit", successor_key)  # denied_scope
    call("GET", "/v1/keys", limited_key[:-1] + "x")  # checksum fails
    call("GET", "/v1/keys", headers={"Authorization": f"Basic {limited_key}"})
    call("GET", "/v1/keys", params={"api_key": successor_key})  # key in the URL
    call("GET", f"/v1/keys/{successor_key}", admin)  # key pasted as an id
    call("GET", f"/v1/nowhere/{successor_key}", admin)
    call("GET", "/v1/keys", admin, headers={"User-Agent": f"bot {limited_key}"})
    call("POST", "/v1/keys/verify", admin, json={"key": sender_key, "ip": "10.1.2.3"})
    call("POST", "/v1/keys/verify", admin, json={"key": sender_key, "ip": successor_key})
    call("POST", "/v1/keys", admin, json={"scopes": ["mail:send"], "bogus": sender_key})
    call("POST", f"/v1/keys/{limited}/revoke", admin)
    call("GET", "/v1/keys", limited_key)  # revoked
    call("GET", "/v1/audit", admin)
    statuses = [a.status_code for a in scenario.answers]
    assert statuses == [
        403,
        200,
        429,
        403,
        401,
        401,
        400,
        422,
        404,
        200,
        200,
        422,
        422,
        200,
        401,
        200,
    ]


@pytest.mark.slow
def test_a_mixed_scenario_leaves_no_raw_key_behind(
    runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    admin_key = create_key(runtime, scopes=["keys:*", "audit:read"]).key.reveal()
    server = ProcessServer(tmp_path / "data", database_url).start()
    scenario = Scenario(server.url, admin_key)
    try:
        server.wait_ready()
        _run(scenario)
    finally:
        server.stop()
    logs = server.log()
    assert "Application shutdown complete" in logs  # the graceful path ran
    assert '"event": "request"' in logs  # the access log really is in this output
    stored = _database_bytes(database_url)
    bodies = "\n".join(a.text for a in scenario.answers)
    for key in scenario.keys:
        secret = key.split("_", 2)[2]
        assert secret not in logs
        assert secret.encode() not in stored
        assert secret not in bodies
    assert not KEY_PATTERN.search(logs)


def _planted_channels(api: Api, planted: str) -> list[httpx.Response]:
    """Paste `planted` into every free-text field the API stores or logs; return the answers."""
    admin = api.client(api.key())
    victim, suspended = api.key("mail:send"), api.key("mail:send")
    letter = {"from": "a@example.com", "to": ["b@example.com"], "subject": "s", "text": "t"}
    return [
        admin.post("/v1/keys", json={"scopes": ["mail:send"], "name": f"deploy {planted}"}),
        admin.post("/v1/keys", json={"scopes": ["mail:send"], "name": f"x{planted}"}),
        admin.post(f"/v1/keys/{victim.view.id}/revoke", json={"reason": f"leak:x{planted}"}),
        admin.post(f"/v1/keys/{suspended.view.id}/suspend", json={"reason": f"_{planted}"}),
        admin.post("/v1/mail/send", json=letter, headers={"Idempotency-Key": planted}),
        admin.post("/v1/mail/send", json=letter, headers={"Idempotency-Key": f"retry-{planted}"}),
        admin.get(f"/v1/templates/x{planted}"),
        admin.get("/v1/keys", params={"x": f"_{planted}"}),
        admin.get("/metrics"),
    ]


def test_a_key_pasted_into_free_text_is_stored_and_logged_nowhere(
    start_api: StartApi, database_url: str, tmp_path: Path
) -> None:
    api = start_api()
    planted = api.key("mail:send").key.reveal()
    answers = _planted_channels(api, planted)
    assert [a.status_code for a in answers] == [201, 201, 200, 200, 422, 422, 404, 400, 200]
    assert [a.json()["code"] for a in answers[4:6]] == ["invalid_idempotency_key"] * 2
    assert answers[7].json()["code"] == "key_in_query"
    names = {a.json()["name"] for a in answers[:2]}
    assert all(name.startswith(("deploy kg_live_", "xkg_live_")) for name in names), names
    assert len(api.usage()) >= len(answers) - 1  # the usage events were written
    cli = Cli(tmp_path / "cli", database_url, [])
    exported = cli.run("audit", "export").stdout
    assert "key.revoked" in exported and "key.suspended" in exported
    secret = planted.split("_", 2)[2]
    places = {
        "database": _database_bytes(database_url).decode("latin-1"),
        "access log": api.log.getvalue(),
        "audit export": exported,
        "answers": "\n".join(a.text for a in answers),
    }
    assert '"event": "request"' in places["access log"]
    leaks = [place for place, text in places.items() if secret[4:] in text]
    assert not leaks, leaks
