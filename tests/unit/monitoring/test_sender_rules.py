"""New sender addresses together with a new client."""

from __future__ import annotations

from tests.unit.monitoring.factory import Trace, event


def test_a_new_sender_from_a_new_client_is_high() -> None:
    trace = Trace()
    end = trace.history(days=7)
    alerts = trace.feed(event(end, sender="billing@brand.example", user_agent="curl/8.4.0"))
    assert [(a.rule, a.severity) for a in alerts] == [("new_sender_new_client", "high")]
    assert alerts[0].evidence["usual_senders"] == ["news@brand.example"]


def test_a_client_first_seen_within_the_hour_counts_as_new() -> None:
    trace = Trace()
    end = trace.history(days=7)
    trace.feed(event(end, user_agent="curl/8.4.0", path="/v1/domains", recipients=None))
    alerts = trace.feed(event(end + 0.5, sender="billing@brand.example", user_agent="curl/8.4.0"))
    assert [a.rule for a in alerts] == ["new_sender_new_client"]


def test_a_new_sender_from_the_usual_client_is_a_new_newsletter() -> None:
    trace = Trace()
    end = trace.history(days=7)
    trace.feed(event(end, sender="offers@brand.example"))
    assert trace.alerts == []


def test_a_client_library_upgrade_is_not_a_new_client() -> None:
    trace = Trace()
    end = trace.history(days=7)
    trace.feed(event(end, sender="offers@brand.example", user_agent="acme-mailer/2.0.0"))
    assert trace.alerts == []
