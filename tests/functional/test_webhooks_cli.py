"""`keyguard webhooks`: add (the secret printed once), list, deliveries, rotate-secret, remove,
and security contacts, against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.functional.cli import Cli

URL = "https://hooks.example.com/keyguard"


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    cli = Cli(tmp_path / "data", database_url, [])
    cli.run("init")
    return cli


def test_an_endpoint_is_added_listed_rotated_and_removed(cli: Cli) -> None:
    added = json.loads(
        cli.run("webhooks", "add", URL, "-e", "key.created", "-e", "key.revoked", "--json").stdout
    )
    webhook_id, secret = added["webhook"]["id"], added["secret"]
    assert secret.startswith("whsec_")
    cli.run(
        "keys", "create", "--env", "test", "--scope", "mail:send"
    )  # queues a key.created message
    listed = json.loads(cli.run("webhooks", "list", "--json").stdout)
    assert [(w["id"], w["event_types"]) for w in listed] == [
        (webhook_id, ["key.created", "key.revoked"])
    ]
    deliveries = json.loads(cli.run("webhooks", "deliveries", webhook_id, "--json").stdout)
    assert [(d["event_type"], d["state"]) for d in deliveries] == [("key.created", "pending")]
    rotated = cli.run("webhooks", "rotate-secret", webhook_id).stdout
    assert "signing secret (shown once): whsec_" in rotated
    cli.run("webhooks", "remove", webhook_id)
    assert json.loads(cli.run("webhooks", "list", "--json").stdout) == []
    everything = "".join(cli.transcript)
    assert everything.count(secret) == 1  # printed by `add` only


def test_a_clear_text_url_is_refused(cli: Cli) -> None:
    outcome = cli.run(
        "webhooks", "add", "http://hooks.example.com/", "-e", "key.created", check=None
    )
    assert outcome.returncode != 0
    assert "invalid_webhook_url" in outcome.stderr


def test_security_contacts_are_added_listed_and_removed(cli: Cli) -> None:
    cli.run("webhooks", "contacts", "add", "SecOps@example.com")
    listed = json.loads(cli.run("webhooks", "contacts", "list", "--json").stdout)
    assert [c["email"] for c in listed] == ["secops@example.com"]
    cli.run("webhooks", "contacts", "remove", "secops@example.com")
    assert json.loads(cli.run("webhooks", "contacts", "list", "--json").stdout) == []
