"""Recommendations drawn from an investigation report's facts: what to change so that the
next leak of this kind does less."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from keyguard.incidents.report_views import Report
from keyguard.policy import SCOPES, grants

# An allowlist is proposed when this share of legitimate use came from at most MAX_CIDRS.
ALLOWLIST_SHARE: Final = 0.99
MAX_CIDRS: Final = 3


def recommend(report: Report, legit: dict[str, int]) -> list[str]:
    """What to change so that the next leak of this kind does less, from the facts."""
    found: list[str] = []
    restrictions = report.key["restrictions"]
    legit = {network: count for network, count in legit.items() if count}
    total = sum(legit.values())
    if total and not restrictions.get("allowed_cidrs"):
        ranked = sorted(legit.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CIDRS]
        share = sum(count for _, count in ranked) / total
        if share >= ALLOWLIST_SHARE:
            networks = ", ".join(n for n, _ in ranked)
            found.append(
                f"add a CIDR allowlist: {share:.0%} of legitimate use came from "
                f"{len(ranked)} network{'s' if len(ranked) != 1 else ''} ({networks})"
            )
    unused = [s for s in _granted(report.key["scopes"]) if not report.scopes_used.get(s)]
    if unused:
        found.append(
            f"narrow scopes: {', '.join(unused)} {'was' if len(unused) == 1 else 'were'} never used"
        )
    if report.mail.senders and not restrictions.get("sender_domains"):
        found.append("restrict sender domains: the key may send as any verified domain")
    if not report.deliveries:
        found.append(
            "enable vault delivery: the successor then reaches services without a "
            "person seeing it (keyguard keys deliver)"
        )
    if not any(d.get("rotate_every_seconds") for d in report.deliveries):
        found.append("rotate on a schedule (--rotate-every), so a leaked key expires by itself")
    if report.keys_created:
        found.append(
            f"review the {len(report.keys_created)} key(s) this key created "
            "(incident contain --cascade revokes them)"
        )
    if "keys:write" in _granted(report.key["scopes"]) and not report.scopes_used.get("keys:write"):
        found.append("drop keys:write: a leaked key that can make keys outlives its revocation")
    return found


def _granted(scopes: Iterable[str]) -> list[str]:
    held = frozenset(scopes)
    return sorted(s for s in SCOPES if grants(held, s))
