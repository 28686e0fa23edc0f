"""The scheduler rotates delivered keys that reach their maximum age, into their vault."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from keyguard.clock import ManualClock
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.rotation import tasks
from keyguard.rotation.models import KeyDelivery
from keyguard.rotation.scheduler import Scheduler
from keyguard.rotation.service import RotationService
from keyguard.runtime import Runtime


@pytest.fixture
def backend() -> str:
    """The scheduler is the same whatever the vault: OpenBao only here."""
    return "openbao"


DAY = timedelta(days=1)


def _spec(expires_in: timedelta | None = None) -> KeySpec:
    return KeySpec(DEFAULT_TENANT, "live", ["mail:send"], expires_in=expires_in)


@pytest.fixture
def scheduler(runtime: Runtime, clock: ManualClock, service: RotationService) -> Scheduler:
    return Scheduler(service, runtime.sessions, clock)


def test_a_key_is_rotated_into_its_vault_once_it_reaches_its_maximum_age(
    runtime: Runtime,
    clock: ManualClock,
    service: RotationService,
    scheduler: Scheduler,
    address: str,
) -> None:
    created = service.create_delivered(OPERATOR, _spec(), address, rotate_every=30 * DAY)
    clock.advance(30 * DAY - timedelta(seconds=1))
    assert scheduler.due() == []
    clock.advance(timedelta(seconds=1))
    assert [d.key_id for d in scheduler.due()] == [created.key.id]
    report = scheduler.run_once()
    [rotated] = report.rotated
    assert rotated.replaced is not None and rotated.replaced.id == created.key.id
    assert scheduler.due() == []  # the successor is new, and keeps the policy
    clock.advance(30 * DAY)
    assert [d.key_id for d in scheduler.due()] == [rotated.key.id]


def test_a_key_is_rotated_a_grace_window_before_it_expires(
    clock: ManualClock, service: RotationService, scheduler: Scheduler, address: str
) -> None:
    created = service.create_delivered(
        OPERATOR, _spec(expires_in=10 * DAY), address, rotate_every=30 * DAY, grace=DAY
    )
    assert scheduler.due() == []
    clock.advance(9 * DAY)
    [due] = scheduler.due()
    assert (due.key_id, due.reason) == (created.key.id, "expiry")


def test_keys_without_a_policy_or_a_vault_are_never_due(
    runtime: Runtime,
    clock: ManualClock,
    service: RotationService,
    scheduler: Scheduler,
    address: str,
) -> None:
    service.create_delivered(OPERATOR, _spec(), address)
    runtime.keys.create(OPERATOR, _spec())
    clock.advance(80 * DAY)
    assert scheduler.due() == []
    assert scheduler.run_once().rotated == []


def test_one_unreachable_vault_does_not_stop_the_other_rotations(
    runtime: Runtime,
    clock: ManualClock,
    service: RotationService,
    scheduler: Scheduler,
    address: str,
) -> None:
    broken = service.create_delivered(OPERATOR, _spec(), address, rotate_every=30 * DAY)
    fine = service.create_delivered(OPERATOR, _spec(), address + "-b", rotate_every=30 * DAY)
    with runtime.sessions.begin() as session:  # the first one's vault mount goes away
        delivery = session.get(KeyDelivery, broken.key.id)
        assert delivery is not None
        delivery.target = "openbao:no-such-mount/app"
    clock.advance(30 * DAY)
    report = scheduler.run_once()
    assert [d.replaced.id for d in report.rotated if d.replaced] == [fine.key.id]
    assert [key_id for key_id, _ in report.failed] == [broken.key.id]


def test_the_worker_task_runs_a_round_at_once_and_stops_when_asked(runtime: Runtime) -> None:
    async def run() -> Scheduler:
        async with tasks.scheduled_rotation(runtime.scheduler, interval=3600) as scheduler:
            pass
        return scheduler

    scheduler = asyncio.run(run())
    assert scheduler is runtime.scheduler  # the one scheduler the runtime built, not a new one
    assert scheduler.rounds == 1
