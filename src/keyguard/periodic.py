"""One way to run a blocking job every few seconds on the event loop, off it in a thread.

Used for the housekeeping of every Keyguard process (runtime.housekeeping) and the rotation
scheduler; a job that fails is logged and retried at the next round, never ends the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import structlog

log = structlog.get_logger("keyguard.periodic")


async def every(
    seconds: float,
    job: Callable[[], Any],
    *,
    stop: asyncio.Event | None = None,
    at_once: bool = False,
) -> None:
    """Run `job` in a thread every `seconds` (first right away with `at_once`) until `stop`
    is set or the task is cancelled."""
    stop = stop or asyncio.Event()
    if not at_once and await _stopped(stop, seconds):
        return
    while True:
        try:
            await anyio.to_thread.run_sync(job)
        except Exception as exc:  # a periodic job must not die; the next round retries
            log.warning("periodic_job_failed", job=_name(job), error=type(exc).__name__)
        if await _stopped(stop, seconds):
            return


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


def _name(job: Callable[[], Any]) -> str:
    func = getattr(job, "func", job)  # functools.partial
    return str(getattr(func, "__qualname__", repr(func)))
