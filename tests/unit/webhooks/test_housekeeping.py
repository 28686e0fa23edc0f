"""The worker's housekeeping delivers webhooks and scans for expiring keys; other processes'
housekeeping does neither. Read from the schedule itself, so no test waits on the clock."""

from __future__ import annotations

from keyguard.runtime import Runtime
from keyguard.runtime.housekeeping import periodic_jobs
from keyguard.settings import Settings


def _scheduled(runtime: Runtime, *, maintenance: bool) -> dict[object, float]:
    return {job: seconds for seconds, job in periodic_jobs(runtime, maintenance=maintenance)}


def test_the_workers_housekeeping_delivers_webhooks_and_scans_expiries(
    runtime: Runtime, settings: Settings
) -> None:
    jobs = _scheduled(runtime, maintenance=True)
    assert jobs[runtime.deliveries.run] == settings.webhook_delivery_seconds
    assert runtime.expiry_scan.run in jobs


def test_a_serving_process_without_the_worker_neither_delivers_nor_scans(
    runtime: Runtime,
) -> None:
    jobs = _scheduled(runtime, maintenance=False)
    assert runtime.deliveries.run not in jobs
    assert runtime.expiry_scan.run not in jobs
    assert runtime.changes.poll in jobs  # every process follows revocations
