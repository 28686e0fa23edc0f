"""The per-key sending policy, shared by HTTP, SMTP submission and campaigns."""

from __future__ import annotations

import pytest

from keyguard.errors import PermissionDenied
from keyguard.mail.addresses import parse_address
from keyguard.mail.sending import policy
from keyguard.policy.restrictions import Restrictions, build_restrictions

TENANT = policy.TenantMailPolicy(
    registered_domains=frozenset({"brand.example", "news.brand.example"}),
    internal_recipients=frozenset({"qa@brand.example", "@staff.example"}),
)


def test_a_registered_domain_is_enough_for_an_unrestricted_key() -> None:
    policy.check_sender(Restrictions(), TENANT, parse_address("a@brand.example"))


def test_an_unregistered_domain_is_denied_even_when_the_key_allows_it() -> None:
    key = build_restrictions(sender_domains=["other.example"])
    with pytest.raises(PermissionDenied) as denied:
        policy.check_sender(key, TENANT, parse_address("a@other.example"))
    assert denied.value.code == "denied_sender"


def test_a_registered_domain_outside_the_keys_list_is_denied() -> None:
    key = build_restrictions(sender_domains=["news.brand.example"])
    with pytest.raises(PermissionDenied) as denied:
        policy.check_sender(key, TENANT, parse_address("a@brand.example"))
    assert denied.value.code == "denied_sender"


def test_the_recipient_allowlist_takes_addresses_and_domains() -> None:
    key = build_restrictions(recipients=["boss@example.com", "@partner.example"])
    policy.check_recipient(key, parse_address("Boss@Example.com"))
    policy.check_recipient(key, parse_address("x@partner.example"))
    with pytest.raises(PermissionDenied) as denied:
        policy.check_recipient(key, parse_address("x@example.com"))
    assert denied.value.code == "denied_recipient"


def test_suppression_is_its_own_code_and_counts_as_a_recipient_denial() -> None:
    with pytest.raises(PermissionDenied) as denied:
        policy.check_not_suppressed(parse_address("a@example.com"), {"a@example.com"})
    assert denied.value.code == "suppressed_recipient"
    assert policy.usage_outcome(denied.value) == "denied_recipient"


def test_live_mail_goes_to_every_recipient() -> None:
    recipients = [parse_address("a@example.com"), parse_address("qa@brand.example")]
    assert policy.delivery_targets("live", recipients, TENANT) == (
        ["a@example.com", "qa@brand.example"],
        False,
    )


@pytest.mark.parametrize("env", ["test", "dev"])
def test_test_and_dev_mail_reaches_only_internal_recipients(env: str) -> None:
    recipients = [
        parse_address("a@example.com"),
        parse_address("qa@brand.example"),
        parse_address("x@staff.example"),
    ]
    assert policy.delivery_targets(env, recipients, TENANT) == (
        ["qa@brand.example", "x@staff.example"],
        True,
    )
    assert policy.delivery_targets(env, recipients[1:], TENANT)[1] is False
    assert policy.delivery_targets(env, recipients[:1], TENANT) == ([], True)
