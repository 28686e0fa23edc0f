"""The access review over HTTP: findings from real requests, in the caller's tenant and
environment; applying one rotates with grace into a narrower successor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from keyguard.clock import ManualClock
from keyguard.lifecycle.views import CreatedKey
from tests.functional.api.conftest import Api


def _aged_key(api: Api, clock: ManualClock, *scopes: str, env: str = "live") -> CreatedKey:
    """A key old enough (31 days) for its unused scopes to count."""
    key = api.key(*scopes, env=env)
    clock.advance(timedelta(days=31))
    return key


def _use(api: Api, key: CreatedKey, clock: ManualClock, times: int = 12) -> None:
    client = api.client(key)
    for _ in range(times):
        assert client.get("/v1/keys").status_code == 200
        clock.advance(timedelta(minutes=1))
    api.usage()  # flush the writer


def _finding(answer: httpx.Response, key: CreatedKey, kind: str) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    found = [f for f in answer.json()["findings"] if f["key_id"] == key.view.id]
    return next(f for f in found if f["kind"] == kind)


def test_the_review_proposes_the_scopes_a_key_used(api: Api, clock: ManualClock) -> None:
    used = _aged_key(api, clock, "keys:read", "stats:read")
    _use(api, used, clock)
    admin = api.client(api.key())
    finding = _finding(admin.get("/v1/review"), used, "unused_scopes")
    assert finding["recommendation"]["scopes"] == ["keys:read"]
    assert finding["evidence"]["used"] == {"keys:read": 12}
    assert finding["id"].startswith("rv_")


def test_apply_rotates_with_grace_into_the_narrower_successor(api: Api, clock: ManualClock) -> None:
    used = _aged_key(api, clock, "keys:read", "stats:read")
    _use(api, used, clock)
    admin = api.client(api.key())
    finding = _finding(admin.get("/v1/review"), used, "unused_scopes")
    answer = admin.post(f"/v1/review/{finding['id']}/apply")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    successor = body["successor"]
    assert successor["scopes"] == ["keys:read"] and "delivered_to" not in successor
    assert body["key"]["state"] == "rotating" and body["key"]["grace_until"] is not None
    assert api.client(used).get("/v1/keys").status_code == 200  # the old key still works
    new = api.client(successor["key"])
    assert new.get("/v1/keys").status_code == 200
    assert new.get(f"/v1/keys/{used.view.id}/usage").status_code == 403  # stats:read is gone
    again = admin.post(f"/v1/review/{finding['id']}/apply")
    assert (again.status_code, again.json()["code"]) == (404, "not_found")


def test_md_and_text_formats(api: Api, clock: ManualClock) -> None:
    key = api.key("keys:write", "keys:read")
    admin = api.client(api.key())
    markdown = admin.get("/v1/review", params={"format": "md"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# Access review") and key.view.id in markdown.text
    text = admin.get("/v1/review", params={"format": "text"})
    assert text.headers["content-type"].startswith("text/plain")
    assert f"{key.view.id} live  holds_keys_write" in text.text
    bad = admin.get("/v1/review", params={"format": "pdf"})
    assert bad.status_code == 422


def test_the_review_is_partitioned_by_tenant_and_environment(api: Api) -> None:
    live = api.key("keys:write")
    other = api.key("keys:write", tenant="other")
    test_key = api.key("keys:write", env="test")
    seen = {
        f["key_id"] for f in api.client(api.key("keys:read")).get("/v1/review").json()["findings"]
    }
    assert live.view.id in seen
    assert other.view.id not in seen and test_key.view.id not in seen
    reader = api.client(api.key("keys:read", env="test"))
    body = reader.get("/v1/review").json()
    assert {f["key_id"] for f in body["findings"]} == {test_key.view.id}


def test_apply_needs_keys_write_and_confirmation_to_revoke(api: Api, clock: ManualClock) -> None:
    idle = _aged_key(api, clock, "mail:send")
    admin = api.client(api.key())
    finding = _finding(admin.get("/v1/review"), idle, "unused_key")
    reader = api.client(api.key("keys:read"))
    assert reader.post(f"/v1/review/{finding['id']}/apply").status_code == 403
    refused = admin.post(f"/v1/review/{finding['id']}/apply")
    assert (refused.status_code, refused.json()["code"]) == (422, "confirmation_required")
    done = admin.post(f"/v1/review/{finding['id']}/apply", json={"confirm": True})
    assert done.status_code == 200, done.text
    assert done.json()["key"]["state"] == "revoked" and done.json()["successor"] is None
    assert api.client(idle).get("/v1/keys").status_code == 401


def test_a_malformed_finding_id_is_refused(api: Api) -> None:
    admin = api.client(api.key())
    assert admin.post("/v1/review/nope/apply").status_code == 422
