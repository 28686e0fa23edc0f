"""The worker's housekeeping purges timed-out dashboard sessions and dead set-up links; other
processes' housekeeping does not. Read from the schedule itself: no test waits on a clock."""

from __future__ import annotations

from keyguard.runtime import Runtime
from keyguard.runtime.housekeeping import USERS_PURGE_SECONDS, periodic_jobs


def _scheduled(runtime: Runtime, *, maintenance: bool) -> dict[object, float]:
    return {job: seconds for seconds, job in periodic_jobs(runtime, maintenance=maintenance)}


def test_the_workers_housekeeping_purges_expired_dashboard_sessions(runtime: Runtime) -> None:
    jobs = _scheduled(runtime, maintenance=True)
    assert jobs[runtime.users.purge_expired] == USERS_PURGE_SECONDS
    assert runtime.users.web.policy.idle.total_seconds() >= USERS_PURGE_SECONDS


def test_a_serving_process_without_the_worker_leaves_the_purge_to_it(runtime: Runtime) -> None:
    assert runtime.users.purge_expired not in _scheduled(runtime, maintenance=False)
