"""Scopes: validation, wildcards and the subset rule behind no-escalation."""

from __future__ import annotations

import pytest

from keyguard.errors import InvalidInput
from keyguard.policy.scopes import ALL_SCOPES, SCOPES, covers, expand, grants, normalize_scopes


def test_every_documented_scope_is_known() -> None:
    documented = {
        "mail:send", "contacts:read", "contacts:write", "lists:read", "lists:write",
        "campaigns:read", "campaigns:write", "campaigns:send", "templates:read",
        "templates:write", "stats:read", "suppressions:read", "suppressions:write",
        "sandbox:read", "webhooks:write", "keys:read", "keys:write", "keys:verify", "audit:read",
        "leaks:report",  # issue 12: a tenant's own scanners report leaked keys
        "alerts:read", "alerts:write",  # the online detector's alerts (docs/monitoring.md)
    }  # fmt: skip
    assert documented == SCOPES


@pytest.mark.parametrize("scope", ["mail:delete", "mail", "*", "*:*", "", "keys:*x", " :send"])
def test_unknown_scope_is_refused_with_its_code(scope: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_scopes([scope])
    assert info.value.code in {"unknown_scope", "scopes_required"}


def test_empty_scope_list_is_refused_because_there_is_no_default_access() -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_scopes([])
    assert info.value.code == "scopes_required"


def test_resource_wildcard_grants_every_action_of_that_resource_only() -> None:
    held = normalize_scopes(["contacts:*"])
    assert grants(held, "contacts:read")
    assert grants(held, "contacts:write")
    assert not grants(held, "lists:read")


def test_covers_refuses_a_wildcard_when_only_some_actions_are_held() -> None:
    held = frozenset({"contacts:read"})
    assert not covers(held, frozenset({"contacts:*"}))
    assert covers(frozenset({"contacts:*"}), frozenset({"contacts:read", "contacts:*"}))


def test_all_scopes_expands_to_every_scope() -> None:
    assert expand(frozenset(ALL_SCOPES)) == SCOPES
