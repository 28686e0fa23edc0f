"""Fixtures of the end-to-end email tests (the unit tests' fixtures, plus certificates)."""

from __future__ import annotations

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

from tests.certificates import Certificate, make_certificate
from tests.conftest import TEST_PEPPER
from tests.functional.cli import Cli
from tests.unit.mail.conftest import mail, make_caller  # noqa: F401 - shared fixtures


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


# `keyguard smtp` as a real process: its ready line names the port when --port 0 is given.
READY = re.compile(r"listening on port (\d+)")


@dataclass
class SmtpProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()


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
        assert process.wait(timeout=30) == 0  # SIGTERM is a clean shutdown


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
