"""SIGTERM is a graceful stop: each long-running process stops accepting, finishes what it had
accepted, and writes every usage event and last-used time before it exits (real processes on
loopback, on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from keyguard.lifecycle import DEFAULT_TENANT, OPERATOR, ApiKey, KeySpec, ensure_tenant
from keyguard.lifecycle.views import CreatedKey
from keyguard.mail.models import Message
from keyguard.mail.schemas import BatchIn
from keyguard.mail.usage import Caller
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.storage import migrate
from keyguard.usage.models import UsageEvent
from keyguard.verification import Allowed
from tests.conftest import TEST_PEPPER
from tests.functional.api.servers import ProcessServer
from tests.functional.mail.sinks import free_port

DEADLINE = 60.0  # seconds any one wait may take before the test fails


@pytest.fixture
def node(settings: Settings) -> Iterator[Runtime]:
    """The database the processes share, migrated; keys made on the system clock like theirs."""
    runtime = Runtime.build(settings)
    migrate.upgrade(runtime.engine)
    with runtime.sessions.begin() as session:
        ensure_tenant(session, runtime.clock, DEFAULT_TENANT, OPERATOR.id)
    yield runtime
    runtime.close()


def _key(runtime: Runtime, *scopes: str) -> CreatedKey:
    spec = KeySpec(tenant_id=DEFAULT_TENANT, env="live", scopes=list(scopes))
    return runtime.keys.create(OPERATOR, spec)


def _events(runtime: Runtime, key_id: str) -> int:
    with runtime.sessions() as session:
        query = select(func.count()).select_from(UsageEvent).where(UsageEvent.key_id == key_id)
        return int(session.scalar(query) or 0)


def _last_used(runtime: Runtime, key_id: str) -> object:
    with runtime.sessions() as session:
        return session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))


def _wait_for_line(path: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    """Until `text` appears in the process's output (it is what the process does next)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.02)  # reading a log file: nothing to block on
    pytest.fail(f"{text!r} not in the output:\n{path.read_text(errors='replace')}")


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_serve_drains_a_request_in_flight_at_sigterm_and_writes_its_usage(
    node: Runtime, settings: Settings, tmp_path: Path
) -> None:
    caller, presented = _key(node, "keys:verify"), _key(node, "mail:send")
    server = ProcessServer(tmp_path / "data", settings.database_url).start()
    server.wait_ready()
    assert server.process is not None and server.output is not None
    body = json.dumps({"key": presented.key.reveal()}).encode()
    head = (
        "POST /v1/keys/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {caller.key.reveal()}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as sock:
        sock.sendall(head + body[:10])  # accepted: the app is reading its body
        server.process.send_signal(signal.SIGTERM)
        _wait_for_line(server.output, "Waiting for connections to close", server.process)
        assert _refused(server.port)  # no new connections while draining
        sock.sendall(body[10:])
        answer = _read_http(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert server.process.wait(timeout=DEADLINE) == 0
    assert _events(node, caller.view.id) == 1  # written on the way out
    assert _last_used(node, caller.view.id) is not None


def test_serve_writes_every_usage_event_of_requests_answered_just_before_sigterm(
    node: Runtime, settings: Settings, tmp_path: Path
) -> None:
    caller = _key(node, "keys:read")
    # A long flush interval: what reaches the database got there on the way out.
    env = {"KEYGUARD_USAGE_FLUSH_SECONDS": "300", "KEYGUARD_LAST_USED_FLUSH_SECONDS": "300"}
    server = ProcessServer(tmp_path / "data", settings.database_url, env=env).start()
    server.wait_ready()
    assert server.process is not None
    headers = {"Authorization": f"Bearer {caller.key.reveal()}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=DEADLINE) as client:
        statuses = [client.get("/v1/keys").status_code for _ in range(40)]
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=DEADLINE) == 0
    assert statuses == [200] * 40
    assert _events(node, caller.view.id) == 40
    assert _last_used(node, caller.view.id) is not None


@dataclass
class SmtpProcess:
    process: subprocess.Popen[bytes]
    output: Path
    port: int


def _start_smtp(settings: Settings, tmp_path: Path, **env: str) -> SmtpProcess:
    output = tmp_path / "smtp.log"
    variables = {
        **os.environ,
        "KEYGUARD_DATA_DIR": str(settings.data_dir),
        "KEYGUARD_DATABASE_URL": settings.database_url,
        "KEYGUARD_PEPPER": TEST_PEPPER,
        **env,
    }
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "keyguard", "smtp", "--host", "127.0.0.1", "--port", "0"],
            stdout=sink, stderr=subprocess.STDOUT, env=variables,
        )  # fmt: skip
    _wait_for_line(output, "smtp submission listening on port", process)
    line = next(x for x in output.read_text().splitlines() if "listening on port" in x)
    return SmtpProcess(process, output, int(line.rsplit(" ", 1)[1]))


def test_smtp_finishes_a_message_in_flight_at_sigterm_and_writes_its_usage(
    node: Runtime, settings: Settings, tmp_path: Path
) -> None:
    sender = _key(node, "mail:send")
    node.mail.domains.add_domain(DEFAULT_TENANT, "brand.example", OPERATOR.id)
    smtp = _start_smtp(settings, tmp_path)
    client = smtplib.SMTP("127.0.0.1", smtp.port, timeout=DEADLINE)
    idle = smtplib.SMTP("127.0.0.1", smtp.port, timeout=DEADLINE)
    try:
        client.login("apikey", sender.key.reveal())
        client.mail("sender@brand.example")
        client.rcpt("someone@example.net")
        client.putcmd("data")
        assert client.getreply()[0] == 354
        client.send(b"From: sender@brand.example\r\nTo: someone@example.net\r\n")
        client.send(b"Subject: drained\r\n\r\nfirst half, ")
        smtp.process.send_signal(signal.SIGTERM)
        _wait_for_line(smtp.output, "smtp submission draining", smtp.process)
        assert _refused(smtp.port)
        client.send(b"second half\r\n.\r\n")
        code, _ = client.getreply()
        assert code == 250  # the message was accepted, whole
        assert idle.getreply()[0] == 421  # an idle session was told the service is closing
    finally:
        client.close()
        idle.close()
    assert smtp.process.wait(timeout=DEADLINE) == 0
    assert _events(node, sender.view.id) >= 1
    assert _last_used(node, sender.view.id) is not None


class _HoldingRelay:
    """A relay that takes each message only once the test releases it."""

    def __init__(self) -> None:
        self.in_flight = threading.Event()
        self.release = threading.Event()
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.in_flight.set()
        await asyncio.to_thread(self.release.wait, DEADLINE)
        self.received.append(envelope.original_content or b"")
        return "250 2.0.0 accepted"


def _states(runtime: Runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        rows = session.execute(select(Message.state, func.count()).group_by(Message.state))
        return {str(state): int(count) for state, count in rows}


def test_worker_finishes_the_delivery_under_way_at_sigterm_and_records_it(
    node: Runtime, settings: Settings, tmp_path: Path
) -> None:
    node.mail.domains.add_domain(DEFAULT_TENANT, "brand.example", OPERATOR.id)
    decision = node.verifier.verify(_key(node, "mail:send").key.reveal())
    assert isinstance(decision, Allowed)
    letter = {"from": "news@brand.example", "to": ["a@example.com"], "subject": "s", "text": "t"}
    batch = BatchIn.model_validate({"messages": [letter] * 3})
    node.mail.sending.send(Caller(decision.key, ip="127.0.0.1", user_agent="tests"), batch)

    relay, port = _HoldingRelay(), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    output = tmp_path / "worker.log"
    env = {
        **os.environ,
        "KEYGUARD_DATA_DIR": str(settings.data_dir),
        "KEYGUARD_DATABASE_URL": settings.database_url,
        "KEYGUARD_PEPPER": TEST_PEPPER,
        "KEYGUARD_SMTP_RELAY": f"smtp://127.0.0.1:{port}",
    }
    try:
        with output.open("wb") as sink:
            worker = subprocess.Popen(
                [sys.executable, "-m", "keyguard", "worker"],
                stdout=sink, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        assert relay.in_flight.wait(DEADLINE), output.read_text()
        worker.send_signal(signal.SIGTERM)
        _wait_for_line(output, "finishing the work under way", worker)
        relay.release.set()
        assert worker.wait(timeout=DEADLINE) == 0
    finally:
        relay.release.set()
        controller.stop()
    assert _states(node) == {"sent": 3}  # delivered and recorded: nothing sent twice later
    assert len(relay.received) == 3


def _read_http(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 answer (the server closes after it while draining)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received
