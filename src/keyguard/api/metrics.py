"""Prometheus metrics of one app: request latency, verification latency, and counters read
from the runtime (verifications by outcome, rate-limit hits, usage-writer queue) at scrape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from keyguard.mail import MailCollector
from keyguard.runtime import Runtime

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class RuntimeCollector(Collector):
    """Counters the domain keeps as plain numbers, exported without touching the hot path."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime = self._runtime
        outcomes = CounterMetricFamily(
            "keyguard_verifications", "Key verifications by outcome.", labels=["outcome"]
        )
        for outcome, count in sorted(runtime.verifier.outcomes.items()):
            outcomes.add_metric([outcome], count)
        yield outcomes
        rotations = CounterMetricFamily(
            "keyguard_rotation_outcomes",
            "Vault deliveries and reconciliations of key rotation, by outcome.",
            labels=["outcome"],
        )
        for outcome, count in sorted(runtime.rotation.outcomes.items()):
            rotations.add_metric([outcome], count)
        yield rotations
        hits = CounterMetricFamily(
            "keyguard_rate_limit_hits",
            "Requests refused by a rate limit (rate) or a daily quota (quota).",
            labels=["kind"],
        )
        for kind in ("rate", "quota"):
            hits.add_metric([kind], runtime.limits.hits[kind])
        yield hits
        yield CounterMetricFamily(
            "keyguard_rate_limit_backend_errors",
            "Rate-limit decisions the backend (Redis) could not make.",
            value=runtime.limits.backend_errors,
        )
        deliveries = CounterMetricFamily(
            "keyguard_webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, retried, failed).",
            labels=["outcome"],
        )
        for outcome in ("delivered", "retried", "failed"):
            deliveries.add_metric([outcome], runtime.deliveries.outcomes[outcome])
        yield deliveries
        yield GaugeMetricFamily(
            "keyguard_usage_writer_queue_depth",
            "Usage events waiting in memory for the next batch.",
            value=runtime.usage.depth(),
        )
        yield CounterMetricFamily(
            "keyguard_usage_events_written", "Usage events stored.", value=runtime.usage.written
        )
        yield CounterMetricFamily(
            "keyguard_usage_events_dropped",
            "Usage events lost (queue full or rows refused by the database).",
            value=runtime.usage.dropped,
        )


class Metrics:
    """A registry per app, so that several apps in one process (tests) never collide."""

    def __init__(self, runtime: Runtime) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "keyguard_http_request_duration_seconds",
            "HTTP request latency by method, route template and status.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lookup_seconds = Histogram(
            "keyguard_verification_lookup_duration_seconds",
            "Verifications the cache could not answer: the database lookup, in a thread.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(RuntimeCollector(runtime))
        self.registry.register(MailCollector(runtime.mail))

    def render(self) -> bytes:
        return generate_latest(self.registry)
