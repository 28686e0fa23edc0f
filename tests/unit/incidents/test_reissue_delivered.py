"""A compromised key that lived in a vault: its successor goes into that vault, unseen."""

from __future__ import annotations

import pytest

from keyguard.clock import ManualClock
from keyguard.incidents import IncidentService, OpenRequest
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.rotation.delivery import Targets
from keyguard.rotation.service import RotationService
from keyguard.runtime import Runtime

SPEC = KeySpec(tenant_id=DEFAULT_TENANT, env="live", scopes=["mail:send"], name="mailer")


@pytest.fixture
def incidents(runtime: Runtime, clock: ManualClock, service: RotationService) -> IncidentService:
    return IncidentService(runtime.sessions, runtime.keys, service, clock)


def test_the_successor_is_delivered_where_the_old_key_was(
    runtime: Runtime,
    service: RotationService,
    targets: Targets,
    address: str,
    incidents: IncidentService,
) -> None:
    old = service.create_delivered(OPERATOR, SPEC, address)
    opened = incidents.open(OPERATOR, OpenRequest(old.key.id, "leaked", reissue=True))
    successor = opened.successor
    assert successor is not None and successor.key is None
    assert successor.delivered_to == old.target
    assert opened.to_json()["successor"] == {"id": successor.id, "delivered_to": old.target}
    held = targets.open(address).current()
    assert held is not None
    decision = runtime.verifier.verify(held.reveal())
    assert decision.key is not None and decision.key.id == successor.id
    new = runtime.keys.show(OPERATOR, successor.id)
    assert (new.name, new.scopes, new.parent_id) == ("mailer", ("mail:send",), old.key.id)
    assert runtime.keys.show(OPERATOR, old.key.id).state == "revoked"
    assert service.delivery_of(successor.id) is not None  # and it rotates there from now on
