"""/v1/audit: the tenant's audit log, newest first, with cursor pagination and filters."""

from __future__ import annotations

from datetime import timedelta

import httpx

from keyguard.clock import ManualClock
from keyguard.lifecycle.views import OPERATOR
from tests.conftest import START
from tests.functional.api.conftest import Api


def test_pages_cover_the_tenants_events_newest_first(api: Api, admin: httpx.Client) -> None:
    for _ in range(3):
        api.key("mail:send")
    seqs: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = admin.get("/v1/audit", params=params).json()
        seqs.extend(e["seq"] for e in page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seqs == sorted(seqs, reverse=True)
    assert len(seqs) == len(set(seqs)) >= 5  # tenant creation, the admin key, three keys


def test_filters_narrow_the_events(api: Api, admin: httpx.Client, clock: ManualClock) -> None:
    key = api.key("mail:send")
    clock.advance(timedelta(hours=1))
    api.runtime.keys.revoke(OPERATOR, key.view.id, "test")
    by_target = admin.get("/v1/audit", params={"target": key.view.id}).json()["events"]
    assert [e["action"] for e in by_target] == ["key.revoked", "key.created"]
    by_action = admin.get("/v1/audit", params={"action": "key.revoked"}).json()["events"]
    assert [e["target"] for e in by_action] == [key.view.id]
    later = (START + timedelta(minutes=30)).isoformat()
    since = admin.get("/v1/audit", params={"since": later}).json()["events"]
    assert [e["action"] for e in since] == ["key.revoked"]
    until = admin.get("/v1/audit", params={"until": later.replace("+00:00", "")}).json()["events"]
    assert "key.revoked" not in [e["action"] for e in until]


def test_other_tenants_events_are_invisible(api: Api) -> None:
    theirs = api.key("mail:send", tenant="other")
    mine = api.client(api.key("audit:read"))
    page = mine.get("/v1/audit", params={"limit": 200})
    assert page.status_code == 200
    assert page.json()["events"]  # the caller's own key.created at least
    assert theirs.view.id not in page.text
    assert mine.get("/v1/audit", params={"target": theirs.view.id}).json()["events"] == []


def test_events_about_another_environments_keys_are_invisible(api: Api) -> None:
    live = api.key("mail:send")
    api.runtime.keys.suspend(OPERATOR, live.view.id, "checking")
    live_admin = api.key("keys:write", "audit:read")
    api.client(live_admin).post(f"/v1/keys/{live.view.id}/resume")
    test_key = api.key("mail:send", env="test")
    test_reader = api.key("audit:read", env="test")
    page = api.client(test_reader).get("/v1/audit", params={"limit": 200})
    assert page.status_code == 200
    targets = {e["target"] for e in page.json()["events"]}
    assert {test_key.view.id, test_reader.view.id} <= targets
    for live_id in (live.view.id, live_admin.view.id):
        assert live_id not in page.text
    by_target = api.client(test_reader).get("/v1/audit", params={"target": live.view.id})
    assert by_target.status_code == 200
    assert by_target.json()["events"] == []
    live_page = api.client(live_admin).get("/v1/audit", params={"limit": 200})
    assert live_page.status_code == 200
    assert live.view.id in live_page.text
    assert test_key.view.id not in live_page.text


def test_unknown_query_parameters_are_refused(admin: httpx.Client) -> None:
    answer = admin.get("/v1/audit", params={"tenant": "other"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == "extra_forbidden"
