"""Applying a finding on a key that lives in a vault: the narrowed successor goes there."""

from __future__ import annotations

from datetime import timedelta

from keyguard.clock import ManualClock
from keyguard.lifecycle import DEFAULT_TENANT, OPERATOR, KeySpec
from keyguard.review import ReviewService
from keyguard.rotation import RotationService, Targets
from keyguard.runtime import Runtime
from tests.unit.review.factories import use

SPEC = KeySpec(tenant_id=DEFAULT_TENANT, env="live", scopes=["mail:send", "stats:read"])


def test_a_delivered_key_rotates_through_its_vault_with_the_narrowed_scopes(
    runtime: Runtime,
    clock: ManualClock,
    service: RotationService,
    targets: Targets,
    address: str,
) -> None:
    delivered = service.create_delivered(OPERATOR, SPEC, address, grace=timedelta(hours=6))
    old_raw = targets.open(address).current()
    assert old_raw is not None
    reviews = ReviewService(runtime.sessions, runtime.keys, service, clock)
    clock.advance(timedelta(days=31))
    use(runtime, delivered.key, clock() - timedelta(days=2))
    target = next(f for f in reviews.review(OPERATOR).findings if f.kind == "unused_scopes")
    applied = reviews.apply(OPERATOR, target.id, grace=timedelta(hours=6))
    assert applied.raw is None and applied.delivered_to == delivered.target
    assert applied.successor is not None and applied.successor.scopes == ("mail:send",)
    held = targets.open(address).current()
    assert held is not None
    decision = runtime.verifier.verify(held.reveal(), scope="stats:read")
    assert decision.key is not None and decision.key.id == applied.successor.id
    assert decision.outcome == "denied_scope"
    assert runtime.verifier.verify(old_raw.reveal(), scope="stats:read").outcome == "ok"
    assert runtime.keys.show(OPERATOR, delivered.key.id).state == "rotating"
