"""Denial bursts: a key refused on many endpoints, or for many foreign sender domains.

A client with a missing scope fails on the same call again and again; a stolen key being
explored fails on many. So these rules count distinct endpoints (those the key never used
successfully) and distinct sender domains within a window, not denials.
"""

from __future__ import annotations

from keyguard.monitoring.alerts import Finding
from keyguard.monitoring.rules.base import Observation, Rule


class EndpointProbing(Rule):
    name = "endpoint_probing"
    outcomes = frozenset({"denied_scope"})

    def check(self, o: Observation) -> Finding | None:
        key = o.key
        if key is None or o.endpoint in key.endpoints:
            return None  # refused where it used to work: a scope was removed, not probing
        window = key.window("endpoints", self.config.probe_window)
        distinct = window.add(o.endpoint, o.t)
        if distinct != self.config.probe_endpoints:
            return None
        return self.finding(
            o,
            "high",
            f"refused for missing scope on {distinct} different endpoints in "
            f"{(o.t - window.first()) / 60:.1f} minutes; the key's usual endpoints are "
            f"{', '.join(sorted(key.endpoints)[:5]) or 'none yet'}",
            first_t=window.first(),
            endpoints=sorted(window.items),
            usual_endpoints=sorted(key.endpoints)[:10],
            ip=o.ev.ip,
            user_agent=o.ev.user_agent,
        )


class SenderProbing(Rule):
    name = "sender_probing"
    outcomes = frozenset({"denied_sender"})

    def check(self, o: Observation) -> Finding | None:
        key, sender = o.key, o.ev.sender
        if key is None or not sender:
            return None
        domain = sender.rpartition("@")[2].lower()
        window = key.window("senders", self.config.probe_window)
        distinct = window.add(domain, o.t)
        if distinct != self.config.probe_sender_domains:
            return None
        return self.finding(
            o,
            "high",
            f"refused as sender for {distinct} different domains in "
            f"{(o.t - window.first()) / 60:.1f} minutes; the key's senders are "
            f"{', '.join(sorted(key.senders)[:5]) or 'none yet'}",
            first_t=window.first(),
            sender_domains=sorted(window.items),
            usual_senders=sorted(key.senders)[:10],
            ip=o.ev.ip,
        )
