"""The engine around the rules: de-duplication, bounded state, the alert format."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest
from msgspec.structs import replace

from keyguard.monitoring import Engine, EngineConfig, encode_alert
from tests.unit.monitoring.factory import Trace, event, invalid
from tests.unit.monitoring.schema import ALERT_SCHEMA

FOREIGN = {"ip": "203.0.113.50", "asn": 64999, "user_agent": "curl/8.4.0"}


def test_there_are_at_least_twelve_rules_each_with_its_own_name() -> None:
    names = [rule.name for rule in Engine().rules]
    assert len(names) >= 12
    assert len(set(names)) == len(names)


def test_an_alert_encodes_to_exactly_the_product_schema() -> None:
    trace = Trace()
    end = trace.history(days=7)
    (alert,) = trace.feed(event(end, **FOREIGN))
    data = json.loads(encode_alert(alert))
    jsonschema.validate(data, ALERT_SCHEMA)
    assert list(data) == [
        "ts",
        "key_id",
        "rule",
        "severity",
        "action",
        "first_event_ts",
        "evidence",
    ]
    assert data["ts"] == "2026-11-09T00:00:00.000Z"  # the triggering event's time
    assert data["key_id"] == "key_a"


def test_the_alert_time_is_the_events_whatever_its_zone() -> None:
    trace = Trace()
    moment = datetime(2026, 11, 2, 3, 0, 0, 123000, tzinfo=timezone(timedelta(hours=2)))
    alerts = trace.feed(replace(event(outcome="revoked", status=401, **FOREIGN), ts=moment))
    assert alerts[0].ts == "2026-11-02T01:00:00.123Z"


def test_a_condition_that_keeps_firing_is_one_alert_until_it_stops_for_a_cooldown() -> None:
    trace = Trace(EngineConfig(cooldown=3600))
    revoked = {"outcome": "revoked", "status": 401, **FOREIGN}
    trace.feed(*[event(i / 6, **revoked) for i in range(30)])  # every 10 minutes for 5 hours
    assert len(trace.alerts) == 1
    trace.feed(event(5 + 2, **revoked))  # two hours of silence, then again
    assert len(trace.alerts) == 2


def test_de_duplication_is_per_key_and_rule() -> None:
    trace = Trace()
    revoked = {"outcome": "revoked", "status": 401, **FOREIGN}
    trace.feed(event(0, **revoked), event(0.1, key_id="key_b", **revoked))
    trace.feed(event(0.2, outcome="expired", status=401, **FOREIGN))
    assert [(a.key_id, a.rule) for a in trace.alerts] == [
        ("key_a", "revoked_key_use"),
        ("key_b", "revoked_key_use"),
        ("key_a", "expired_key_use"),
    ]


def test_a_higher_severity_breaks_through_the_cooldown() -> None:
    trace = Trace()
    end = trace.history(days=4)
    trace.feed(event(end, outcome="revoked", status=401))  # its own server: info
    trace.feed(event(end + 0.1, outcome="revoked", status=401, **FOREIGN))
    assert [a.severity for a in trace.alerts] == ["info", "high"]


def test_key_state_is_capped() -> None:
    engine = Engine(EngineConfig(max_keys=100))
    for i in range(5000):
        engine.feed(event(i / 100, key_id=f"key_{i}", tenant=f"t_{i % 30}"))
    assert engine.state_sizes()["keys"] <= 100


def test_per_source_state_is_capped() -> None:
    engine = Engine(EngineConfig(max_sources=500))
    for i in range(20_000):
        engine.feed(invalid(i / 1000, f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}"))
    assert engine.state_sizes()["sources"] <= 500


def test_a_keys_baselines_are_capped() -> None:
    config = EngineConfig(max_known_networks=1000, tenant_networks=200)
    engine = Engine(config)
    for i in range(20_000):
        engine.feed(
            event(
                i / 100,
                ip=f"{i % 200}.{(i // 200) % 250}.{i % 7}.1",
                asn=i,
                geo=f"C{i % 300}",
                user_agent=f"client{i}/1",
                sender=f"s{i}@brand.example",
                path=f"/v1/thing{i % 500}x",
                recipient_domains=[f"d{i}.example"],
            )
        )
    sizes = engine.state_sizes()
    caps = (
        config.key_networks + config.key_providers + config.key_countries + config.key_clients
        + config.key_senders + config.key_endpoints + config.key_recipient_domains
    )  # fmt: skip
    assert sizes["key_entries"] <= caps
    assert sizes["known_networks"] <= 1000
    assert sizes["dedup"] <= config.dedup_entries


@pytest.mark.parametrize("ip", ["10.0.0.1", "192.168.1.20", "100.64.3.3", "192.0.2.1", "::1"])
def test_private_shared_and_documentation_ranges_are_networks_like_any_other(ip: str) -> None:
    trace = Trace()
    end = trace.history(days=7)
    alerts = trace.feed(event(end, ip=ip, asn=None, user_agent="curl/8.4.0"))
    assert [a.rule for a in alerts] == ["new_network"]
