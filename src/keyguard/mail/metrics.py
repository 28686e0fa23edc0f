"""Prometheus view of the email service's counters (read at scrape, nothing on the hot path).

Register it next to the API's own collector: `registry.register(MailCollector(runtime.mail))`.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from keyguard.mail.service import MailService


class MailCollector(Collector):
    def __init__(self, mail: MailService) -> None:
        self._mail = mail

    def collect(self) -> Iterator[Metric]:
        sending = self._mail.sending
        accepted = CounterMetricFamily(
            "keyguard_mail_accepted",
            "Messages accepted into the outbox, by status (queued, sandboxed).",
            labels=["status"],
        )
        for status, count in sorted(sending.accepted.items()):
            accepted.add_metric([status], count)
        yield accepted
        refused = CounterMetricFamily(
            "keyguard_mail_refused",
            "Messages refused before the outbox, by problem code.",
            labels=["code"],
        )
        for code, count in sorted(sending.refused.items()):
            refused.add_metric([code], count)
        yield refused
        deliveries = CounterMetricFamily(
            "keyguard_mail_deliveries",
            "Delivery attempts by the state they left the message in (sent, deferred, dead).",
            labels=["state"],
        )
        for state, count in sorted(self._mail.deliveries.items()):
            deliveries.add_metric([state], count)
        yield deliveries
