"""Durability: `keyguard serve` SIGKILLed right after its 202 answers loses no accepted message,
and after a restart every one of them reaches the relay exactly once.

The first server's relay accepts connections but never answers DATA, so at the moment of the
kill the worker holds leased messages in the middle of a delivery: the hardest case. The
second server (fresh process, real relay) must take over those leases once they run out and
deliver everything accepted — and nothing twice.
"""

from __future__ import annotations

import asyncio
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.mail.models import Message
from keyguard.runtime import Runtime
from tests.conftest import create_key
from tests.functional.api.servers import ProcessServer
from tests.functional.mail.sinks import free_port, running_sink
from tests.unit.mail.conftest import DOMAIN, SENDER

pytestmark = pytest.mark.slow
SINGLE_SENDS = 20
BATCHES = 3
BATCH_SIZE = 10
DEADLINE = 60.0
MESSAGE_ID = re.compile(rb"Message-ID: <(msg_[0-9A-Z]+)@")
SERVER_ENV = {
    "KEYGUARD_MAIL_LEASE_SECONDS": "2",  # leases of the killed worker expire soon after
    "KEYGUARD_MAIL_POLL_SECONDS": "0.2",
    "KEYGUARD_SMTP_TIMEOUT_SECONDS": "300",
}


class _Stall:
    """A relay that takes the whole envelope, then never answers the message data."""

    def __init__(self) -> None:
        self.never = threading.Event()
        self.in_flight = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.in_flight.set()
        while not self.never.is_set():
            await asyncio.sleep(0.05)
        return "451 4.3.0 shutting down"


@contextmanager
def stalling_relay() -> Iterator[tuple[int, _Stall]]:
    handler, port = _Stall(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield port, handler
    finally:
        handler.never.set()
        controller.stop()


def accept_mail(url: str, key: str) -> list[str]:
    """Single sends and batches; returns the ids of every message answered with 202."""
    accepted: list[str] = []
    headers = {"Authorization": f"Bearer {key}"}
    letter = {"from": SENDER, "to": ["a@example.com"], "subject": "s", "text": "t"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for n in range(SINGLE_SENDS):
            answer = client.post("/v1/mail/send", json={**letter, "subject": f"single {n}"})
            assert answer.status_code == 202, answer.text
            accepted += [m["id"] for m in answer.json()["messages"]]
        for n in range(BATCHES):
            batch = [{**letter, "subject": f"batch {n}.{i}"} for i in range(BATCH_SIZE)]
            answer = client.post("/v1/mail/send", json={"messages": batch})
            assert answer.status_code == 202, answer.text
            accepted += [m["id"] for m in answer.json()["messages"]]
    return accepted


def wait_until(condition: Any, what: str, server: ProcessServer) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; server log:\n{server.log()}")
        time.sleep(0.05)


def _states(runtime: Runtime) -> Counter[str]:
    with runtime.sessions() as session:
        rows = session.execute(select(Message.state, func.count()).group_by(Message.state))
        return Counter({state: int(count) for state, count in rows})


def sent_count(runtime: Runtime) -> int:
    return _states(runtime)["sent"]


def test_every_accepted_message_is_delivered_exactly_once_after_a_sigkill(
    runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    runtime.mail.domains.add_domain(DEFAULT_TENANT, DOMAIN, OPERATOR.id)
    key = create_key(runtime).key.reveal()
    data_dir = tmp_path / "data"

    with stalling_relay() as (stall_port, stall):
        env = {**SERVER_ENV, "KEYGUARD_SMTP_RELAY": f"smtp://127.0.0.1:{stall_port}"}
        first = ProcessServer(data_dir, database_url, env=env).start().wait_ready()
        try:
            accepted = accept_mail(first.url, key)
            wait_until(stall.in_flight.is_set, "a delivery in flight", first)
        finally:
            assert first.process is not None
            first.process.send_signal(signal.SIGKILL)  # right after the last 202
            assert first.process.wait(timeout=30) == -signal.SIGKILL

    assert len(accepted) == SINGLE_SENDS + BATCHES * BATCH_SIZE
    assert _states(runtime)["sending"] > 0  # the dead worker held leases mid-delivery
    with running_sink() as sink:
        env = {**SERVER_ENV, "KEYGUARD_SMTP_RELAY": sink.url}
        second = ProcessServer(data_dir, database_url, env=env).start().wait_ready()
        try:
            wait_until(lambda: sent_count(runtime) == len(accepted), "every delivery", second)
        finally:
            second.stop()
        received = Counter(
            match.group(1).decode()
            for message in sink.messages
            if (match := MESSAGE_ID.search(message.data))
        )
    assert set(received) == set(accepted)
    assert set(received.values()) == {1}
