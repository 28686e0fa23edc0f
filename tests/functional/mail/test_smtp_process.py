"""`keyguard smtp` as a real process: it follows revocations made by another process, records
its keys' last use, and writes every log line as JSON."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiosmtplib
import pytest
from sqlalchemy import select

from keyguard.lifecycle.models import ApiKey
from keyguard.runtime import Runtime
from tests.conftest import create_key
from tests.functional.cli import Cli
from tests.functional.mail.conftest import READY, SmtpProcess, smtp_client
from tests.functional.mail.sinks import Certificate
from tests.functional.mail.test_submission import letter

WAIT_SECONDS = 10.0  # a bound on every wait: far under the old 30-second cache lifetime


@pytest.fixture
def cli(tmp_path: Path, database_url: str, runtime: Runtime) -> Cli:
    cli = Cli(tmp_path / "data", database_url, [])
    cli.run("domains", "add", "brand.example")
    return cli


async def auth_refused(port: int, certificate: Certificate, key: str) -> bool:
    async with smtp_client(port, certificate) as smtp:
        try:
            await smtp.login("apikey", key)
        except aiosmtplib.SMTPAuthenticationError:
            return True
    return False


async def until_refused(port: int, certificate: Certificate, key: str) -> bool:
    """Poll a new AUTH every 10 ms, for at most WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if await auth_refused(port, certificate, key):
            return True
        await asyncio.sleep(0.01)
    return False


def test_a_key_revoked_by_another_process_stops_new_and_open_smtp_sessions(
    cli: Cli, runtime: Runtime, certificate: Certificate, smtp_process: SmtpProcess
) -> None:
    created = create_key(runtime)
    key, port = created.key.reveal(), smtp_process.port

    async def scenario() -> tuple[bool, int]:
        async with smtp_client(port, certificate) as open_session:
            await open_session.login("apikey", key)
            await open_session.send_message(letter())  # the key is now in the server's cache
            await asyncio.to_thread(cli.run_process, "keys", "revoke", created.view.id)
            refused = await until_refused(port, certificate, key)
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as next_message:
                await open_session.send_message(letter())
            return refused, next_message.value.code

    refused, code = asyncio.run(scenario())
    assert refused, "a new AUTH with the revoked key was still accepted"
    assert code == 535


def test_a_key_used_only_over_smtp_gets_its_last_use_recorded(
    runtime: Runtime, certificate: Certificate, smtp_process: SmtpProcess
) -> None:
    created = create_key(runtime)

    async def submit() -> None:
        async with smtp_client(smtp_process.port, certificate) as smtp:
            await smtp.login("apikey", created.key.reveal())
            await smtp.send_message(letter())

    asyncio.run(submit())
    deadline = time.monotonic() + WAIT_SECONDS
    last_used = None
    while last_used is None and time.monotonic() < deadline:
        with runtime.sessions() as session:
            last_used = session.scalar(
                select(ApiKey.last_used_at).where(ApiKey.id == created.view.id)
            )
        time.sleep(0.05)
    assert last_used is not None


def test_every_log_line_of_keyguard_smtp_is_json(
    runtime: Runtime, certificate: Certificate, smtp_process: SmtpProcess
) -> None:
    async def failed_auth() -> None:
        assert await auth_refused(smtp_process.port, certificate, "not-a-key")

    asyncio.run(failed_auth())
    smtp_process.process.terminate()
    assert smtp_process.process.wait(timeout=30) == 0
    logs = [line for line in smtp_process.lines() if line and not READY.search(line)]
    assert logs, "keyguard smtp logged nothing"
    for line in logs:
        assert isinstance(json.loads(line), dict), line
