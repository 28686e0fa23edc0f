"""/v1/alerts over HTTP: the detector's alerts within the caller's partition, and a person's
answers (ack, resolve, false positive, undo), each with its scope."""

from __future__ import annotations

import httpx
import pytest

from keyguard.lifecycle import OPERATOR
from keyguard.monitoring import DEFAULT_POLICY, AlertFilter, save_policy, updated
from tests.functional.api.conftest import Api
from tests.unit.monitoring.online import store, trace


@pytest.fixture
def watched(api: Api) -> str:
    """A live key of tenant `default` whose trace raised alerts; its id."""
    key = api.key("mail:send")
    store(api.runtime, trace(key.view.id, "default"))
    api.runtime.detector.drain()
    return key.view.id


def test_alerts_list_the_partitions_alerts_with_filters(api: Api, watched: str) -> None:
    reader = api.client(api.key("alerts:read"))
    body = reader.get("/v1/alerts").json()
    assert [a["rule"] for a in body["alerts"]] == ["country_change", "new_network"]
    assert {a["key_id"] for a in body["alerts"]} == {watched}
    assert body["next_cursor"] is None
    only = reader.get("/v1/alerts", params={"rule": "new_network", "state": "open"}).json()
    assert [a["severity"] for a in only["alerts"]] == ["high"]
    first = reader.get("/v1/alerts", params={"limit": 1}).json()
    rest = reader.get("/v1/alerts", params={"cursor": first["next_cursor"]}).json()
    assert [a["id"] for a in first["alerts"] + rest["alerts"]] == [a["id"] for a in body["alerts"]]


def test_another_partition_sees_nothing(api: Api, watched: str) -> None:
    assert api.client(api.key("alerts:read", env="test")).get("/v1/alerts").json()["alerts"] == []
    other = api.client(api.key("alerts:*", tenant="other"))
    assert other.get("/v1/alerts").json()["alerts"] == []
    mine = api.client(api.key("alerts:read")).get("/v1/alerts").json()["alerts"][0]
    assert other.post(f"/v1/alerts/{mine['id']}/ack").status_code == 404


def test_a_person_acks_resolves_and_marks_false_positive(api: Api, watched: str) -> None:
    writer = api.client(api.key("alerts:read", "alerts:write"))
    country, network = writer.get("/v1/alerts").json()["alerts"]
    acked = writer.post(f"/v1/alerts/{network['id']}/ack")
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    assert writer.post(f"/v1/alerts/{network['id']}/resolve").json()["state"] == "resolved"
    again = writer.post(f"/v1/alerts/{network['id']}/ack")
    assert (again.status_code, again.json()["code"]) == (409, "illegal_transition")
    marked = writer.post(f"/v1/alerts/{country['id']}/false-positive").json()
    assert marked["state"] == "false_positive"
    assert writer.get(f"/v1/alerts/{country['id']}").json()["state"] == "false_positive"


def test_reading_alerts_does_not_grant_answering_them(api: Api, watched: str) -> None:
    reader = api.client(api.key("alerts:read"))
    alert = reader.get("/v1/alerts").json()["alerts"][0]
    refused = reader.post(f"/v1/alerts/{alert['id']}/ack")
    assert (refused.status_code, refused.json()["code"]) == (403, "denied_scope")


def test_a_quarantine_is_undone_over_http(api: Api) -> None:
    policy = updated(
        DEFAULT_POLICY, mode="enforce", by_severity={"high": "notify"},
        by_rule={"new_network": "quarantine"},
    )  # fmt: skip
    with api.runtime.sessions.begin() as session:
        save_policy(session, api.runtime.clock(), OPERATOR.id, "default", policy)
    key = api.key("mail:send")
    store(api.runtime, trace(key.view.id, "default"))
    api.runtime.detector.drain()
    assert api.runtime.keys.show(OPERATOR, key.view.id).state == "suspended"
    admin = api.client(api.key("alerts:*", "keys:*", "mail:send"))
    (alert,) = admin.get("/v1/alerts", params={"rule": "new_network"}).json()["alerts"]
    assert (alert["action"], alert["action_state"]) == ("quarantine", "done")
    undone = admin.post(f"/v1/alerts/{alert['id']}/undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["action_state"] == "undone"
    assert api.runtime.keys.show(OPERATOR, key.view.id).state == "active"


def test_an_alert_of_another_kind_cannot_be_undone(api: Api, watched: str) -> None:
    writer = api.client(api.key("alerts:*"))
    alert = writer.get("/v1/alerts").json()["alerts"][0]
    refused = writer.post(f"/v1/alerts/{alert['id']}/undo")
    assert (refused.status_code, refused.json()["code"]) == (409, "no_action")


def test_requests_through_the_gate_reach_an_alert(api: Api) -> None:
    """End to end: requests over HTTP, the usage writer, the detector, the stored alert
    (key-less, so the operator's: no tenant's key reads it)."""
    api.runtime.detector.poll()  # the detector runs: its cursor starts here
    guesser: httpx.Client = api.client("not-a-key-at-all-" + "x" * 20)
    for _ in range(25):
        guesser.get("/v1/keys")
    api.usage()
    api.runtime.detector.drain()
    (alert,) = api.runtime.alerts.list(OPERATOR, AlertFilter(rule="key_guessing"))
    assert (alert["key_id"], alert["tenant"]) == (None, None)
    assert api.client(api.key("alerts:read")).get("/v1/alerts").json()["alerts"] == []


def test_metrics_count_alerts_actions_and_the_detectors_lag(api: Api, watched: str) -> None:
    text = httpx.get(f"{api.url}/metrics").text
    assert 'keyguard_alerts_total{rule="new_network",severity="high"} 1.0' in text
    assert 'keyguard_alert_actions{action="notify",state="done"} 3.0' in text
    assert f"keyguard_detector_events_total {len(trace()):.1f}" in text
    lag = next(line for line in text.splitlines() if line.startswith("keyguard_detector_lag"))
    assert float(lag.split()[-1]) > 0


def test_a_throttled_key_is_held_to_the_lower_rate_at_the_gate(api: Api) -> None:
    policy = updated(
        DEFAULT_POLICY, mode="enforce", by_severity={"high": "notify"},
        by_rule={"new_network": "throttle"}, throttle_per_minute=2,
    )  # fmt: skip
    with api.runtime.sessions.begin() as session:
        save_policy(session, api.runtime.clock(), OPERATOR.id, "default", policy)
    key = api.key("keys:read")  # without a rate limit of its own
    store(api.runtime, trace(key.view.id, "default"))
    api.runtime.detector.drain()
    api.runtime.limits.overrides.load(api.runtime.sessions)  # housekeeping does it every second
    client = api.client(key)
    assert [client.get("/v1/keys").status_code for _ in range(3)] == [200, 200, 429]
