"""The usage query service: time series, raw events and sources, within one partition."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keyguard.clock import ManualClock
from keyguard.errors import InvalidInput, NotFound
from keyguard.runtime import Runtime
from keyguard.usage import EventFilter, UsageHistory
from keyguard.verification import Owner
from tests.conftest import START, create_key
from tests.unit.usage.factories import event, write

H = timedelta(hours=1)
LIVE = Owner("default", "live")


@pytest.fixture
def history(runtime: Runtime) -> UsageHistory:
    return runtime.history


def test_hourly_buckets_count_outcomes_recipients_and_distinct_networks(
    runtime: Runtime, history: UsageHistory, clock: ManualClock
) -> None:
    key = create_key(runtime)
    write(
        runtime,
        [
            event(START - 3 * H + timedelta(minutes=5), key, recipients=2),
            event(START - 3 * H + timedelta(minutes=50), key, ip="203.0.113.99", recipients=1),
            event(START - 3 * H + timedelta(minutes=59), key, ip="198.51.100.1",
                  outcome="denied_ip"),
            event(START - 1 * H, key, ip="2001:db8:1::1"),
        ],
    )  # fmt: skip
    series = history.series(key.view.id, owner=LIVE, start=START - 4 * H, end=START, bucket="hour")
    assert [b.start for b in series.buckets] == [START - 4 * H + i * H for i in range(4)]
    counts = [
        (b.usage.requests, b.usage.recipients, b.usage.distinct_networks()) for b in series.buckets
    ]
    assert counts == [(0, 0, 0), (3, 3, 2), (0, 0, 0), (1, 0, 1)]  # /24s: 203.0.113, 198.51.100
    assert dict(series.buckets[1].usage.outcomes) == {"ok": 2, "denied_ip": 1}
    assert series.totals.requests == 4


def test_day_buckets_are_utc_days_and_count_networks_across_their_hours(
    runtime: Runtime, history: UsageHistory
) -> None:
    key = create_key(runtime)
    day = START.replace(hour=0)
    write(
        runtime,
        [
            event(day + 1 * H, key),
            event(day + 5 * H, key),
            event(day + 6 * H, key, ip="198.51.100.2"),
        ],
    )
    series = history.series(
        key.view.id, owner=LIVE, start=day + 2 * H, end=day + 7 * H, bucket="day"
    )
    (only,) = series.buckets  # widened to the whole day
    assert (only.start, only.usage.requests, only.usage.distinct_networks()) == (day, 3, 2)
    assert series.to_json()["buckets"][0] == {
        "start": f"{day:%Y-%m-%d}T00:00:00.000Z",
        "requests": 3,
        "outcomes": {"ok": 3},
        "recipients": 0,
        "networks": 2,
    }


def test_another_keys_and_unknown_keys_events_are_not_counted(
    runtime: Runtime, history: UsageHistory
) -> None:
    key, other = create_key(runtime), create_key(runtime)
    write(runtime, [event(START - H, other), event(START - H, None, outcome="invalid_key")])
    series = history.series(key.view.id, owner=LIVE, start=START - H, end=START, bucket="hour")
    assert series.totals.requests == 0


@pytest.mark.parametrize("owner", [Owner("other", "live"), Owner("default", "test")])
def test_a_key_outside_the_callers_partition_does_not_exist(
    runtime: Runtime, history: UsageHistory, owner: Owner
) -> None:
    key = create_key(runtime)
    with pytest.raises(NotFound):
        history.series(key.view.id, owner=owner)
    with pytest.raises(NotFound):
        history.sources(key.view.id, owner=owner)


def test_the_operator_sees_every_partition(runtime: Runtime, history: UsageHistory) -> None:
    key = create_key(runtime, tenant_id="other", env="test")
    write(runtime, [event(START - H, key)])
    assert history.series(key.view.id, owner=None).totals.requests == 1


def test_bad_ranges_are_refused_with_stable_codes(runtime: Runtime, history: UsageHistory) -> None:
    key = create_key(runtime).view.id
    with pytest.raises(InvalidInput) as backwards:
        history.series(key, owner=LIVE, start=START, end=START - H)
    assert backwards.value.code == "invalid_range"
    with pytest.raises(InvalidInput) as too_many:
        history.series(key, owner=LIVE, start=START - timedelta(days=365), end=START, bucket="hour")
    assert too_many.value.code == "range_too_large"


def test_the_default_range_is_the_last_seven_days(runtime: Runtime, history: UsageHistory) -> None:
    key = create_key(runtime)
    write(runtime, [event(START - timedelta(days=6), key), event(START - timedelta(days=8), key)])
    series = history.series(key.view.id, owner=LIVE)
    assert series.totals.requests == 1
    assert len(series.buckets) in (7, 8)  # whole UTC days around the last 168 hours


# -- raw events -----------------------------------------------------------------------------


def test_events_are_listed_newest_first_a_page_at_a_time(
    runtime: Runtime, history: UsageHistory
) -> None:
    key = create_key(runtime)
    write(runtime, [event(START + i * H, key, path=f"/v1/keys/{i}") for i in range(5)])
    first = history.events(owner=LIVE, limit=3)
    assert [e.path for e in first] == ["/v1/keys/4", "/v1/keys/3", "/v1/keys/2"]
    rest = history.events(owner=LIVE, limit=3, before=first[-1].id)
    assert [e.path for e in rest] == ["/v1/keys/1", "/v1/keys/0"]


def test_events_filter_by_key_outcome_and_time(runtime: Runtime, history: UsageHistory) -> None:
    key, other = create_key(runtime), create_key(runtime)
    write(
        runtime,
        [
            event(START, key),
            event(START + H, key, outcome="denied_scope"),
            event(START + 2 * H, other, outcome="denied_scope"),
        ],
    )
    by_key = history.events(owner=LIVE, where=EventFilter(key_id=key.view.id))
    assert len(by_key) == 2
    denied = history.events(owner=LIVE, where=EventFilter(outcome="denied_scope"))
    assert [e.key_id for e in denied] == [other.view.id, key.view.id]
    window = history.events(owner=LIVE, where=EventFilter(start=START + H, end=START + 2 * H))
    assert [e.outcome for e in window] == ["denied_scope"]


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("203.0.113.7", ["203.0.113.7"]),
        ("203.0.113.0/24", ["203.0.113.7", "203.0.113.200"]),
        ("203.0.113.128/25", ["203.0.113.200"]),
        ("2001:db8::/32", ["2001:db8::1"]),
        ("::ffff:0:0/96", ["203.0.113.7", "203.0.113.200", "198.51.100.1"]),  # every IPv4
        ("10.0.0.0/8", []),
    ],
)
def test_events_filter_by_address_or_cidr(
    runtime: Runtime, history: UsageHistory, ip: str, expected: list[str]
) -> None:
    key = create_key(runtime)
    addresses = ["203.0.113.7", "203.0.113.200", "198.51.100.1", "2001:db8::1"]
    write(runtime, [event(START + i * H, key, ip=a) for i, a in enumerate(addresses)])
    found = history.events(owner=LIVE, where=EventFilter(ip=ip))
    assert sorted(e.ip or "" for e in found) == sorted(expected)


def test_a_malformed_address_filter_is_refused(runtime: Runtime, history: UsageHistory) -> None:
    with pytest.raises(InvalidInput) as refused:
        history.events(owner=LIVE, where=EventFilter(ip="203.0.113.300/24"))
    assert refused.value.code == "invalid_ip"


def test_events_of_other_partitions_and_unknown_keys_are_not_listed(
    runtime: Runtime, history: UsageHistory
) -> None:
    mine = create_key(runtime)
    write(
        runtime,
        [
            event(START, mine),
            event(START, create_key(runtime, tenant_id="other")),
            event(START, create_key(runtime, env="test")),
            event(START, None, outcome="invalid_key"),
        ],
    )
    assert [e.key_id for e in history.events(owner=LIVE)] == [mine.view.id]
    assert len(history.events(owner=None)) == 4  # the operator sees them all


# -- sources --------------------------------------------------------------------------------


def test_sources_list_networks_countries_asns_agents_and_endpoints(
    runtime: Runtime, history: UsageHistory
) -> None:
    key = create_key(runtime)
    write(
        runtime,
        [
            event(START - 3 * H, key, ip="203.0.113.7", geo="NL", asn=64500),
            event(START - 2 * H, key, ip="203.0.113.8", geo="NL", asn=64500, outcome="denied_scope",
                  method="POST", path="/v1/keys"),
            event(START - 1 * H, key, ip="198.51.100.1", geo="US", asn=64501, user_agent="curl/8"),
        ],
    )  # fmt: skip
    sources = history.sources(key.view.id, owner=LIVE, start=START - 4 * H, end=START)
    networks = [
        (s.value, s.requests, s.denied, s.first_seen, s.last_seen) for s in sources.networks
    ]
    assert networks == [
        ("203.0.113.0/24", 2, 1, START - 3 * H, START - 2 * H),
        ("198.51.100.0/24", 1, 0, START - H, START - H),
    ]
    assert [(s.value, s.requests) for s in sources.countries] == [("NL", 2), ("US", 1)]
    assert [(s.value, s.requests) for s in sources.asns] == [(64500, 2), (64501, 1)]
    assert [(s.value, s.requests) for s in sources.user_agents] == [("tests/1.0", 2), ("curl/8", 1)]
    assert [(s.value, s.requests) for s in sources.endpoints] == [
        ("GET /v1/keys", 2),
        ("POST /v1/keys", 1),
    ]
    assert sources.to_json()["networks"][0]["first_seen"].endswith("Z")
