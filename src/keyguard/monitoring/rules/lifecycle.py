"""Keys that should not be in use: revoked, rotated out, expired, or dormant for long.

IAM last-accessed and GuardDuty's credential findings: a dead key presented from where the
key never ran is someone holding a copy; from its own servers it is a forgotten client —
worth one note, not a stream (de-duplication keeps a retrying cron to one alert).
"""

from __future__ import annotations

from typing import ClassVar

from keyguard.monitoring.alerts import Finding, Severity, iso
from keyguard.monitoring.config import DAY
from keyguard.monitoring.network import describe_network
from keyguard.monitoring.rules.base import DORMANT, Observation, Rule


def _origin(o: Observation) -> dict[str, object]:
    ev = o.ev
    return {
        "ip": ev.ip,
        "network": describe_network(o.network) if o.network else None,
        "asn": ev.asn,
        "country": ev.geo,
        "user_agent": ev.user_agent,
    }


class _DeadKey(Rule):
    state: ClassVar[str]
    foreign: ClassVar[Severity] = "high"

    def check(self, o: Observation) -> Finding | None:
        known = o.known_origin()
        state = self.state or o.ev.outcome
        if known:
            summary = (
                f"a {state} key is still presented from a network this key or tenant "
                "uses: a client was not updated"
            )
        else:
            summary = (
                f"a {state} key was presented from a network neither this key nor its "
                "tenant ever used: someone holds a copy of it"
            )
        return self.finding(
            o,
            "info" if known else self.foreign,
            summary,
            known_origin=known,
            state=state,
            last_ok_use=iso(o.previous_use) if o.previous_use else None,
            extra=_origin(o),
        )


class RevokedKeyUse(_DeadKey):
    name = "revoked_key_use"
    outcomes = frozenset({"revoked", "suspended"})
    state = ""  # the event's own: revoked or suspended

    def check(self, o: Observation) -> Finding | None:
        if o.ev.code == "key_rotated":
            return None  # RotatedKeyUse reads those
        return super().check(o)


class RotatedKeyUse(_DeadKey):
    name = "rotated_key_use"
    outcomes = frozenset({"revoked"})
    state = "rotated-out"

    def check(self, o: Observation) -> Finding | None:
        # A client of the key's own that missed the rotation refreshes by itself
        # (`key_rotated`); only a rotated-out key from elsewhere is news.
        if o.ev.code != "key_rotated" or o.known_origin():
            return None
        return super().check(o)


class ExpiredKeyUse(_DeadKey):
    name = "expired_key_use"
    outcomes = frozenset({"expired"})
    state = "expired"
    foreign = "medium"


class DormantKeyUse(Rule):
    """First use after a long silence (the previous use comes from the state or, at the
    start of a replay, from the event's `key_last_used_at`)."""

    name = "dormant_key_use"
    outcomes = frozenset({"ok"})
    gate = DORMANT

    def check(self, o: Observation) -> Finding | None:
        previous = o.previous_use
        if previous is None:
            return None
        idle = o.t - previous
        known = o.known_origin()
        return self.finding(
            o,
            "medium" if known else "high",
            f"first use in {idle / DAY:.0f} days (dormant after {self.config.dormancy / DAY:.0f})"
            + ("" if known else ", from a network the tenant never used"),
            previous_use=iso(previous),
            idle_days=round(idle / DAY, 1),
            extra=_origin(o),
        )
