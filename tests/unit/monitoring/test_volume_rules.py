"""Volume against the key's own hour-of-week baseline; bulk at quiet hours; quota."""

from __future__ import annotations

from tests.unit.monitoring.factory import Trace, event

CAMPAIGN = {"path": "/v1/campaigns/c1/send", "scope": "campaigns:send"}


def _office_hours(trace: Trace, days: int, per_request: int = 10, start_day: int = 0) -> float:
    """Mail every ten minutes from 08:00 to 18:00 and one message an hour at night."""
    for day in range(start_day, start_day + days):
        for hour in range(24):
            base = day * 24 + hour
            if 8 <= hour < 18:
                trace.feed(*[event(base + m / 6, recipients=per_request) for m in range(6)])
            else:
                trace.feed(event(base + 0.5))
    return (start_day + days) * 24.0


def test_a_spike_over_the_hours_baseline_is_high() -> None:
    trace = Trace()
    end = _office_hours(trace, 7) + 10  # Monday 10:00, a busy hour: 60 usually
    alerts = trace.feed(*[event(end + i / 600, recipients=50) for i in range(40)])
    assert [(a.rule, a.severity) for a in alerts] == [("volume_spike", "high")]
    evidence = alerts[0].evidence
    assert evidence["usual_for_this_hour"] >= 50
    assert evidence["hour_volume"] > evidence["limit"]


def test_a_declared_campaign_of_unusual_size_is_expected_volume() -> None:
    trace = Trace()
    end = _office_hours(trace, 7) + 10
    trace.feed(*[event(end + i / 600, recipients=1000, **CAMPAIGN) for i in range(100)])
    assert trace.alerts == []


def test_traffic_growth_after_a_launch_moves_the_baseline() -> None:
    trace = Trace()
    end = _office_hours(trace, 7)
    _office_hours(trace, 7, per_request=25, start_day=7)  # 2.5x from the launch on
    assert end > 0
    assert trace.alerts == []


def test_bulk_at_an_hour_the_key_is_normally_quiet_is_reported() -> None:
    trace = Trace()
    end = _office_hours(trace, 7) + 3  # Monday 03:00
    alerts = trace.feed(*[event(end + i / 60, recipients=10) for i in range(20)])
    assert [(a.rule, a.severity) for a in alerts] == [("unusual_hour_bulk", "medium")]
    assert alerts[0].evidence["usual_for_this_hour"] <= 1.5


def test_a_nightly_digest_at_its_usual_hour_is_not_unusual() -> None:
    trace = Trace()
    for day in range(10):
        _office_hours(trace, 1, start_day=day)
        trace.feed(*[event(day * 24 + 2 + i / 60, recipients=20) for i in range(10)])
    assert trace.alerts == []


def test_a_quota_reached_for_the_first_time_after_a_week_is_medium() -> None:
    trace = Trace()
    end = trace.history(days=8)
    alerts = trace.feed(event(end, outcome="quota_exceeded", status=429))
    assert [(a.rule, a.severity) for a in alerts] == [("quota_exhaustion", "medium")]


def test_a_key_that_reaches_its_quota_every_day_is_not_news() -> None:
    trace = Trace()
    for day in range(10):
        trace.history(days=0.5, start=day * 24)
        trace.feed(event(day * 24 + 13, outcome="quota_exceeded", status=429))
    assert trace.alerts == []
