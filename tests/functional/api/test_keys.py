"""/v1/keys over HTTP: the lifecycle, the one-time display, pagination, no escalation and
environment separation."""

from __future__ import annotations

from datetime import timedelta

import httpx

from keyguard.clock import ManualClock
from keyguard.lifecycle.views import OPERATOR
from tests.functional.api.conftest import Api


def test_created_key_is_returned_once_and_authenticates(api: Api, admin: httpx.Client) -> None:
    created = admin.post("/v1/keys", json={"scopes": ["keys:read"], "name": "ci"})
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("kg_live_")
    assert body["prefix"] == body["key"][: len(body["prefix"])]
    shown = admin.get(f"/v1/keys/{body['id']}").json()
    assert "key" not in shown
    assert "digest" not in shown
    assert body["key"] not in admin.get("/v1/keys").text
    assert api.client(body["key"]).get(f"/v1/keys/{body['id']}").status_code == 200


def test_list_pages_through_every_key_with_the_cursor(api: Api, admin: httpx.Client) -> None:
    for _ in range(4):
        api.key("mail:send")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = admin.get("/v1/keys", params=params).json()
        seen.extend(k["id"] for k in page["keys"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5  # four keys and the admin's own


def test_an_unknown_cursor_is_a_field_error(admin: httpx.Client) -> None:
    answer = admin.get("/v1/keys", params={"cursor": "key_doesnotexist00"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_cursor"
    assert answer.json()["errors"][0]["field"] == "cursor"


def test_rotation_keeps_the_old_key_working_for_the_grace_period(
    api: Api, admin: httpx.Client, clock: ManualClock
) -> None:
    old = api.key("keys:read")
    rotated = admin.post(f"/v1/keys/{old.view.id}/rotate", json={"grace": "1h"})
    assert rotated.status_code == 201
    successor = rotated.json()
    assert successor["parent_id"] == old.view.id
    assert api.client(old).get("/v1/keys").status_code == 200
    clock.advance(timedelta(hours=1, seconds=1))
    refused = api.client(old).get("/v1/keys")
    assert refused.status_code == 401
    assert refused.json()["code"] == "key_rotated"
    assert api.client(successor["key"]).get("/v1/keys").status_code == 200


def test_revoked_and_suspended_keys_learn_their_state(api: Api, admin: httpx.Client) -> None:
    revoked, suspended = api.key("keys:read"), api.key("keys:read")
    assert (
        admin.post(f"/v1/keys/{revoked.view.id}/revoke", json={"reason": "leak"}).status_code == 200
    )
    assert admin.post(f"/v1/keys/{suspended.view.id}/suspend").json()["state"] == "suspended"
    assert api.client(revoked).get("/v1/keys").json()["code"] == "revoked"
    assert api.client(suspended).get("/v1/keys").json()["code"] == "suspended"
    assert admin.post(f"/v1/keys/{suspended.view.id}/resume").json()["state"] == "active"
    assert api.client(suspended).get("/v1/keys").status_code == 200


def test_an_illegal_transition_is_a_conflict(api: Api, admin: httpx.Client) -> None:
    key = api.key("mail:send")
    admin.post(f"/v1/keys/{key.view.id}/revoke")
    answer = admin.post(f"/v1/keys/{key.view.id}/resume")
    assert answer.status_code == 409
    assert answer.json()["code"] == "illegal_transition"


def test_a_key_cannot_create_a_key_with_more_scopes_than_its_own(api: Api) -> None:
    writer = api.client(api.key("keys:write", "mail:send"))
    allowed = writer.post("/v1/keys", json={"scopes": ["mail:send"]})
    assert allowed.status_code == 201
    refused = writer.post("/v1/keys", json={"scopes": ["mail:send", "audit:read"]})
    assert refused.status_code == 403
    assert refused.json()["code"] == "privilege_escalation"
    assert "audit:read" in refused.json()["detail"]


def test_a_key_cannot_loosen_its_own_restrictions_in_a_new_key(api: Api) -> None:
    writer = api.client(api.key("keys:*", allowed_cidrs=["127.0.0.0/8"], rate_limit_per_minute=100))
    looser = [
        {"allowed_cidrs": []},
        {"allowed_cidrs": ["0.0.0.0/0"], "rate_limit_per_minute": 10},
        {"allowed_cidrs": ["127.0.0.1/32"]},  # no rate limit: looser than 100/min
    ]
    for restrictions in looser:
        answer = writer.post(
            "/v1/keys", json={"scopes": ["keys:read"], "restrictions": restrictions}
        )
        assert answer.json()["code"] == "privilege_escalation", restrictions
    tighter = {"allowed_cidrs": ["127.0.0.1/32"], "rate_limit_per_minute": 10}
    answer = writer.post("/v1/keys", json={"scopes": ["keys:read"], "restrictions": tighter})
    assert answer.status_code == 201


def test_a_key_cannot_resume_or_rotate_a_key_more_powerful_than_itself(api: Api) -> None:
    powerful = api.key("audit:read", "keys:write")
    writer = api.client(api.key("keys:write"))
    rotated = writer.post(f"/v1/keys/{powerful.view.id}/rotate")
    assert rotated.status_code == 403
    assert rotated.json()["code"] == "privilege_escalation"
    api.runtime.keys.suspend(OPERATOR, powerful.view.id)
    resumed = writer.post(f"/v1/keys/{powerful.view.id}/resume")
    assert resumed.status_code == 403
    assert resumed.json()["code"] == "privilege_escalation"
    assert api.runtime.keys.show(OPERATOR, powerful.view.id).state == "suspended"


def test_a_key_cannot_suspend_or_revoke_a_key_more_powerful_than_itself(api: Api) -> None:
    tenant_admin = api.key()  # every scope
    unrestricted = api.key("keys:write")
    writer = api.client(api.key("keys:write", allowed_cidrs=["127.0.0.0/8"]))
    for target in (tenant_admin, unrestricted):
        for action in ("suspend", "revoke"):
            answer = writer.post(f"/v1/keys/{target.view.id}/{action}", json={"reason": "x"})
            assert answer.status_code == 403, (target.view.id, action)
            assert answer.json()["code"] == "privilege_escalation"
        assert api.runtime.keys.show(OPERATOR, target.view.id).state == "active"
    assert api.client(tenant_admin).get("/v1/keys").status_code == 200


def test_a_key_can_suspend_and_resume_a_key_within_its_powers(api: Api) -> None:
    lesser = api.key("keys:read")
    writer = api.client(api.key("keys:write", "keys:read"))
    assert writer.post(f"/v1/keys/{lesser.view.id}/suspend").json()["state"] == "suspended"
    assert writer.post(f"/v1/keys/{lesser.view.id}/resume").json()["state"] == "active"
    assert writer.post(f"/v1/keys/{lesser.view.id}/revoke").json()["state"] == "revoked"


def test_a_key_may_revoke_itself_whatever_it_holds(api: Api) -> None:
    own = api.key("keys:write", "audit:read", allowed_cidrs=["127.0.0.0/8"])
    answer = api.client(own).post(f"/v1/keys/{own.view.id}/revoke", json={"reason": "leaked"})
    assert answer.status_code == 200
    assert answer.json()["state"] == "revoked"


def test_other_tenants_keys_look_missing(api: Api) -> None:
    theirs = api.key("mail:send", tenant="other")
    mine = api.client(api.key("keys:*"))
    for call in (
        lambda: mine.get(f"/v1/keys/{theirs.view.id}"),
        lambda: mine.post(f"/v1/keys/{theirs.view.id}/revoke"),
    ):
        answer = call()
        assert answer.status_code == 404
        assert answer.json()["code"] == "not_found"
    listed = mine.get("/v1/keys")
    assert listed.status_code == 200
    assert listed.json()["keys"]  # its own key at least: the absence below means something
    assert theirs.view.id not in listed.text


def test_environments_are_separate(api: Api) -> None:
    live_key, test_key = api.key("mail:send"), api.key("mail:send", env="test")
    live_admin = api.client(api.key("keys:*"))
    test_admin = api.client(api.key("keys:*", env="test"))
    live_list, test_list = live_admin.get("/v1/keys"), test_admin.get("/v1/keys")
    assert (live_list.status_code, test_list.status_code) == (200, 200)
    assert live_key.view.id in live_list.text
    assert test_key.view.id in test_list.text
    assert test_key.view.id not in live_list.text
    assert live_key.view.id not in test_list.text
    assert test_admin.get(f"/v1/keys/{live_key.view.id}").status_code == 404
    assert test_admin.post(f"/v1/keys/{live_key.view.id}/revoke").status_code == 404
    created = test_admin.post("/v1/keys", json={"scopes": ["keys:read"]}).json()
    assert created["env"] == "test"
    assert created["key"].startswith("kg_test_")
    cross = test_admin.post("/v1/keys", json={"scopes": ["keys:read"], "env": "live"})
    assert cross.json()["code"] == "privilege_escalation"


def test_a_key_made_by_a_key_expires_no_later_than_its_maker(api: Api, clock: ManualClock) -> None:
    maker = api.key("keys:*")
    clock.advance(timedelta(days=10))
    made = api.client(maker).post("/v1/keys", json={"scopes": ["keys:read"]}).json()
    assert made["expires_at"] == maker.view.expires_at.isoformat().replace("+00:00", "Z")


def test_invalid_input_names_the_field(admin: httpx.Client) -> None:
    cases = {
        "unknown_scope": {"scopes": ["mail:fly"]},
        "invalid_cidr": {"scopes": ["mail:send"], "restrictions": {"allowed_cidrs": ["10.0.0/99"]}},
        "invalid_duration": {"scopes": ["mail:send"], "expires_in": "forever"},
    }
    for code, body in cases.items():
        answer = admin.post("/v1/keys", json=body)
        assert answer.status_code == 422, body
        assert answer.json()["code"] == code
        assert answer.json()["errors"][0]["field"]


def test_a_key_delivered_to_a_vault_is_not_rotated_over_http(
    api: Api, admin: httpx.Client, clock: ManualClock
) -> None:
    from keyguard.rotation.models import KeyDelivery

    delivered = api.key("mail:send")
    with api.runtime.sessions.begin() as session:
        session.add(
            KeyDelivery(
                key_id=delivered.view.id, tenant_id=delivered.view.tenant_id,
                target="openbao:secret/app", rotate_every_seconds=None, grace_seconds=3600,
                created_at=clock(),
            )
        )  # fmt: skip
    answer = admin.post(f"/v1/keys/{delivered.view.id}/rotate", json={"grace": "1h"})
    assert answer.status_code == 409
    assert answer.json()["code"] == "key_delivered"
    assert api.runtime.verifier.verify(delivered.key.reveal()).allowed  # untouched


def test_an_absurd_grace_is_a_field_error_not_a_server_error(api: Api, admin: httpx.Client) -> None:
    key = api.key("mail:send")
    answer = admin.post(f"/v1/keys/{key.view.id}/rotate", json={"grace": "999999w"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "duration_too_long"
    assert answer.json()["errors"][0]["field"] == "grace"
    assert api.runtime.keys.show(OPERATOR, key.view.id).state == "active"


def test_the_grace_window_never_outlasts_the_key(
    api: Api, admin: httpx.Client, clock: ManualClock
) -> None:
    created = admin.post("/v1/keys", json={"scopes": ["mail:send"], "expires_in": "30d"}).json()
    rotated = admin.post(f"/v1/keys/{created['id']}/rotate", json={"grace": "60d"})
    assert rotated.status_code == 201
    old = admin.get(f"/v1/keys/{created['id']}").json()
    assert old["grace_until"] == created["expires_at"]


def test_a_zero_lifetime_is_refused_rather_than_defaulted(admin: httpx.Client) -> None:
    answer = admin.post("/v1/keys", json={"scopes": ["mail:send"], "expires_in": "0s"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_duration"
    assert answer.json()["errors"][0]["field"] == "expires_in"
