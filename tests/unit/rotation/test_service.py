"""Staged delivery into OpenBao KV v2 and AWS Secrets Manager (moto), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from sqlalchemy import select

from keyguard.clock import ManualClock
from keyguard.errors import IllegalTransition, InvalidInput, KeyguardError
from keyguard.keys import Pepper, PepperRing
from keyguard.lifecycle.models import ApiKey
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.rotation.delivery import Targets, parse_target
from keyguard.rotation.models import KeyDelivery, RotationIntent
from keyguard.rotation.service import RotationService
from keyguard.runtime import Runtime
from keyguard.secrets.interfaces import SecretValue
from keyguard.verification import Verifier
from tests.conftest import cache

SPEC = KeySpec(tenant_id=DEFAULT_TENANT, env="live", scopes=["mail:send"])


def _holder(runtime: Runtime, clock: ManualClock, value: SecretValue | None) -> str | None:
    """The id of the key `value` authenticates as now (a fresh cache), or None."""
    assert value is not None
    verifier = Verifier(runtime.sessions, runtime.peppers, clock, cache(clock))
    decision = verifier.verify(value.reveal())
    return decision.key.id if decision.allowed and decision.key else None


def _intents(runtime: Runtime) -> list[RotationIntent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(RotationIntent)))


def test_a_created_key_goes_straight_into_the_target(
    runtime: Runtime, clock: ManualClock, service: RotationService, targets: Targets, address: str
) -> None:
    delivered = service.create_delivered(OPERATOR, SPEC, address)
    box = targets.open(address)
    assert _holder(runtime, clock, box.current()) == delivered.key.id
    assert delivered.target == str(parse_target(address))
    [intent] = _intents(runtime)
    assert (intent.state, intent.step, intent.target_lock) == ("done", "promoted", None)
    assert box.pending(intent.id) is None
    with runtime.sessions() as session:
        delivery = session.get(KeyDelivery, delivered.key.id)
    assert delivery is not None and delivery.target == delivered.target


def test_rotation_promotes_the_successor_before_the_old_key_enters_its_grace(
    runtime: Runtime, clock: ManualClock, service: RotationService, targets: Targets, address: str
) -> None:
    first = service.create_delivered(OPERATOR, SPEC, address)
    old_value = targets.open(address).current()
    clock.advance(timedelta(days=1))
    second = service.rotate_delivered(OPERATOR, first.key.id, grace=timedelta(hours=2))
    assert second.replaced is not None and second.replaced.id == first.key.id
    assert second.replaced.state == "rotating"
    assert second.replaced.grace_until == clock() + timedelta(hours=2)
    assert second.key.parent_id == first.key.id
    assert _holder(runtime, clock, targets.open(address).current()) == second.key.id
    assert _holder(runtime, clock, old_value) == first.key.id  # still in its grace
    clock.advance(timedelta(hours=2))
    assert _holder(runtime, clock, old_value) is None


def _write_document(request: pytest.FixtureRequest, address: str, document: dict[str, str]) -> None:
    """What the consumer's secret held before Keyguard delivered into it."""
    target = parse_target(address)
    if target.scheme == "openbao":
        mount, _, path = target.location.partition("/")
        request.getfixturevalue("bao").admin().secrets.kv.v2.create_or_update_secret(
            path=path, secret=document, mount_point=mount
        )
    else:
        client = boto3.session.Session().client("secretsmanager")
        client.create_secret(Name=target.location, SecretString=json.dumps(document))


def _read_document(request: pytest.FixtureRequest, address: str) -> dict[str, str]:
    target = parse_target(address)
    if target.scheme == "openbao":
        mount, _, path = target.location.partition("/")
        admin = request.getfixturevalue("bao").admin()
        data = admin.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True
        )
        return dict(data["data"]["data"])
    client = boto3.session.Session().client("secretsmanager")
    return dict(
        json.loads(
            client.get_secret_value(SecretId=target.location, VersionStage="AWSCURRENT")[
                "SecretString"
            ]
        )
    )


def test_delivery_into_a_field_keeps_the_other_fields_of_the_secret(
    request: pytest.FixtureRequest,
    runtime: Runtime,
    service: RotationService,
    targets: Targets,
    address: str,
) -> None:
    _write_document(request, address, {"db_user": "mailer"})
    target = address + "#api_key"
    created = service.create_delivered(OPERATOR, SPEC, target)
    rotated = service.rotate_delivered(OPERATOR, created.key.id)
    assert _holder(runtime, runtime.clock, targets.open(target).current()) == rotated.key.id
    document = _read_document(request, address)
    assert document["db_user"] == "mailer"
    assert not any(name.endswith("_pending") for name in document)


def test_a_delivered_key_rotates_into_its_target_with_its_recorded_policy(
    runtime: Runtime, clock: ManualClock, service: RotationService, address: str
) -> None:
    created = service.create_delivered(
        OPERATOR, SPEC, address, rotate_every=timedelta(days=30), grace=timedelta(hours=6)
    )
    rotated = service.rotate_delivered(OPERATOR, created.key.id)
    assert rotated.target == created.target
    assert rotated.replaced is not None
    assert rotated.replaced.grace_until == clock() + timedelta(hours=6)
    successor = service.delivery_of(rotated.key.id)
    assert successor is not None
    assert (successor.rotate_every_seconds, successor.grace_seconds) == (30 * 86400, 6 * 3600)


@pytest.mark.parametrize("backend", ["openbao"], indirect=True)
def test_a_failed_stage_leaves_the_old_key_and_its_target_alone(
    runtime: Runtime, clock: ManualClock, service: RotationService, targets: Targets, address: str
) -> None:
    created = service.create_delivered(OPERATOR, SPEC, address)
    with pytest.raises(KeyguardError):  # a mount that does not exist: the stage write fails
        service.rotate_delivered(OPERATOR, created.key.id, "openbao:no-such-mount/app")
    assert runtime.keys.show(OPERATOR, created.key.id).state == "active"
    assert _holder(runtime, clock, targets.open(address).current()) == created.key.id
    with runtime.sessions() as session:
        assert session.scalar(select(ApiKey).where(ApiKey.parent_id == created.key.id)) is None
    assert [i.state for i in _intents(runtime)] == ["done", "rolled_back"]


def test_a_key_that_was_not_delivered_needs_a_target(
    service: RotationService, runtime: Runtime
) -> None:
    created = runtime.keys.create(OPERATOR, SPEC)
    with pytest.raises(InvalidInput) as raised:
        service.rotate_delivered(OPERATOR, created.view.id)
    assert raised.value.code == "no_delivery_target"


def test_only_an_active_key_is_rotated(
    runtime: Runtime, service: RotationService, address: str
) -> None:
    created = service.create_delivered(OPERATOR, SPEC, address)
    runtime.keys.suspend(OPERATOR, created.key.id)
    with pytest.raises(IllegalTransition):
        service.rotate_delivered(OPERATOR, created.key.id)


def test_bad_scopes_are_refused_before_anything_is_written(
    runtime: Runtime, service: RotationService, targets: Targets, address: str
) -> None:
    with pytest.raises(InvalidInput):
        service.create_delivered(OPERATOR, KeySpec(DEFAULT_TENANT, "live", ["no:such"]), address)
    assert _intents(runtime) == []
    assert targets.open(address).current() is None


@pytest.mark.parametrize("backend", ["openbao"], indirect=True)
def test_rehash_reads_delivered_keys_back_and_moves_them_to_the_current_pepper(
    runtime: Runtime, clock: ManualClock, service: RotationService, targets: Targets, address: str
) -> None:
    created = service.create_delivered(OPERATOR, SPEC, address)
    v2 = Pepper("v2", ("second-pepper-" + "fedcba9876543210" * 3).encode())
    ring = PepperRing(v2, [runtime.peppers.current])
    rotated_ring = RotationService(runtime.sessions, runtime.keys, ring, clock, targets)
    assert rotated_ring.rehash_delivered() == 1
    assert rotated_ring.rehash_delivered() == 0  # already moved
    with runtime.sessions() as session:
        row = session.get(ApiKey, created.key.id)
        assert row is not None and row.pepper_version == "v2"
    only_v2 = Verifier(runtime.sessions, PepperRing(v2), clock, cache(clock))
    value = targets.open(address).current()
    assert value is not None and only_v2.verify(value.reveal()).allowed  # v1 no longer needed


def test_a_vault_that_is_not_configured_fails_before_anything_is_written(
    runtime: Runtime, clock: ManualClock
) -> None:
    unconfigured = RotationService(
        runtime.sessions, runtime.keys, runtime.peppers, clock, Targets()
    )
    with pytest.raises(KeyguardError, match="no OpenBao connection"):
        unconfigured.create_delivered(OPERATOR, SPEC, "openbao:secret/apps/x")
    assert _intents(runtime) == []


@pytest.mark.parametrize("backend", ["openbao"], indirect=True)
def test_a_new_key_and_a_successor_each_count_one_delivery_and_a_failed_stage_a_rollback(
    service: RotationService, address: str
) -> None:
    created = service.create_delivered(OPERATOR, SPEC, address)
    rotated = service.rotate_delivered(OPERATOR, created.key.id)
    with pytest.raises(KeyguardError):  # a mount that does not exist: the stage write fails
        service.rotate_delivered(OPERATOR, rotated.key.id, "openbao:no-such-mount/app")
    assert service.outcomes == {"delivered": 2, "rolled_back": 1}


@pytest.mark.parametrize("backend", ["openbao"], indirect=True)
def test_a_key_the_database_refuses_is_taken_back_out_of_the_target(
    runtime: Runtime, service: RotationService, targets: Targets, address: str
) -> None:
    with pytest.raises(KeyguardError):  # staged first, then refused: no such tenant
        service.create_delivered(
            OPERATOR, KeySpec("no-such-tenant", "live", ["mail:send"]), address
        )
    [intent] = _intents(runtime)
    assert (intent.state, intent.detail) == ("rolled_back", "the key could not be created")
    assert targets.open(address).pending(intent.id) is None
    assert targets.open(address).current() is None
    assert service.outcomes == {"rolled_back": 1}
