"""Per-key sending policy, pure: sender domains, recipient allowlist, suppressions, sandboxing.

Every check raises PermissionDenied with the code the caller sees; `usage_outcome` maps that
code to the usage-event outcome of PRODUCT.md. HTTP, SMTP submission and campaigns all call
these same functions, so the three paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final

from keyguard.errors import KeyguardError, PermissionDenied, RateLimited
from keyguard.mail.addresses import Address, matches_rule
from keyguard.policy import Restrictions

# Problem code → usage-event outcome (the outcome list in PRODUCT.md is closed).
_OUTCOMES: Final = {
    "denied_sender": "denied_sender",
    "denied_recipient": "denied_recipient",
    "suppressed_recipient": "denied_recipient",
    "quota_exceeded": "quota_exceeded",
    "rate_limited": "rate_limited",
}
DELIVERING_ENV: Final = "live"


@dataclass(frozen=True, slots=True)
class TenantMailPolicy:
    """What the tenant has set up: its registered sender domains and internal recipients."""

    registered_domains: frozenset[str]
    internal_recipients: frozenset[str]


def usage_outcome(error: KeyguardError) -> str | None:
    """The usage-event outcome of a policy denial, or None when it is not one."""
    if isinstance(error, PermissionDenied | RateLimited):
        return _OUTCOMES.get(error.code)
    return None


def check_sender(restrictions: Restrictions, tenant: TenantMailPolicy, sender: Address) -> None:
    """The sender's domain must be allowed for the key (when it says) AND registered."""
    if restrictions.sender_domains and sender.domain not in restrictions.sender_domains:
        raise PermissionDenied(f"this key may not send from {sender.domain}", code="denied_sender")
    if sender.domain not in tenant.registered_domains:
        raise PermissionDenied(
            f"{sender.domain} is not a registered sender domain of this tenant",
            code="denied_sender",
        )


def check_recipient(restrictions: Restrictions, recipient: Address) -> None:
    if restrictions.recipients and not matches_rule(recipient, restrictions.recipients):
        raise PermissionDenied(
            f"this key may not send to {recipient.addr}", code="denied_recipient"
        )


def check_not_suppressed(recipient: Address, suppressed: Collection[str]) -> None:
    if matches_rule(recipient, suppressed):
        raise PermissionDenied(
            f"{recipient.addr} is on the suppression list", code="suppressed_recipient"
        )


def delivery_targets(
    env: str, recipients: Iterable[Address], tenant: TenantMailPolicy
) -> tuple[list[str], bool]:
    """(envelope recipients the relay gets, whether a copy lands in the sandbox).

    Only `live` mail leaves the building; test and dev mail reaches the relay solely for
    recipients on the tenant's internal allowlist, everything else is captured.
    """
    addresses = list(recipients)
    if env == DELIVERING_ENV:
        return [a.addr for a in addresses], False
    internal = [a.addr for a in addresses if matches_rule(a, tenant.internal_recipients)]
    return internal, len(internal) < len(addresses)
