"""The garbage collector and a long-running process: the start-up heap is never garbage."""

from __future__ import annotations

import gc


def freeze_start_up_heap() -> None:
    """Call once a serving process is wired, just before it serves.

    Everything alive then (modules, the ORM's mappers, pydantic models, the app and its
    routes: about 140,000 objects) lives as long as the process. Without this, each full
    collection walks all of it again; measured, that was 10-14 % of a cache-hit verification
    (docs/benchmarks.md). Frozen objects are still freed by reference counting; only the
    cycle collector skips them. Never called in tests, whose runtimes come and go.
    """
    gc.collect()
    gc.freeze()
