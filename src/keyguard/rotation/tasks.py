"""The scheduler as background work: one round every interval, off the event loop.

`keyguard worker` enters `scheduled_rotation(runtime.scheduler)` beside the mail worker; any
other long-running process can enter it too (an API lifespan, say).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from keyguard.periodic import every
from keyguard.rotation.scheduler import Scheduler

DEFAULT_INTERVAL: Final = 60.0


@asynccontextmanager
async def scheduled_rotation(
    scheduler: Scheduler, *, interval: float = DEFAULT_INTERVAL
) -> AsyncIterator[Scheduler]:
    """Run a scheduler round now and every `interval` seconds until the block exits."""
    stop = asyncio.Event()
    # A round at once (interrupted deliveries are finished at startup), then every interval;
    # a database or vault hiccup is logged and retried, it never ends the loop.
    task = asyncio.create_task(every(interval, scheduler.run_once, stop=stop, at_once=True))
    try:
        yield scheduler
    finally:
        stop.set()
        await task
