"""Denial bursts: endpoints, sender domains."""

from __future__ import annotations

from tests.unit.monitoring.factory import Trace, event

SCOPE = {"outcome": "denied_scope", "status": 403, "method": "GET"}
SENDER = {"outcome": "denied_sender", "status": 403}


def test_refusals_on_many_endpoints_are_probing() -> None:
    trace = Trace()
    end = trace.history(days=1)
    paths = ["/v1/contacts", "/v1/lists/42", "/v1/keys", "/v1/audit", "/v1/templates"]
    trace.feed(*[event(end + i / 60, path=p, **SCOPE) for i, p in enumerate(paths)])
    assert [(a.rule, a.severity) for a in trace.alerts] == [("endpoint_probing", "high")]
    assert "/v1/lists/{id}" in trace.alerts[0].evidence["endpoints"]


def test_one_endpoint_refused_again_and_again_is_a_missing_scope_not_probing() -> None:
    trace = Trace()
    end = trace.history(days=1)
    trace.feed(*[event(end + i / 60, path=f"/v1/contacts/{i}", **SCOPE) for i in range(50)])
    assert trace.alerts == []


def test_refusals_for_many_foreign_sender_domains_are_probing() -> None:
    trace = Trace()
    end = trace.history(days=1)
    senders = ["ceo@bank.example", "it@other.example", "x@third.example"]
    trace.feed(*[event(end + i / 60, sender=s, **SENDER) for i, s in enumerate(senders)])
    assert [(a.rule, a.severity) for a in trace.alerts] == [("sender_probing", "high")]
    assert trace.alerts[0].evidence["usual_senders"] == ["news@brand.example"]


def test_one_misconfigured_sender_domain_is_not_probing() -> None:
    trace = Trace()
    end = trace.history(days=1)
    trace.feed(*[event(end + i / 60, sender="news@brand.exmaple", **SENDER) for i in range(30)])
    assert trace.alerts == []
