"""Several delivery workers on one PostgreSQL outbox never deliver a message twice."""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from keyguard.clock import ManualClock
from keyguard.mail.models import Message
from keyguard.mail.schemas import BatchIn
from keyguard.mail.sending import outbox
from keyguard.mail.service import MailService
from keyguard.mail.transport.delivery import DeliveryWorker, WorkerConfig
from keyguard.mail.transport.relay import RelayConfig
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from tests.functional.mail.sinks import running_sink
from tests.unit.mail.conftest import SENDER, MakeCaller

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
MESSAGES = 400
MESSAGE_ID = re.compile(rb"Message-ID: <(msg_[0-9A-Z]+)@")


def queue(mail: MailService, make_caller: MakeCaller, count: int) -> None:
    item = {"from": SENDER, "to": ["a@example.com"], "subject": "Hi", "text": "x"}
    mail.sending.send(make_caller(), BatchIn.model_validate({"messages": [item] * count}))


@pytest.fixture
def second_runtime(settings: Settings, clock: ManualClock) -> Iterator[Runtime]:
    """Another process's view of the same database: its own engine and connection pool."""
    other = Runtime.build(settings, clock)
    yield other
    other.close()


def test_concurrent_claims_take_disjoint_messages_without_waiting(
    runtime: Runtime,
    second_runtime: Runtime,
    mail: MailService,
    make_caller: MakeCaller,
    clock: ManualClock,
) -> None:
    queue(mail, make_caller, 30)
    lease = timedelta(minutes=5)
    with runtime.sessions.begin() as first, second_runtime.sessions.begin() as second:
        mine = outbox.claim(first, owner="a", limit=20, lease=lease, now=clock())
        # `first` still holds its row locks: SKIP LOCKED hands the rest to `second` at once.
        theirs = outbox.claim(second, owner="b", limit=20, lease=lease, now=clock())
    assert len(mine) == 20 and len(theirs) == 10
    assert not {m.id for m in mine} & {m.id for m in theirs}


def test_two_workers_deliver_every_message_exactly_once(
    runtime: Runtime, second_runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    queue(mail, make_caller, MESSAGES)
    with running_sink() as sink:
        relay = RelayConfig("127.0.0.1", sink.port, implicit_tls=False, require_tls=False)
        config = WorkerConfig(batch=10, connections=2)
        workers = [
            DeliveryWorker(rt.sessions, rt.clock, relay, config=config, owner=f"worker-{n}")
            for n, rt in enumerate((runtime, second_runtime))
        ]
        start = threading.Barrier(len(workers))
        threads = [threading.Thread(target=_drain, args=(w, start)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    ids = Counter(m.group(1) for r in sink.messages if (m := MESSAGE_ID.search(r.data)))
    assert len(ids) == MESSAGES
    assert set(ids.values()) == {1}
    with runtime.sessions() as session:
        sent = session.scalar(
            select(func.count()).select_from(Message).where(Message.state == "sent")
        )
    assert sent == MESSAGES
    assert sum(w.counts["sent"] for w in workers) == MESSAGES


def _drain(worker: DeliveryWorker, start: threading.Barrier) -> None:
    """Each worker in its own thread and event loop, as in its own process."""

    async def run() -> None:
        start.wait()
        try:
            while await worker.run_once():
                pass
        finally:
            await worker.close()

    asyncio.run(run())
