"""What every long-running Keyguard process does beside its work, the same in each.

`keyguard serve`, `keyguard smtp` and `keyguard worker` all verify keys (HTTP, SMTP AUTH, the
hold of revoked keys' mail), so each follows the revocation fan-out when Redis is configured
(keyguard.fanout: another process's revoke reaches this one's cache in milliseconds) and the
change feed in any case (the fallback: within CHANGE_FEED_SECONDS plus one poll), flushes
last-used times and batched usage events, sweeps expired rate-limit counters and reloads
the live throttles (the rate overrides the detector set). The worker's process also rolls
usage up by the hour, purges what is past its retention, runs the online detector (one
among all nodes holds its lease), delivers webhooks from their outbox, scans for keys about
to expire (keyguard.webhooks), builds the weekly access-review digest (keyguard.review) and
purges timed-out dashboard sessions and dead set-up links (keyguard.users).
On exit it writes what is left.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Final

import anyio.to_thread

from keyguard.fanout import Change, Subscriber
from keyguard.monitoring import POLL_SECONDS
from keyguard.periodic import every
from keyguard.runtime.container import Runtime

Job = Callable[[], object]  # a periodic job: what it returns is ignored

# Half a second between polls of the audit log: without the fan-out (no Redis, or Redis away)
# a revocation reaches every process within a second, poll included (docs/operations.md
# promises 2 s); on SQLite and PostgreSQL each poll is one indexed range scan.
CHANGE_FEED_SECONDS: Final = 0.5
SWEEP_SECONDS: Final = 60.0
# key.expiring is days ahead: a scan every five minutes is punctual enough.
EXPIRY_SCAN_SECONDS: Final = 300.0
# Throttles reach every process within a second: one indexed scan of a tiny table.
OVERRIDE_SECONDS: Final = 1.0
# Dashboard sessions time out after 30 minutes idle: purging every ten is tidy enough.
USERS_PURGE_SECONDS: Final = 600.0


def periodic_jobs(runtime: Runtime, *, maintenance: bool) -> list[tuple[float, Job]]:
    """What `housekeeping` runs, and how often: every process's share, and with
    `maintenance` the worker's as well."""
    jobs: list[tuple[float, Job]] = [
        (runtime.settings.last_used_flush_seconds, runtime.flush_last_used),
        (CHANGE_FEED_SECONDS, runtime.changes.poll),  # other processes' revocations
        (SWEEP_SECONDS, runtime.limits.sweep),
        (OVERRIDE_SECONDS, runtime.reload_throttles),
    ]
    if maintenance:
        jobs.append((runtime.settings.usage_maintenance_seconds, runtime.retention.run))
        jobs.append((runtime.settings.webhook_delivery_seconds, runtime.deliveries.run))
        jobs.append((EXPIRY_SCAN_SECONDS, runtime.expiry_scan.run))
        jobs.append((POLL_SECONDS, runtime.detector.catch_up))
        # The review digest is weekly; the job looks (hourly by default) whether a tenant's
        # week is up: the audit log remembers the last one, so a restart neither skips nor
        # repeats a digest.
        jobs.append((runtime.settings.review_digest_check_seconds, runtime.review_digest.run))
        # Timed-out dashboard sessions and dead set-up links (keyguard.users); opening a
        # session also purges, but a quiet dashboard would keep its last sessions forever.
        jobs.append((USERS_PURGE_SECONDS, runtime.users.purge_expired))
    return jobs


def subscriber(runtime: Runtime) -> Subscriber:
    """The fan-out's subscriber of this process: drop changed keys from the cache, reload the
    throttles, and after each (re)connection catch up from the database."""
    assert runtime.settings.redis_url is not None  # noqa: S101 - called only with Redis

    async def apply(change: Change) -> None:
        for key_id in change.keys:
            runtime.verifier.invalidate(key_id)  # a dict operation: on the event loop
        if change.throttles:
            await anyio.to_thread.run_sync(runtime.reload_throttles)

    async def catch_up() -> None:
        await anyio.to_thread.run_sync(runtime.changes.poll)
        await anyio.to_thread.run_sync(runtime.reload_throttles)

    return Subscriber(
        runtime.settings.redis_url,
        runtime.settings.fanout_channel,
        apply=apply,
        catch_up=catch_up,
    )


@asynccontextmanager
async def housekeeping(runtime: Runtime, *, maintenance: bool = False) -> AsyncIterator[None]:
    """With `maintenance` (the delivery worker's process: `keyguard worker`, or `serve`
    running the worker) also the usage rollup and purge (keyguard.usage.retention)."""
    runtime.usage.start()
    await anyio.to_thread.run_sync(runtime.changes.poll)  # the change feed's starting point
    jobs = periodic_jobs(runtime, maintenance=maintenance)
    tasks = [asyncio.create_task(every(seconds, job)) for seconds, job in jobs]
    if runtime.publisher is not None:  # Redis is configured: follow the fan-out as well
        tasks.append(asyncio.create_task(subscriber(runtime).run()))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # The work is done by now: write what it left behind.
        await anyio.to_thread.run_sync(runtime.usage.close)
        await anyio.to_thread.run_sync(runtime.flush_last_used)
        if maintenance:
            await anyio.to_thread.run_sync(runtime.detector.release)
        await runtime.limits.backend.aclose()
