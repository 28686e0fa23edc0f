"""The online detector: the same alerts as replay, exactly once, across restarts and nodes."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from keyguard.clock import ManualClock, system_clock
from keyguard.monitoring import Detector, DetectorConfig, DetectorCursor, StoredAlert
from keyguard.runtime import Runtime, housekeeping
from keyguard.settings import Settings
from keyguard.usage import UsageEvent, iso
from tests.unit.monitoring.online import record_of, replayed, store, stored, trace


def _detector(runtime: Runtime, **config: object) -> Detector:
    return Detector(
        runtime.sessions,
        runtime.clock,
        runtime.detector.responder,
        config=DetectorConfig(**config),  # type: ignore[arg-type]
    )


def test_online_raises_exactly_the_alerts_replay_raises(runtime: Runtime) -> None:
    store(runtime, trace())
    fed = runtime.detector.drain()
    assert fed == len(trace())
    alerts = stored(runtime)
    assert {a["rule"] for a in alerts} >= {"new_network", "key_guessing"}
    assert alerts == replayed(runtime)


def test_the_first_detector_starts_after_the_stored_history_warmed_on_it(
    runtime: Runtime,
) -> None:
    events = trace()
    store(runtime, events[:337], watched=False)  # an upgraded install's history
    assert runtime.detector.poll() == 0
    assert stored(runtime) == []  # the history's alerts are not raised again
    store(runtime, events[337:])
    runtime.detector.drain()
    everything = replayed(runtime)
    history_alerts = [a for a in everything if a["ts"] <= iso(events[336].ts)]
    assert history_alerts  # (the new-network alert of event 336)
    assert stored(runtime) == [a for a in everything if a not in history_alerts]


def test_a_detector_started_afresh_resumes_from_its_cursor(
    runtime: Runtime, clock: ManualClock
) -> None:
    events = trace()
    store(runtime, events[:300])
    _detector(runtime, batch=64).drain()  # then the process dies, its lease left behind
    store(runtime, events[300:])
    clock.advance(timedelta(seconds=16))
    _detector(runtime, batch=64).drain()  # a new process: warms up from the stored window
    assert stored(runtime) == replayed(runtime)


def test_a_failed_round_is_rolled_back_and_redone_once(runtime: Runtime) -> None:
    class Flaky:
        calls = 0

        def alert_raised(self, session: object, alert: object) -> None:
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("the notifier failed")

    store(runtime, trace())
    detector = _detector(runtime, batch=50)
    detector.notifier = Flaky()
    with pytest.raises(RuntimeError):
        detector.drain()
    detector.drain()
    assert stored(runtime) == replayed(runtime)


def test_the_cursor_counts_every_event_once(runtime: Runtime) -> None:
    store(runtime, trace())
    runtime.detector.drain()
    with runtime.sessions() as session:
        cursor = session.get(DetectorCursor, "usage")
        assert cursor is not None
        assert cursor.events == len(trace())
        assert cursor.last_event_id == session.scalar(select(func.max(UsageEvent.id)))


def _insert(runtime: Runtime, ids: list[int], clock: ManualClock) -> None:
    store(runtime, [])  # the detector was running
    with runtime.sessions.begin() as session:
        for i in ids:
            columns = record_of(trace()[0]).columns()
            columns["ts"] = clock()
            session.add(UsageEvent(id=i, **columns))


def test_a_hole_in_the_ids_waits_for_the_late_commit(runtime: Runtime, clock: ManualClock) -> None:
    _insert(runtime, [1, 2, 4], clock)
    detector = runtime.detector
    assert detector.poll() == 2  # 3 is taken by a transaction not yet committed
    clock.advance(timedelta(seconds=1))
    _insert(runtime, [3], clock)
    assert detector.poll() == 2
    assert detector.stats.skipped_ids == 0


def test_a_hole_that_never_fills_is_skipped_once_settled(
    runtime: Runtime, clock: ManualClock
) -> None:
    _insert(runtime, [1, 2, 4], clock)
    detector = runtime.detector
    assert detector.poll() == 2
    clock.advance(timedelta(seconds=9))
    assert detector.poll() == 0
    clock.advance(timedelta(seconds=1))
    assert detector.poll() == 1
    assert detector.stats.skipped_ids == 1


def test_of_two_detectors_one_leads_and_the_other_takes_over_after_its_lease(
    runtime: Runtime, clock: ManualClock
) -> None:
    events = trace()
    first, second = _detector(runtime, batch=100), _detector(runtime, batch=100)
    store(runtime, events[:250])
    assert first.poll() == 100
    assert second.poll() == 0  # the first holds the lease
    assert first.poll() == 100
    clock.advance(timedelta(seconds=16))  # the first stalls past its lease
    store(runtime, events[250:])
    assert second.drain() == len(events) - 200
    assert first.poll() == 0  # its lease is gone: it neither feeds nor stores
    assert stored(runtime) == replayed(runtime)


def test_a_released_lease_is_taken_at_once(runtime: Runtime) -> None:
    store(runtime, trace()[:10])
    first, second = _detector(runtime), _detector(runtime)
    first.poll()
    first.release()
    store(runtime, trace()[10:20])
    assert second.poll() == 10


def test_the_lag_is_the_age_of_the_newest_processed_event(
    runtime: Runtime, clock: ManualClock
) -> None:
    events = trace()
    store(runtime, events)
    runtime.detector.drain()
    lag = runtime.detector.lag_seconds()
    assert lag == pytest.approx((clock() - events[-1].ts).total_seconds(), abs=0.01)


def test_alerts_are_stored_open_and_monitor_only_by_default(runtime: Runtime) -> None:
    store(runtime, trace())
    runtime.detector.drain()
    with runtime.sessions() as session:
        rows = session.scalars(select(StoredAlert)).all()
        assert {r.state for r in rows} == {"open"}
        assert {r.action for r in rows} == {"notify"}
        high = [r for r in rows if r.severity == "high" and r.key_id is not None]
        assert high
        assert {r.planned_action for r in high} == {"throttle"}
        guessing = [r for r in rows if r.key_id is None]
        assert guessing
        assert {r.tenant_id for r in guessing} == {None}


def test_detectors_racing_for_a_short_lease_process_each_event_once(runtime: Runtime) -> None:
    """Threads taking the lease from each other all the time (1 ms, on the real clock):
    whichever interleaving, the fenced cursor makes every event count once."""
    store(runtime, trace())
    total = len(trace())
    config = DetectorConfig(batch=40, lease=timedelta(milliseconds=1))
    racers = [
        Detector(runtime.sessions, system_clock, runtime.detector.responder, config=config)
        for _ in range(3)
    ]
    errors: list[BaseException] = []

    def race(detector: Detector) -> None:
        deadline = time.monotonic() + 60
        while _processed(runtime) < total and time.monotonic() < deadline:
            try:
                detector.poll()
            except OperationalError:  # SQLite: the other writer held the lock; retry
                continue
            except BaseException as error:
                errors.append(error)
                return

    threads = [threading.Thread(target=race, args=(d,)) for d in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert errors == []
    assert _processed(runtime) == total
    assert stored(runtime) == replayed(runtime)


def _processed(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        cursor = session.get(DetectorCursor, "usage")
        return 0 if cursor is None else cursor.events


def test_the_workers_housekeeping_raises_alerts_within_five_seconds(
    runtime: Runtime, settings: Settings, clock: ManualClock
) -> None:
    store(runtime, trace())
    worker = Runtime.build(settings, clock)
    fed = threading.Event()
    catch_up = worker.detector.catch_up

    def signalling() -> int:
        count = catch_up()
        if count:
            fed.set()
        return count

    worker.detector.catch_up = signalling  # type: ignore[method-assign] - the wiring is tested

    async def main() -> bool:
        async with housekeeping(worker, maintenance=True):
            return await asyncio.to_thread(fed.wait, 5)

    try:
        assert asyncio.run(main())
    finally:
        worker.close()
    assert stored(runtime) == replayed(runtime)
