"""Invalid keys: guessing from one address, sprays over many."""

from __future__ import annotations

from tests.unit.monitoring.factory import Trace, event, invalid


def test_many_invalid_keys_from_one_address_is_guessing() -> None:
    trace = Trace()
    trace.feed(*[invalid(1 + i / 600, "203.0.113.9") for i in range(60)])  # one every 6 s
    assert [(a.rule, a.severity, a.key_id) for a in trace.alerts] == [
        ("key_guessing", "high", None)
    ]
    alert = trace.alerts[0]
    assert alert.evidence["ip"] == "203.0.113.9"
    assert alert.evidence["attempts"] == 20
    assert alert.first_event_ts == "2026-11-02T01:00:00.000Z"


def test_a_misconfigured_client_retrying_every_minute_is_not_guessing() -> None:
    trace = Trace()
    trace.feed(*[invalid(1 + i / 60, "203.0.113.9") for i in range(240)])
    assert trace.alerts == []


def test_guessing_from_a_network_with_successful_use_is_low() -> None:
    trace = Trace()
    trace.feed(event(0))
    trace.feed(*[invalid(1 + i / 600, "198.51.100.77") for i in range(30)])
    assert [(a.rule, a.severity) for a in trace.alerts] == [("key_guessing", "low")]


def test_invalid_keys_from_many_addresses_at_once_is_a_spray() -> None:
    trace = Trace()
    trace.feed(*[invalid(i / 10, f"192.0.{i % 3}.{i % 200}") for i in range(40)])  # background
    burst = [invalid(5 + i / 3600, f"100.{i % 200}.{i}.1") for i in range(200)]
    trace.feed(*burst)
    assert [(a.rule, a.key_id) for a in trace.alerts] == [("key_spray", None)]
    assert trace.alerts[0].evidence["addresses"] >= 20


def test_background_noise_of_invalid_keys_is_no_spray() -> None:
    trace = Trace()
    # Three strangers every ten minutes for two days, each a different address.
    trace.feed(*[invalid(i / 18, f"100.{i % 250}.{i // 250}.{i % 9}") for i in range(18 * 48)])
    assert trace.alerts == []
