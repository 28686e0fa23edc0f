"""`keyguard incident …` and tenant-wide `keys revoke|rotate --tenant` end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.functional.cli import Cli


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    cli = Cli(tmp_path / "data", database_url, [])
    cli.run("init")
    return cli


def _json(cli: Cli, *args: str, check: int | None = 0) -> Any:
    return json.loads(cli.run(*args, "--json", check=check).stdout)


def _create(cli: Cli, *args: str) -> dict[str, Any]:
    return _json(cli, "keys", "create", *args)  # type: ignore[no-any-return]


def _outcome(cli: Cli, key: str) -> str:
    result = cli.run("keys", "verify", "--json", stdin=key, check=None)
    return str(json.loads(result.stdout)["outcome"])


def test_open_revokes_and_reissues_a_successor_shown_once(cli: Cli) -> None:
    old = _create(cli, "--env", "live", "--scope", "mail:send", "--name", "mailer",
                  "--allow-ip", "10.0.0.0/8")  # fmt: skip
    opened = _json(cli, "incident", "open", old["id"], "--reason", "in a gist", "--reissue")
    assert opened["key_id"] == old["id"] and opened["id"].startswith("inc_")
    assert opened["state"] == "open" and opened["stopped"] == [old["id"]]
    successor = opened["successor"]
    assert set(successor) == {"id", "key"}
    assert _outcome(cli, old["key"]) == "revoked"
    new = _json(cli, "keys", "show", successor["id"])
    assert (new["scopes"], new["name"], new["restrictions"], new["env"]) == (
        old["scopes"], old["name"], old["restrictions"], old["env"],
    )  # fmt: skip
    assert new["parent_id"] == old["id"]
    shown = _json(cli, "incident", "show", opened["id"])
    assert successor["key"] not in json.dumps(shown)
    assert shown["successor_id"] == successor["id"]


def test_quarantine_contain_resolve_with_notes_and_an_owner(cli: Cli) -> None:
    key = _create(cli, "--env", "live", "--scope", "mail:send")
    opened = _json(cli, "incident", "open", key["id"], "--reason", "odd", "--quarantine",
                   "--owner", "alice")  # fmt: skip
    assert opened["response"] == "quarantine" and opened["owner"] == "alice"
    assert _outcome(cli, key["key"]) == "suspended"
    incident = opened["id"]
    cli.run("incident", "note", incident, stdin="checked the CI logs")
    _json(cli, "incident", "assign", incident, "bob")
    contained = _json(cli, "incident", "contain", incident, "--note", "blocked", "--revoke")
    assert contained["state"] == "contained" and contained["response"] == "revoke"
    assert _outcome(cli, key["key"]) == "revoked"
    resolved = _json(cli, "incident", "resolve", incident, "--note", "done")
    kinds = [s["kind"] for s in resolved["timeline"]]
    assert kinds[:4] == ["opened", "owner.assigned", "key.suspended", "blast_radius"]
    assert kinds[4:] == ["note", "owner.assigned", "key.revoked", "contained", "resolved"]
    assert resolved["owner"] == "bob"
    listed = _json(cli, "incident", "list", "--state", "resolved")["incidents"]
    assert [i["id"] for i in listed] == [incident]
    again = cli.run("incident", "contain", incident, check=2)
    assert "incident_closed" in again.stderr


def test_a_reissue_into_a_missing_vault_still_revokes_and_fails_loudly(cli: Cli) -> None:
    key = _create(cli, "--env", "live", "--scope", "mail:send")
    result = cli.run("incident", "open", key["id"], "--reason", "r", "--reissue", "--deliver",
                     "openbao:secret/apps/x", "--json", check=2)  # fmt: skip
    assert json.loads(result.stdout)["successor"] is None
    assert "no successor was issued" in result.stderr
    assert _outcome(cli, key["key"]) == "revoked"


def test_open_on_an_unknown_key_is_a_usage_error(cli: Cli) -> None:
    result = cli.run("incident", "open", "key_nope", "--reason", "r", check=2)
    assert "not_found" in result.stderr


def test_tenant_wide_dry_run_lists_and_changes_nothing(cli: Cli) -> None:
    test_key = _create(cli, "--env", "test", "--scope", "mail:send")
    live_key = _create(cli, "--env", "live", "--scope", "contacts:read")
    plan = _json(cli, "keys", "revoke", "--tenant", "default", "--env", "test", "--dry-run")
    assert plan["dry_run"] is True
    assert [k["id"] for k in plan["keys"]] == [test_key["id"]]
    assert _outcome(cli, test_key["key"]) == "ok"
    text = cli.run("keys", "revoke", "--tenant", "default", "--scope", "contacts:read",
                   "--dry-run").stdout  # fmt: skip
    # `init`'s admin key holds every scope, so it is listed too: the listing says so first.
    assert live_key["id"] in text and "would revoke 2 key(s)" in text


def test_tenant_wide_revoke_asks_then_revokes_everything_listed(cli: Cli) -> None:
    first = _create(cli, "--env", "test", "--scope", "mail:send")
    second = _create(cli, "--env", "test", "--scope", "lists:read")
    refused = cli.run("keys", "revoke", "--tenant", "default", "--env", "test", stdin="n\n",
                      check=1)  # fmt: skip
    assert first["id"] in refused.stderr
    assert _outcome(cli, first["key"]) == "ok"
    done = _json(cli, "keys", "revoke", "--tenant", "default", "--env", "test", "--yes")
    assert sorted(k["id"] for k in done["keys"]) == sorted([first["id"], second["id"]])
    assert (_outcome(cli, first["key"]), _outcome(cli, second["key"])) == ("revoked", "revoked")


def test_tenant_wide_revoke_in_json_needs_yes(cli: Cli) -> None:
    _create(cli, "--env", "test", "--scope", "mail:send")
    result = cli.run("keys", "revoke", "--tenant", "default", "--all", "--json", check=2)
    assert "--yes" in result.stderr


def test_tenant_wide_rotate_dry_run_then_rotate(cli: Cli) -> None:
    key = _create(cli, "--env", "dev", "--scope", "mail:send")
    plan = _json(cli, "keys", "rotate", "--tenant", "default", "--env", "dev", "--dry-run")
    assert [(k["id"], k["action"]) for k in plan["keys"]] == [(key["id"], "rotate_handed_out")]
    done = _json(cli, "keys", "rotate", "--tenant", "default", "--env", "dev", "--yes",
                 "--grace", "1h")  # fmt: skip
    (rotated,) = done["keys"]
    assert _outcome(cli, rotated["successor_key"]) == "ok"
    assert _json(cli, "keys", "show", key["id"])["state"] == "rotating"


def test_a_key_id_and_tenant_exclude_each_other(cli: Cli) -> None:
    key = _create(cli, "--env", "dev", "--scope", "mail:send")
    cli.run("keys", "revoke", key["id"], "--tenant", "default", check=2)
    cli.run("keys", "revoke", check=2)
    result = cli.run("keys", "revoke", "--tenant", "default", "--dry-run", check=2)
    assert "selector_required" in result.stderr


def test_tables_never_cut_an_id_however_wide_the_other_columns(cli: Cli) -> None:
    # `init`'s admin key holds every scope: the widest scopes cell there is. A person copies
    # ids from these tables into the next command, so the ids stay whole and the rest gives.
    scopes = ["mail:send", "contacts:read", "contacts:write", "lists:read", "templates:write"]
    many = [arg for scope in scopes for arg in ("--scope", scope)]
    keys = [_create(cli, "--env", "test", "--name", "a-rather-long-key-name", *many)["id"]
            for _ in range(2)]  # fmt: skip
    listed = [k["id"] for k in _json(cli, "keys", "list")["keys"]]
    text = cli.run("keys", "list").stdout
    assert all(key_id in text for key_id in listed)
    plan = cli.run("keys", "revoke", "--tenant", "default", "--env", "test", "--dry-run").stdout
    assert all(key_id in plan for key_id in keys)
    opened = _json(cli, "incident", "open", keys[0], "--reason", "leaked in a gist")
    table = cli.run("incident", "list").stdout
    assert opened["id"] in table and keys[0] in table
