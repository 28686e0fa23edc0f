"""The review rules on hand-built keys: each fires on its case and stays quiet on a twin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keyguard.policy import build_restrictions
from keyguard.review import Recommendation, ReviewPolicy
from keyguard.review.findings import KeyFacts, Observed, finding_id, review_key
from tests.unit.review.factories import view

NOW = datetime(2026, 6, 1, 10, tzinfo=UTC)
POLICY = ReviewPolicy()


def seen(count: int = 12, **attributes: object) -> Observed:
    observed = Observed()
    values: dict[str, object] = {
        "scope": "mail:send",
        "ip": "203.0.113.7",
        "asn": None,
        "sender": None,
        "user_agent": "acme-mailer/2.1",
    }
    values.update(attributes)
    observed.add(count, **values, ci_asns=frozenset({64500}))  # type: ignore[arg-type]
    return observed


def kinds(facts: KeyFacts, policy: ReviewPolicy = POLICY) -> dict[str, Recommendation]:
    return {f.kind: f.recommendation for f in review_key(facts, policy)}


def test_a_key_unused_for_the_window_is_proposed_for_revocation() -> None:
    facts = KeyFacts(view(NOW, last_used_at=NOW - timedelta(days=45)), Observed(), NOW)
    assert kinds(facts)["unused_key"].action == "revoke"


def test_a_key_used_within_the_window_is_not_unused() -> None:
    facts = KeyFacts(view(NOW, last_used_at=NOW - timedelta(days=3)), Observed(), NOW)
    assert "unused_key" not in kinds(facts)


def test_a_key_younger_than_the_window_is_not_unused() -> None:
    facts = KeyFacts(view(NOW, age=timedelta(days=5)), Observed(), NOW)
    assert "unused_key" not in kinds(facts)


def test_unused_scopes_propose_the_set_that_covers_observed_use() -> None:
    key = view(NOW, scopes=("contacts:*", "mail:send", "stats:read"))
    proposal = kinds(KeyFacts(key, seen(), NOW))["unused_scopes"]
    assert (proposal.action, proposal.scopes) == ("rotate", ("mail:send",))


def test_a_key_using_all_its_scopes_has_no_unused_scopes() -> None:
    assert "unused_scopes" not in kinds(KeyFacts(view(NOW), seen(), NOW))


def test_requests_without_a_scope_block_the_scope_proposal() -> None:
    key = view(NOW, scopes=("mail:send", "stats:read"))
    observed = seen()
    observed.add(1, scope=None, ip="203.0.113.7", asn=None, sender=None, user_agent=None)
    assert "unused_scopes" not in kinds(KeyFacts(key, observed, NOW))


def test_too_few_requests_propose_no_narrower_scopes() -> None:
    key = view(NOW, scopes=("mail:send", "stats:read"))
    assert "unused_scopes" not in kinds(KeyFacts(key, seen(count=3), NOW))


def test_a_key_from_few_networks_gets_an_allowlist_of_them() -> None:
    observed = seen()
    observed.add(5, scope="mail:send", ip="198.51.100.20", asn=None, sender=None, user_agent=None)
    proposal = kinds(KeyFacts(view(NOW), observed, NOW))["unrestricted_networks"]
    assert proposal.allowed_cidrs == ("198.51.100.0/24", "203.0.113.0/24")


def test_an_allowlisted_key_gets_no_allowlist_proposal() -> None:
    key = view(NOW, restrictions=build_restrictions(allowed_cidrs=["203.0.113.0/24"]))
    assert "unrestricted_networks" not in kinds(KeyFacts(key, seen(), NOW))


def test_a_key_from_many_networks_gets_no_allowlist_proposal() -> None:
    observed = Observed()
    for n in range(4):
        observed.add(
            3, scope="mail:send", ip=f"192.0.{n}.1", asn=None, sender=None, user_agent=None
        )
    assert "unrestricted_networks" not in kinds(KeyFacts(view(NOW), observed, NOW))


def test_a_key_sending_from_few_domains_gets_a_sender_restriction() -> None:
    observed = seen(sender="news@Brand.example")
    proposal = kinds(KeyFacts(view(NOW), observed, NOW))["unrestricted_senders"]
    assert proposal.sender_domains == ("brand.example",)


def test_a_sender_restricted_key_gets_no_sender_proposal() -> None:
    key = view(NOW, restrictions=build_restrictions(sender_domains=["brand.example"]))
    assert "unrestricted_senders" not in kinds(KeyFacts(key, seen(sender="a@brand.example"), NOW))


def test_a_key_older_than_the_tenant_policy_is_overdue() -> None:
    facts = KeyFacts(view(NOW, age=timedelta(days=100)), seen(), NOW)
    assert kinds(facts)["rotation_overdue"].action == "rotate"
    assert "rotation_overdue" not in kinds(KeyFacts(view(NOW, age=timedelta(days=80)), seen(), NOW))


def test_a_key_with_its_own_rotate_every_is_held_to_it() -> None:
    key = view(NOW, age=timedelta(days=40))
    assert "rotation_overdue" in kinds(KeyFacts(key, seen(), NOW, rotate_every=timedelta(days=30)))
    assert "rotation_overdue" not in kinds(
        KeyFacts(key, seen(), NOW, rotate_every=timedelta(days=60))
    )


def test_a_key_expiring_within_the_notice_is_reported() -> None:
    assert "expiring_soon" in kinds(KeyFacts(view(NOW, expires_in=timedelta(days=10)), seen(), NOW))
    assert "expiring_soon" not in kinds(
        KeyFacts(view(NOW, expires_in=timedelta(days=20)), seen(), NOW)
    )


def test_an_unused_keys_write_is_proposed_away() -> None:
    key = view(NOW, scopes=("keys:write", "mail:send"))
    proposal = kinds(KeyFacts(key, seen(), NOW))["holds_keys_write"]
    assert (proposal.action, proposal.scopes) == ("rotate", ("mail:send",))


def test_a_used_keys_write_is_reported_without_a_change() -> None:
    key = view(NOW, scopes=("keys:write", "mail:send"))
    observed = seen()
    observed.add(2, scope="keys:write", ip="203.0.113.7", asn=None, sender=None, user_agent=None)
    assert kinds(KeyFacts(key, observed, NOW))["holds_keys_write"].action == "none"
    assert "holds_keys_write" not in kinds(KeyFacts(view(NOW), seen(), NOW))


def test_a_test_key_on_a_production_network_is_reported() -> None:
    facts = KeyFacts(
        view(NOW, env="test"), seen(), NOW, production_networks=frozenset({"203.0.113.0/24"})
    )
    assert "test_key_on_production_network" in kinds(facts)


def test_a_test_key_elsewhere_and_a_live_key_on_production_are_not() -> None:
    prod = frozenset({"198.51.100.0/24"})
    assert "test_key_on_production_network" not in kinds(
        KeyFacts(view(NOW, env="test"), seen(), NOW, production_networks=prod)
    )
    live = frozenset({"203.0.113.0/24"})
    assert "test_key_on_production_network" not in kinds(
        KeyFacts(view(NOW), seen(), NOW, production_networks=live)
    )


def test_a_live_key_used_from_ci_is_reported() -> None:
    by_agent = seen(user_agent="python-httpx/0.27 GitHub-Actions")
    assert "live_key_from_ci" in kinds(KeyFacts(view(NOW), by_agent, NOW))
    by_asn = seen(asn=64500)
    assert "live_key_from_ci" in kinds(KeyFacts(view(NOW), by_asn, NOW))


def test_a_live_key_from_an_app_and_a_test_key_from_ci_are_not() -> None:
    assert "live_key_from_ci" not in kinds(KeyFacts(view(NOW), seen(asn=64501), NOW))
    ci = seen(user_agent="gitlab-runner 16.0")
    assert "live_key_from_ci" not in kinds(KeyFacts(view(NOW, env="test"), ci, NOW))


def test_finding_ids_depend_on_the_key_the_rule_and_the_proposal_only() -> None:
    narrow = Recommendation("rotate", scopes=("mail:send",), text="one wording")
    reworded = Recommendation("rotate", scopes=("mail:send",), text="another")
    other = Recommendation("rotate", scopes=("mail:send", "stats:read"))
    assert finding_id("key_a", "unused_scopes", narrow) == finding_id(
        "key_a", "unused_scopes", reworded
    )
    assert finding_id("key_a", "unused_scopes", narrow) != finding_id(
        "key_a", "unused_scopes", other
    )
    assert finding_id("key_a", "unused_scopes", narrow) != finding_id(
        "key_b", "unused_scopes", narrow
    )
