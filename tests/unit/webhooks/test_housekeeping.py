"""The worker's housekeeping delivers webhooks and scans for expiring keys; other processes'
housekeeping does neither."""

from __future__ import annotations

import asyncio
import threading

from keyguard.clock import ManualClock
from keyguard.runtime import Runtime, housekeeping
from keyguard.settings import Settings


class _Counting:
    """Stands in for a periodic job: tells the test when it ran."""

    def __init__(self) -> None:
        self.ran = threading.Event()

    def run(self) -> int:
        self.ran.set()
        return 0


def _run(runtime: Runtime, job: _Counting, *, maintenance: bool, wait: float) -> bool:
    async def main() -> bool:
        async with housekeeping(runtime, maintenance=maintenance):
            return await asyncio.to_thread(job.ran.wait, wait)

    return asyncio.run(main())


def test_the_workers_housekeeping_delivers_webhooks(
    runtime: Runtime, settings: Settings, clock: ManualClock
) -> None:
    worker = Runtime.build(settings.model_copy(update={"webhook_delivery_seconds": 0.01}), clock)
    job = _Counting()
    worker.deliveries = job  # type: ignore[assignment]  # the wiring is what is tested here
    try:
        assert _run(worker, job, maintenance=True, wait=30)
    finally:
        worker.close()


def test_a_serving_process_without_the_worker_does_not_deliver(
    runtime: Runtime, settings: Settings, clock: ManualClock
) -> None:
    server = Runtime.build(settings.model_copy(update={"webhook_delivery_seconds": 0.01}), clock)
    job = _Counting()
    server.deliveries = job  # type: ignore[assignment]  # the wiring is what is tested here
    try:
        assert not _run(server, job, maintenance=False, wait=0.5)
    finally:
        server.close()
