"""A sender address the key never used, from a client it started using within the hour.

The providers' own abuse signal: a new From with the usual client is a new newsletter; a
new From from a new client is someone else's mail on this key.
"""

from __future__ import annotations

from keyguard.monitoring.alerts import Finding
from keyguard.monitoring.config import HOUR
from keyguard.monitoring.rules.base import NEW_SENDER, Observation, Rule


class NewSenderNewClient(Rule):
    name = "new_sender_new_client"
    outcomes = frozenset({"ok"})
    gate = NEW_SENDER

    def check(self, o: Observation) -> Finding | None:
        key = o.key
        if key is None or not key.senders or not key.stable(o.t, self.config):
            return None
        fresh_client = o.client not in key.clients or (
            key.new_client == o.client and o.t - key.new_client_t < HOUR
        )
        if not fresh_client:
            return None
        return self.finding(
            o,
            "high",
            f"new sender {o.ev.sender} from a client this key started using "
            f"{'just now' if o.client not in key.clients else 'within the hour'} "
            f"({o.ev.user_agent})",
            sender=o.ev.sender,
            usual_senders=sorted(key.senders)[:10],
            client=o.ev.user_agent,
            usual_clients=sorted(key.clients)[:10],
            ip=o.ev.ip,
        )
