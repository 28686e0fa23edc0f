"""Revoked, rotated-out, expired and dormant keys."""

from __future__ import annotations

from tests.unit.monitoring.factory import Trace, at, event

FOREIGN = {"ip": "203.0.113.50", "asn": 64999, "geo": "DE", "user_agent": "curl/8.4.0"}


def test_a_revoked_key_from_a_foreign_network_is_high() -> None:
    trace = Trace()
    end = trace.history(days=4)
    alerts = trace.feed(event(end + 1, outcome="revoked", status=401, **FOREIGN))
    assert [(a.rule, a.severity) for a in alerts] == [("revoked_key_use", "high")]
    assert alerts[0].evidence["known_origin"] is False


def test_a_cron_retrying_with_a_deleted_key_raises_one_alert_not_a_stream() -> None:
    trace = Trace()
    end = trace.history(days=4)
    for minute in range(0, 3 * 24 * 60, 5):  # every five minutes for three days
        trace.feed(event(end + minute / 60, outcome="revoked", status=401))
    assert [(a.rule, a.severity) for a in trace.alerts] == [("revoked_key_use", "info")]


def test_a_suspended_key_in_use_is_reported_with_its_state() -> None:
    trace = Trace()
    alerts = trace.feed(event(1, outcome="suspended", status=401, **FOREIGN))
    assert alerts[0].rule == "revoked_key_use"
    assert alerts[0].evidence["state"] == "suspended"


def test_a_rotated_out_key_from_a_foreign_network_is_high() -> None:
    trace = Trace()
    end = trace.history(days=4)
    alerts = trace.feed(
        event(end + 1, outcome="revoked", status=401, code="key_rotated", **FOREIGN)
    )
    assert [(a.rule, a.severity) for a in alerts] == [("rotated_key_use", "high")]


def test_a_straggler_of_a_rotation_on_the_keys_own_server_stays_quiet() -> None:
    trace = Trace()
    end = trace.history(days=4)
    trace.feed(
        *[event(end + i / 60, outcome="revoked", status=401, code="key_rotated") for i in range(3)]
    )
    assert trace.alerts == []


def test_a_rotation_overlap_stays_quiet() -> None:
    # During the grace window the old and the new key both work from the same servers.
    trace = Trace()
    end = trace.history(days=4, key_id="key_old")
    trace.history(days=1, start=end, key_id="key_old")
    trace.history(days=2, start=end, key_id="key_new")
    assert trace.alerts == []


def test_an_expired_key_from_a_foreign_network_is_medium() -> None:
    trace = Trace()
    end = trace.history(days=4)
    alerts = trace.feed(event(end + 1, outcome="expired", status=401, **FOREIGN))
    assert [(a.rule, a.severity) for a in alerts] == [("expired_key_use", "medium")]


def test_first_use_after_long_dormancy_is_reported_with_the_idle_time() -> None:
    trace = Trace()
    last = at(-60 * 24)  # sixty days before
    alerts = trace.feed(event(0, key_last_used_at=last, **FOREIGN))
    assert [(a.rule, a.severity) for a in alerts] == [("dormant_key_use", "high")]
    assert alerts[0].evidence["idle_days"] == 60.0


def test_dormancy_is_also_seen_within_a_replay() -> None:
    trace = Trace()
    trace.feed(event(0))
    alerts = trace.feed(event(40 * 24))
    assert [a.rule for a in alerts] == ["dormant_key_use"]
    assert alerts[0].severity == "medium"  # from its usual network


def test_a_weekly_job_is_not_dormant() -> None:
    trace = Trace()
    for week in range(4):
        trace.feed(event(week * 7 * 24, key_last_used_at=at((week - 1) * 7 * 24)))
    assert trace.alerts == []
