"""New networks and providers, countries, environments, IP allowlists."""

from __future__ import annotations

from tests.unit.monitoring.factory import Trace, event


def test_a_new_provider_for_a_stable_key_is_medium_and_high_with_a_new_client() -> None:
    trace = Trace()
    end = trace.history(days=7)
    same_client = trace.feed(event(end, ip="192.0.2.7", asn=64777))
    assert [(a.rule, a.severity) for a in same_client] == [("new_network", "medium")]
    evidence = same_client[0].evidence
    assert evidence["known_providers"] == [64500]
    assert evidence["known_networks"] == ["198.51.100.0/24"]

    other = Trace()
    end = other.history(days=7)
    new_client = other.feed(event(end, ip="192.0.2.7", asn=64777, user_agent="curl/8.4.0"))
    assert [(a.rule, a.severity) for a in new_client] == [("new_network", "high")]


def test_a_migration_within_the_provider_stays_quiet() -> None:
    trace = Trace()
    end = trace.history(days=7)
    trace.history(days=3, start=end, ip="198.51.77.3")  # another /24 of the same ASN
    assert trace.alerts == []


def test_cloud_scale_out_and_ci_runners_on_fresh_addresses_stay_quiet() -> None:
    trace = Trace()
    end = trace.history(days=7)
    for i in range(200):
        trace.feed(event(end + i * 0.1, ip=f"10.{i % 250}.{i // 250}.{i % 7}"))
    assert trace.alerts == []


def test_without_asn_the_coarse_network_stands_for_the_provider() -> None:
    trace = Trace()
    end = trace.history(days=7, asn=None)
    trace.feed(event(end, ip="198.51.3.9", asn=None))  # same /16: renumbered
    assert trace.alerts == []
    alerts = trace.feed(event(end + 1, ip="203.0.113.9", asn=None))
    assert [a.rule for a in alerts] == ["new_network"]


def test_a_provider_another_key_of_the_tenant_uses_is_not_new() -> None:
    trace = Trace()
    trace.history(days=7, key_id="key_b", ip="192.0.2.10", asn=64777)
    end = trace.history(days=7)
    trace.feed(event(end, ip="192.0.2.7", asn=64777))
    assert trace.alerts == []


def test_a_key_without_stable_history_is_still_learning() -> None:
    trace = Trace()
    end = trace.history(days=1)
    trace.feed(event(end, ip="192.0.2.7", asn=64777))
    assert trace.alerts == []


def test_an_attackers_network_does_not_become_known_to_the_tenant() -> None:
    trace = Trace()
    trace.history(days=7, key_id="key_b")
    end = trace.history(days=7)
    attacker = {"ip": "192.0.2.7", "asn": 64777, "user_agent": "curl/8.4.0"}
    trace.feed(*[event(end + i / 60, **attacker) for i in range(30)])
    second = trace.feed(event(end + 1, key_id="key_b", **attacker))
    assert [(a.key_id, a.rule) for a in second] == [("key_b", "new_network")]


def test_use_from_another_country_while_the_key_is_in_use_at_home_is_impossible_travel() -> None:
    trace = Trace()
    end = trace.history(days=7)
    alerts = trace.feed(event(end, ip="192.0.2.7", asn=64777, geo="BR"))
    assert [(a.rule, a.severity) for a in alerts] == [("country_change", "high")]
    assert alerts[0].evidence["previous_country"] == "DE"


def test_a_person_travelling_is_at_most_low_and_one_alert() -> None:
    trace = Trace()
    dev = {"key_id": "key_dev", "env": "dev", "recipients": None, "sender": None}
    end = trace.history(days=7, every=2, **dev)
    trace.feed(event(end + 14, ip="192.0.2.7", asn=64777, geo="JP", **dev))  # after a flight
    trace.history(days=3, every=2, start=end + 14.5, ip="192.0.2.7", asn=64777, geo="JP", **dev)
    assert [(a.rule, a.severity) for a in trace.alerts] == [("country_change", "low")]


def test_a_country_where_the_tenant_already_runs_is_not_travel() -> None:
    trace = Trace()
    trace.history(days=7, key_id="key_b", ip="192.0.2.10", asn=64777, geo="FR")
    end = trace.history(days=7, start=0.25)
    trace.feed(event(end + 5, ip="192.0.2.7", asn=64777, geo="FR"))
    assert trace.alerts == []


def test_a_live_key_from_where_only_test_keys_ran_is_an_env_mismatch() -> None:
    trace = Trace()
    ci = {"key_id": "key_ci", "env": "test", "ip": "192.0.2.20", "asn": 64500}
    trace.history(days=3, **ci)
    alerts = trace.feed(event(80, ip="192.0.2.99"))
    assert [(a.rule, a.severity) for a in alerts] == [("env_mismatch", "medium")]


def test_a_network_shared_by_live_and_test_keys_is_no_mismatch() -> None:
    trace = Trace()
    for step in range(3 * 48):  # an office NAT: an admin's live key and the CI's test key
        trace.feed(event(step / 2, key_id="key_admin", ip="192.0.2.21"))
        trace.feed(event(step / 2 + 0.1, key_id="key_ci", env="test", ip="192.0.2.20"))
    trace.feed(event(80, ip="192.0.2.99"))
    assert trace.alerts == []


def test_a_dev_key_probing_live_is_reported_once_a_mistake_is_not() -> None:
    trace = Trace()
    dev = {"key_id": "key_dev", "env": "dev", "outcome": "denied_env", "status": 403}
    trace.feed(event(1, **dev))
    assert trace.alerts == []
    alerts = trace.feed(event(1.1, **dev), event(1.2, **dev))
    assert [(a.rule, a.severity) for a in alerts] == [("env_mismatch", "medium")]


def test_an_allowlist_refusal_from_a_foreign_provider_is_high() -> None:
    trace = Trace()
    end = trace.history(days=2)
    alerts = trace.feed(event(end, outcome="denied_ip", status=403, ip="192.0.2.7", asn=64777))
    assert [(a.rule, a.severity) for a in alerts] == [("allowlist_violation", "high")]


def test_an_office_renumbered_within_its_provider_is_refused_quietly() -> None:
    trace = Trace()
    end = trace.history(days=2)
    trace.feed(
        *[event(end + i, outcome="denied_ip", status=403, ip="198.51.7.1") for i in range(5)]
    )
    assert trace.alerts == []


def test_a_live_key_on_the_provider_of_the_tenants_ci_is_an_env_mismatch() -> None:
    trace = Trace()
    ci = {"key_id": "key_ci", "env": "test", "asn": 8075, "geo": "DE"}
    for step in range(7 * 48):  # CI runners on fresh addresses, the live key on its servers
        trace.feed(event(step / 2, ip=f"20.{step % 200}.{step // 200}.9", **ci))
        trace.feed(event(step / 2 + 0.1))
    alerts = trace.feed(event(7 * 24, ip="20.99.99.9", asn=8075))
    assert [(a.rule, a.severity) for a in alerts] == [("env_mismatch", "medium")]
    assert "provider AS8075" in alerts[0].evidence["summary"]


def test_a_dev_key_with_its_usual_client_on_a_new_network_is_routine() -> None:
    trace = Trace()
    dev = {"key_id": "key_dev", "env": "dev", "recipients": None, "sender": None}
    end = trace.history(days=7, every=2, **dev)
    trace.feed(event(end, ip="192.0.2.7", asn=64777, **dev))  # a café, same laptop
    assert trace.alerts == []
    alerts = trace.feed(event(end + 1, ip="192.0.2.8", asn=64778, user_agent="curl/8", **dev))
    assert [(a.rule, a.severity) for a in alerts] == [("new_network", "high")]
