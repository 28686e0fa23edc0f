"""`keyguard smtp` as a real process: it follows revocations made by another process, records
its keys' last use, and writes every log line as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
import pytest
from sqlalchemy import select

from keyguard.lifecycle.models import ApiKey
from keyguard.runtime import Runtime
from tests.conftest import TEST_PEPPER, create_key
from tests.functional.cli import Cli
from tests.functional.mail.sinks import Certificate
from tests.functional.mail.test_submission import letter

READY = re.compile(r"listening on port (\d+)")
WAIT_SECONDS = 10.0  # a bound on every wait: far under the old 30-second cache lifetime


@dataclass
class SmtpProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()


@pytest.fixture
def cli(tmp_path: Path, database_url: str, runtime: Runtime) -> Cli:
    cli = Cli(tmp_path / "data", database_url, [])
    cli.run("domains", "add", "brand.example")
    return cli


@pytest.fixture
def smtp_process(
    cli: Cli, certificate: Certificate, database_url: str, tmp_path: Path
) -> Iterator[SmtpProcess]:
    """`keyguard smtp --port 0` with STARTTLS; its output goes to a file (a pipe nobody reads
    could fill up and stall it)."""
    env = {
        **os.environ,
        "KEYGUARD_DATA_DIR": str(cli.data_dir),
        "KEYGUARD_DATABASE_URL": database_url,
        "KEYGUARD_PEPPER": TEST_PEPPER,
        "KEYGUARD_SMTP_TLS_CERT_FILE": str(certificate.cert),
        "KEYGUARD_SMTP_TLS_KEY_FILE": str(certificate.key),
        "KEYGUARD_LAST_USED_FLUSH_SECONDS": "0.2",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "smtp.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "keyguard", "smtp", "--port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        port = _wait_for_port(process, log)
        yield SmtpProcess(process, port, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_for_port(process: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if match := READY.search(log.read_text()):
            return int(match.group(1))
        assert process.poll() is None, log.read_text()
        time.sleep(0.05)
    raise AssertionError("keyguard smtp did not start")


def smtp_client(port: int, certificate: Certificate) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port,
        start_tls=True,
        tls_context=certificate.client_context(),
        timeout=30,
    )


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
