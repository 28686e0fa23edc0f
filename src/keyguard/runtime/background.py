"""The periodic work of a long-running process that is not `keyguard serve`.

`keyguard smtp` and `keyguard worker` verify keys (or act on their state) for hours, so they
need what serve's lifespan gives the HTTP API: the change feed (revocations made by any other
process drop out of this process's verification cache), the batched writes of last-used times
and usage events, and the sweep of rate-limit state. Without the feed a revoked key would keep
working here until its cache entry expired (30 seconds by default).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Final

import structlog

from keyguard.runtime.container import Runtime

log = structlog.get_logger("keyguard.runtime.background")

# Half a second between polls of the audit log: a revocation reaches every process within a
# second, poll included; on SQLite and PostgreSQL each poll is one indexed range scan.
CHANGE_FEED_SECONDS: Final = 0.5
SWEEP_SECONDS: Final = 60.0


@asynccontextmanager
async def background_jobs(runtime: Runtime) -> AsyncIterator[None]:
    """Run the periodic jobs while the block runs; flush what is batched when it ends."""
    runtime.usage.start()
    await asyncio.to_thread(runtime.changes.poll)  # the starting point of the change feed
    jobs: list[tuple[float, Callable[[], Any]]] = [
        (CHANGE_FEED_SECONDS, runtime.changes.poll),
        (
            runtime.settings.last_used_flush_seconds,
            partial(runtime.verifier.last_used.flush, runtime.sessions),
        ),
        (SWEEP_SECONDS, runtime.limits.sweep),
    ]
    tasks = [asyncio.create_task(_every(seconds, job)) for seconds, job in jobs]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(runtime.usage.close)
        await asyncio.to_thread(runtime.verifier.last_used.flush, runtime.sessions)


async def _every(seconds: float, job: Callable[[], Any]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await asyncio.to_thread(job)
        except Exception:  # a periodic job must not die; the next round retries
            log.exception("background_job_failed", job=getattr(job, "__name__", repr(job)))
