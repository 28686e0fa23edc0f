"""The email commands: `keyguard domains …`, `keyguard smtp` and `keyguard worker`."""

from __future__ import annotations

import asyncio
import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from keyguard.runtime import Runtime
from tests.certificates import Certificate
from tests.conftest import create_key
from tests.functional.cli import Cli
from tests.functional.mail.conftest import SmtpProcess, smtp_client
from tests.functional.mail.sinks import running_sink


@pytest.fixture
def cli(tmp_path: Path, database_url: str, runtime: Runtime) -> Cli:
    """The CLI on the runtime's (migrated) database."""
    return Cli(tmp_path / "data", database_url, [])


def test_domains_are_added_listed_and_removed(cli: Cli) -> None:
    added = json.loads(cli.run("domains", "add", "Brand.Example", "--json").stdout)
    assert added == {"tenant": "default", "domain": "Brand.Example", "added": True}
    again = json.loads(cli.run("domains", "add", "brand.example", "--json").stdout)
    assert again["added"] is False
    cli.run("domains", "add", "news.brand.example", "--tenant", "other")
    listed = json.loads(cli.run("domains", "list", "--json").stdout)
    assert listed == {"tenant": "default", "domains": ["brand.example"]}
    cli.run("domains", "remove", "brand.example")
    assert json.loads(cli.run("domains", "list", "--json").stdout)["domains"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("domains", "add", "not a domain"), "invalid domain"),
        (("domains", "remove", "never.example"), "not registered"),
        (("domains", "list", "--tenant", "nobody"), "no tenant"),
    ],
)
def test_domain_mistakes_are_one_line_with_exit_2(
    cli: Cli, args: tuple[str, ...], message: str
) -> None:
    outcome = cli.run(*args, check=2)
    assert message in outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_internal_recipients_are_managed_under_domains(cli: Cli) -> None:
    cli.run("domains", "internal", "add", "QA@brand.example")
    cli.run("domains", "internal", "add", "@staff.example")
    listed = json.loads(cli.run("domains", "internal", "list", "--json").stdout)
    assert listed["internal_recipients"] == ["@staff.example", "qa@brand.example"]
    cli.run("domains", "internal", "remove", "@staff.example")
    assert "staff" not in cli.run("domains", "internal", "list").stdout


def test_mail_submitted_to_keyguard_smtp_is_delivered_by_keyguard_worker(
    cli: Cli,
    runtime: Runtime,
    certificate: Certificate,
    smtp_process: SmtpProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli.run("domains", "add", "brand.example")
    key = create_key(runtime).key.reveal()
    port = smtp_process.port
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "news@brand.example", "a@example.com", "x"
    message.set_content("Submitted over SMTP.")

    async def submit() -> str:
        async with smtp_client(port, certificate) as smtp:
            await smtp.login("apikey", key)
            _, reply = await smtp.send_message(message)
            return reply

    assert "queued as msg_" in asyncio.run(submit())
    with running_sink() as sink:
        monkeypatch.setenv("KEYGUARD_SMTP_RELAY", sink.url)
        assert "handled 1 messages" in cli.run("worker", "--once").stdout
    [received] = sink.messages
    assert b"Submitted over SMTP." in received.data


def test_the_worker_refuses_to_start_without_a_relay(cli: Cli) -> None:
    outcome = cli.run("worker", "--once", check=2)
    assert "KEYGUARD_SMTP_RELAY" in outcome.stderr


def test_holding_mail_of_revoked_keys_is_on_by_default_and_can_be_turned_off(cli: Cli) -> None:
    shown = json.loads(cli.run("domains", "hold-revoked-mail", "--json").stdout)
    assert shown == {"tenant": "default", "hold_revoked_mail": True}
    cli.run("domains", "hold-revoked-mail", "off")
    assert "delivered" in cli.run("domains", "hold-revoked-mail").stdout
    assert "on or off" in cli.run("domains", "hold-revoked-mail", "maybe", check=2).stderr
