"""The review's settings, and the worker's housekeeping running the digest."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from keyguard.clock import ManualClock
from keyguard.runtime import Runtime, housekeeping
from keyguard.settings import Settings


class _Counting:
    def __init__(self) -> None:
        self.ran = threading.Event()

    def run(self) -> list[str]:
        self.ran.set()
        return []


def test_the_workers_housekeeping_runs_the_digest(
    runtime: Runtime, settings: Settings, clock: ManualClock
) -> None:
    worker = Runtime.build(settings.model_copy(update={"review_digest_check_seconds": 0.01}), clock)
    job = _Counting()
    worker.review_digest = job  # type: ignore[assignment]  # the wiring is what is tested here

    async def main() -> bool:
        async with housekeeping(worker, maintenance=True):
            return await asyncio.to_thread(job.ran.wait, 30)

    try:
        assert asyncio.run(main())
    finally:
        worker.close()


def test_the_review_window_must_lie_within_the_raw_events_retention(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="review_unused_days"):
        Settings(data_dir=tmp_path, usage_retention_days=20, review_unused_days=30)


def test_the_policy_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    monkeypatch.setenv("KEYGUARD_REVIEW_CI_ASNS", "AS8075, 16509")
    monkeypatch.setenv("KEYGUARD_REVIEW_ROTATION_DAYS", "60")
    settings = Settings(data_dir=tmp_path, pepper="test-pepper-" + "0123456789abcdef" * 3)
    runtime = Runtime.build(settings, clock)
    try:
        policy = runtime.review.policy
        assert (policy.ci_asns, policy.rotation_days) == (frozenset({8075, 16509}), 60)
    finally:
        runtime.close()


def test_ci_asns_must_be_numbers(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="review_ci_asns"):
        Settings(data_dir=tmp_path, review_ci_asns="github")  # type: ignore[arg-type]
