"""The allowed verification's answer, rendered from a cache, is the documented model's JSON."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from keyguard.api.routes.verify import VerifyAnswer, allowed_answer
from keyguard.api.schemas import KeyPublic
from keyguard.policy.restrictions import build_restrictions
from keyguard.verification import KeySnapshot

PLAIN = KeySnapshot(
    id="key_1",
    tenant_id="default",
    env="live",
    name=None,
    display_prefix="kg_live_abcd",
    state="active",
    state_reason=None,
    expires_at=datetime(2027, 3, 1, 12, 0, tzinfo=UTC),
    grace_until=None,
    scopes=frozenset({"mail:send", "keys:read"}),
    restrictions=build_restrictions(),
    pepper_version="v1",
    digest="d" * 64,
)
RESTRICTED = replace(
    PLAIN,
    name='billing "eu" \u00e9',
    restrictions=build_restrictions(
        allowed_cidrs=["203.0.113.0/24", "2001:db8::/32"],
        sender_domains=["brand.example"],
        daily_quota=500,
        rate_limit_per_minute=60,
    ),
)


@pytest.mark.parametrize("key", [PLAIN, RESTRICTED], ids=["plain", "restricted"])
def test_the_rendered_answer_is_the_models(key: KeySnapshot) -> None:
    model = VerifyAnswer(valid=True, outcome="ok", key=KeyPublic.of(key)).model_dump_json()
    assert allowed_answer(key) == model
    assert json.loads(allowed_answer(key))["key"]["scopes"] == ["keys:read", "mail:send"]


def test_a_key_that_changed_is_rendered_anew() -> None:
    before = allowed_answer(PLAIN)
    narrowed = replace(PLAIN, scopes=frozenset({"keys:read"}))
    assert json.loads(allowed_answer(narrowed))["key"]["scopes"] == ["keys:read"]
    assert allowed_answer(PLAIN) == before
    moved = replace(PLAIN, restrictions=build_restrictions(allowed_cidrs=["198.51.100.0/24"]))
    cidrs = json.loads(allowed_answer(moved))["key"]["restrictions"]["allowed_cidrs"]
    assert [ipaddress.ip_network(c) for c in cidrs] == [ipaddress.ip_network("198.51.100.0/24")]
