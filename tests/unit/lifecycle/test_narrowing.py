"""A rotation may narrow its successor's powers (an access review's proposal), never widen them."""

from __future__ import annotations

import pytest

from keyguard.errors import PermissionDenied
from keyguard.lifecycle import OPERATOR, Narrowing
from keyguard.policy import build_restrictions
from keyguard.runtime import Runtime
from tests.conftest import create_key


def test_a_narrowed_successor_has_the_fewer_scopes(runtime: Runtime) -> None:
    old = create_key(runtime, scopes=["mail:send", "stats:read"])
    new = runtime.keys.rotate(OPERATOR, old.view.id, narrowing=Narrowing(scopes=["mail:send"]))
    assert new.view.scopes == ("mail:send",)
    assert runtime.keys.show(OPERATOR, old.view.id).scopes == ("mail:send", "stats:read")


def test_a_narrowed_successor_keeps_the_restrictions_not_named(runtime: Runtime) -> None:
    held = build_restrictions(sender_domains=["brand.example"], daily_quota=100)
    old = create_key(runtime, restrictions=held)
    tighter = build_restrictions(
        allowed_cidrs=["203.0.113.0/24"], sender_domains=["brand.example"], daily_quota=100
    )
    new = runtime.keys.rotate(OPERATOR, old.view.id, narrowing=Narrowing(restrictions=tighter))
    assert new.view.restrictions == tighter


def test_even_an_operator_cannot_widen_through_a_narrowing(runtime: Runtime) -> None:
    old = create_key(runtime, scopes=["mail:send"])
    with pytest.raises(PermissionDenied):
        runtime.keys.rotate(OPERATOR, old.view.id, narrowing=Narrowing(scopes=["keys:write"]))
    allowlisted = create_key(runtime, restrictions=build_restrictions(allowed_cidrs=["10.0.0.0/8"]))
    with pytest.raises(PermissionDenied):
        runtime.keys.rotate(
            OPERATOR, allowlisted.view.id, narrowing=Narrowing(restrictions=build_restrictions())
        )
    assert runtime.keys.show(OPERATOR, old.view.id).state == "active"
