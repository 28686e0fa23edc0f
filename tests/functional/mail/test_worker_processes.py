"""Two `keyguard worker` processes on one outbox deliver every message exactly once.

On PostgreSQL the claims are FOR UPDATE SKIP LOCKED (keyguard.mail.sending.outbox), on SQLite
BEGIN IMMEDIATE serialises them; either way two workers must never take the same message.
The relay answers DATA a little late, so that the two workers' batches are in flight at once.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.mail.models import Message
from keyguard.mail.schemas import BatchIn
from keyguard.mail.usage import Caller
from keyguard.runtime import Runtime
from keyguard.verification import Allowed
from tests.conftest import TEST_PEPPER, create_key
from tests.functional.mail.sinks import SinkHandler, free_port
from tests.unit.mail.conftest import DOMAIN, SENDER

pytestmark = pytest.mark.slow
MESSAGES = 120
DEADLINE = 120.0
MESSAGE_ID = re.compile(rb"Message-ID: <(msg_[0-9A-Z]+)@")


class _SlowSink(SinkHandler):
    """Accepts everything, a few milliseconds late: deliveries of both workers overlap."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        await asyncio.sleep(0.005)
        return str(await super().handle_DATA(server, session, envelope))


@contextmanager
def slow_sink() -> Iterator[tuple[str, SinkHandler]]:
    handler, port = _SlowSink(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", handler
    finally:
        controller.stop()


def _queue(runtime: Runtime, count: int) -> set[str]:
    runtime.mail.domains.add_domain(DEFAULT_TENANT, DOMAIN, OPERATOR.id)
    decision = runtime.verifier.verify(create_key(runtime).key.reveal())
    assert isinstance(decision, Allowed)
    caller = Caller(decision.key, ip="203.0.113.7", user_agent="tests")
    letter = {"from": SENDER, "to": ["a@example.com"], "text": "t"}
    ids: set[str] = set()
    for start in range(0, count, 40):
        items = [{**letter, "subject": f"m{n}"} for n in range(start, min(count, start + 40))]
        outcome = runtime.mail.sending.send(caller, BatchIn.model_validate({"messages": items}))
        ids |= {item.id for item in outcome.items}
    return ids


def _sent(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        query = select(func.count()).select_from(Message).where(Message.state == "sent")
        return int(session.scalar(query) or 0)


def _worker(tmp_path: Path, database_url: str, relay: str, n: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KEYGUARD_DATA_DIR": str(tmp_path / "data"),
        "KEYGUARD_DATABASE_URL": database_url,
        "KEYGUARD_PEPPER": TEST_PEPPER,
        "KEYGUARD_SMTP_RELAY": relay,
        "KEYGUARD_MAIL_WORKER_BATCH": "4",  # small claims: the two workers take turns
        "KEYGUARD_MAIL_POLL_SECONDS": "0.1",
    }
    with (tmp_path / f"worker-{n}.log").open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "keyguard", "worker"],
            stdout=sink, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip


def _ready(tmp_path: Path, n: int) -> bool:
    """Worker `n` has printed its ready line (its signal handlers are installed first)."""
    return b"mail worker delivering to" in (tmp_path / f"worker-{n}.log").read_bytes()


def test_two_worker_processes_deliver_every_message_exactly_once(
    runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    queued = _queue(runtime, MESSAGES)
    with slow_sink() as (relay, sink):
        workers = [_worker(tmp_path, database_url, relay, n) for n in (0, 1)]
        try:
            deadline = time.monotonic() + DEADLINE
            # Until all is sent and both are up: on a slow machine one worker can deliver
            # everything while the other is still starting, and a SIGTERM before its
            # handlers are in place would kill it rather than stop it.
            while _sent(runtime) < MESSAGES or not all(_ready(tmp_path, n) for n in (0, 1)):
                crashed = [w.args for w in workers if w.poll() is not None]
                assert not crashed, (tmp_path / "worker-0.log").read_text()
                assert time.monotonic() < deadline, f"{_sent(runtime)} of {MESSAGES} sent"
                time.sleep(0.05)
        finally:
            for worker in workers:
                worker.terminate()
            codes = [worker.wait(timeout=60) for worker in workers]
        received = Counter(
            match.group(1).decode()
            for message in sink.snapshot()
            if (match := MESSAGE_ID.search(message.data))
        )
    assert codes == [0, 0]
    assert set(received) == queued
    assert set(received.values()) == {1}  # none delivered twice
