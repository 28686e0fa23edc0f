"""Usage history over HTTP: the time series, the raw events and the sources of a key, within
the caller's tenant and environment, with problem JSON for every bad parameter."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from keyguard.clock import ManualClock
from keyguard.lifecycle.views import CreatedKey
from tests.conftest import START
from tests.functional.api.conftest import Api

H = timedelta(hours=1)


def _iso(value: object) -> str:
    return f"{value:%Y-%m-%dT%H:%M:%S}Z"


@pytest.fixture
def reader(api: Api) -> httpx.Client:
    return api.client(api.key("stats:read"))


def _use(api: Api, key: CreatedKey, clock: ManualClock, times: int = 1, **headers: str) -> None:
    client = api.client(key, **headers)
    for _ in range(times):
        client.get("/v1/keys")
        clock.advance(timedelta(minutes=1))


def test_the_time_series_counts_a_keys_requests_by_bucket(
    api: Api, reader: httpx.Client, clock: ManualClock
) -> None:
    used = api.key("keys:read")
    _use(api, used, clock, times=3)
    clock.advance(2 * H)
    api.client(used).post("/v1/keys", json={"scopes": ["keys:read"]})  # denied_scope
    api.usage()  # flush the writer
    answer = reader.get(
        f"/v1/keys/{used.view.id}/usage",
        params={"from": _iso(START), "to": _iso(START + 3 * H), "bucket": "hour"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["key_id"], body["bucket"], body["from"]) == (
        used.view.id, "hour", f"{START:%Y-%m-%dT%H}:00:00.000Z",
    )  # fmt: skip
    assert [b["requests"] for b in body["buckets"]] == [3, 0, 1]
    assert body["buckets"][0]["outcomes"] == {"ok": 3}
    assert body["buckets"][2]["outcomes"] == {"denied_scope": 1}
    assert body["buckets"][0]["networks"] == 1
    assert body["totals"]["requests"] == 4


def test_the_default_is_seven_days_by_the_day(api: Api, reader: httpx.Client) -> None:
    key = api.key("keys:read")
    body = reader.get(f"/v1/keys/{key.view.id}/usage").json()
    assert body["bucket"] == "day"
    assert len(body["buckets"]) in (7, 8)


def test_sources_list_where_the_key_was_used_from(
    api: Api, reader: httpx.Client, clock: ManualClock
) -> None:
    key = api.key("keys:read")
    _use(api, key, clock, times=2, **{"User-Agent": "billing-cron/2.1"})
    api.usage()
    body = reader.get(f"/v1/keys/{key.view.id}/usage/sources").json()
    assert [(s["value"], s["requests"]) for s in body["networks"]] == [("127.0.0.0/24", 2)]
    assert [(s["value"], s["requests"]) for s in body["user_agents"]] == [("billing-cron/2.1", 2)]
    assert [s["value"] for s in body["endpoints"]] == ["GET /v1/keys"]
    (network,) = body["networks"]
    assert network["first_seen"] < network["last_seen"]
    assert (body["countries"], body["asns"]) == ([], [])  # no IP databases configured


def test_events_are_listed_newest_first_with_a_cursor(
    api: Api, reader: httpx.Client, clock: ManualClock
) -> None:
    key = api.key("keys:read")
    _use(api, key, clock, times=3)
    api.usage()
    first = reader.get("/v1/usage/events", params={"key_id": key.view.id, "limit": 2}).json()
    assert len(first["events"]) == 2
    assert first["events"][0]["ts"] > first["events"][1]["ts"]
    rest = reader.get(
        "/v1/usage/events",
        params={"key_id": key.view.id, "limit": 2, "cursor": first["next_cursor"]},
    ).json()
    assert len(rest["events"]) == 1
    assert rest["next_cursor"] is None
    event = first["events"][0]
    assert (event["key_id"], event["outcome"], event["ip"]) == (key.view.id, "ok", "127.0.0.1")
    assert event["request_id"]


def test_events_filter_by_outcome_address_and_time(
    api: Api, reader: httpx.Client, clock: ManualClock
) -> None:
    key = api.key("keys:read")
    _use(api, key, clock)
    api.client(key).post("/v1/keys", json={"scopes": ["keys:read"]})
    api.usage()
    events = "/v1/usage/events"
    denied = reader.get(events, params={"outcome": "denied_scope"}).json()["events"]
    assert [e["key_id"] for e in denied] == [key.view.id]
    assert (
        len(
            reader.get(events, params={"ip": "127.0.0.0/8", "key_id": key.view.id}).json()["events"]
        )
        == 2
    )
    assert reader.get(events, params={"ip": "10.0.0.0/8"}).json()["events"] == []
    later = reader.get(events, params={"from": _iso(START + timedelta(days=1))}).json()
    assert later["events"] == []


def test_other_tenants_and_environments_are_invisible(api: Api, clock: ManualClock) -> None:
    theirs = api.key("keys:read", tenant="other")
    test_key = api.key("keys:read", env="test")
    _use(api, theirs, clock)
    _use(api, test_key, clock)
    api.usage()
    reader = api.client(api.key("stats:read"))
    for key in (theirs, test_key):
        answer = reader.get(f"/v1/keys/{key.view.id}/usage")
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
        assert reader.get(f"/v1/keys/{key.view.id}/usage/sources").status_code == 404
    listed = reader.get("/v1/usage/events").json()["events"]
    assert not any(e["key_id"] in (theirs.view.id, test_key.view.id) for e in listed)
    test_reader = api.client(api.key("stats:read", env="test"))
    seen = test_reader.get("/v1/usage/events", params={"key_id": test_key.view.id}).json()
    assert len(seen["events"]) == 1


def test_reading_usage_needs_stats_read(api: Api) -> None:
    key = api.key("keys:read")
    answer = api.client(key).get(f"/v1/keys/{key.view.id}/usage")
    assert (answer.status_code, answer.json()["code"]) == (403, "denied_scope")
    assert api.client(key).get("/v1/usage/events").status_code == 403


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("usage", {"bucket": "week"}, "validation_failed"),
        ("usage", {"from": "yesterday"}, "validation_failed"),
        ("usage", {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "invalid_range"),
        ("usage", {"from": "2020-01-01T00:00:00Z", "bucket": "hour"}, "range_too_large"),
        ("usage", {"from": "0001-01-01T00:00:00Z"}, "invalid_time"),
        ("usage", {"to": "9999-12-31T23:59:59+14:00"}, "invalid_time"),
        ("usage", {"since": "7d"}, "validation_failed"),
        (
            "sources",
            {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            "invalid_range",
        ),
        ("events", {"ip": "300.1.2.3"}, "invalid_ip"),
        ("events", {"ip": "203.0.113.0/33"}, "invalid_ip"),
        ("events", {"outcome": "fine"}, "validation_failed"),
        ("events", {"cursor": "abc"}, "validation_failed"),
        ("events", {"limit": "0"}, "validation_failed"),
        ("events", {"key_id": "not a key id"}, "validation_failed"),
    ],
)
def test_bad_parameters_are_problems_with_stable_codes(
    api: Api, reader: httpx.Client, path: str, params: dict[str, str], code: str
) -> None:
    key = api.key("keys:read")
    url = {
        "usage": f"/v1/keys/{key.view.id}/usage",
        "sources": f"/v1/keys/{key.view.id}/usage/sources",
        "events": "/v1/usage/events",
    }[path]
    answer = reader.get(url, params=params)
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code


def test_an_unknown_key_is_not_found(reader: httpx.Client) -> None:
    answer = reader.get("/v1/keys/key_doesnotexist/usage")
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


def test_a_key_pasted_into_a_path_or_user_agent_never_comes_back(
    api: Api, reader: httpx.Client
) -> None:
    pasted = api.key("keys:read")
    raw = pasted.key.reveal()
    api.client(pasted, **{"User-Agent": f"script {raw}"}).get(f"/v1/keys/x{raw}")
    api.usage()
    listed = reader.get("/v1/usage/events", params={"key_id": pasted.view.id})
    assert listed.status_code == 200
    assert listed.json()["events"]
    assert raw not in listed.text
    sources = reader.get(f"/v1/keys/{pasted.view.id}/usage/sources")
    assert raw not in sources.text
