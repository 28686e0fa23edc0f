"""The scheduler as background work: one round every interval, off the event loop.

`keyguard worker` enters `scheduled_rotation(runtime.scheduler)` beside the mail worker; any
other long-running process can enter it too (an API lifespan, say).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

from keyguard.rotation.scheduler import Scheduler

if TYPE_CHECKING:
    pass

# stdlib logging: silent at INFO in CLI commands (whose stdout may be JSON), JSON lines
# under `keyguard serve` (keyguard.logging.configure_logging).
log = logging.getLogger(__name__)

DEFAULT_INTERVAL: Final = 60.0


@asynccontextmanager
async def scheduled_rotation(
    scheduler: Scheduler, *, interval: float = DEFAULT_INTERVAL
) -> AsyncIterator[Scheduler]:
    """Run a scheduler round now and every `interval` seconds until the block exits."""
    stop = asyncio.Event()
    task = asyncio.create_task(_loop(scheduler, stop, interval))
    try:
        yield scheduler
    finally:
        stop.set()
        await task


async def _loop(scheduler: Scheduler, stop: asyncio.Event, interval: float) -> None:
    """A round at once (interrupted deliveries are finished at startup), then every interval."""
    while True:
        try:
            await asyncio.to_thread(scheduler.run_once)
        except Exception as exc:  # a database or vault hiccup must not end the loop
            log.warning("rotation.round_failed", extra={"error": type(exc).__name__})
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue
        return
