"""`keyguard users add|list|remove|reset` end to end against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from keyguard.mail import Message
from tests.functional.cli import Cli


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    cli = Cli(tmp_path / "data", database_url, [])
    cli.run("init")
    return cli


def test_add_prints_a_one_time_setup_link_and_lists_the_person(cli: Cli) -> None:
    added = json.loads(
        cli.run("users", "add", "ana@example.com", "--role", "owner", "--json").stdout
    )
    assert added["setup_url"].startswith("http://localhost:8080/ui/setup?token=")
    assert added["user"]["roles"] == {"default": "owner"} and added["user"]["pending_setup"]
    listed = json.loads(cli.run("users", "list", "--json").stdout)["users"]
    assert [u["email"] for u in listed] == ["ana@example.com"]
    assert added["setup_url"].split("token=")[1] not in json.dumps(listed)


def test_an_unknown_role_is_one_line_and_exit_2(cli: Cli) -> None:
    outcome = cli.run("users", "add", "ana@example.com", "--role", "root", check=2)
    assert outcome.stderr.strip().count("\n") == 0 and "unknown_role" in outcome.stderr


def test_remove_takes_the_person_out(cli: Cli) -> None:
    cli.run("users", "add", "a@example.com", "--role", "owner")
    cli.run("users", "add", "b@example.com", "--role", "viewer")
    cli.run("users", "remove", "b@example.com")
    listed = json.loads(cli.run("users", "list", "--json").stdout)["users"]
    assert [u["email"] for u in listed] == ["a@example.com"]
    assert "not_found" in cli.run("users", "remove", "b@example.com", check=2).stderr


def test_reset_gives_a_new_link_and_the_old_one_dies(cli: Cli) -> None:
    first = json.loads(cli.run("users", "add", "a@example.com", "--json").stdout)["setup_url"]
    second = json.loads(cli.run("users", "reset", "a@example.com", "--json").stdout)["setup_url"]
    assert first != second


def test_invite_mails_the_link_through_the_outbox_and_prints_no_token(cli: Cli) -> None:
    outcome = cli.run("users", "add", "ana@example.com", "--invite", "--json")
    data = json.loads(outcome.stdout)
    assert data["invited"] and "setup_url" not in data
    engine = create_engine(cli.database_url)
    with engine.connect() as connection:
        messages = connection.execute(select(Message.recipients, Message.subject)).all()
    engine.dispose()
    assert [(list(r), s) for r, s in messages] == [
        (["ana@example.com"], "Your Keyguard dashboard invitation")
    ]
