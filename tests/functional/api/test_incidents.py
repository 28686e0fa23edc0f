"""/v1/incidents and the tenant-wide response over real HTTP."""

from __future__ import annotations

import httpx

from keyguard.keys import generate_key
from keyguard.lifecycle.views import OPERATOR
from tests.functional.api.conftest import Api


def test_opening_an_incident_refuses_the_key_and_returns_its_successor_once(
    api: Api, admin: httpx.Client
) -> None:
    victim = api.key("keys:read", allowed_cidrs=["127.0.0.0/8"])
    assert api.client(victim).get("/v1/keys").status_code == 200
    opened = admin.post(
        "/v1/incidents",
        json={"key_id": victim.view.id, "reason": "pasted in a ticket", "reissue": True},
    )
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert (body["key_id"], body["state"], body["stopped"]) == (
        victim.view.id,
        "open",
        [victim.view.id],
    )
    refused = api.client(victim).get("/v1/keys")
    assert (refused.status_code, refused.json()["code"]) == (401, "revoked")
    successor = body["successor"]
    assert set(successor) == {"id", "key"}
    assert api.client(successor["key"]).get("/v1/keys").status_code == 200
    shown = admin.get(f"/v1/incidents/{body['id']}").json()
    assert successor["key"] not in str(shown)
    assert shown["successor_id"] == successor["id"]
    assert [i["id"] for i in admin.get("/v1/incidents").json()["incidents"]] == [body["id"]]


def test_contain_note_owner_and_resolve_over_http(api: Api, admin: httpx.Client) -> None:
    victim = api.key("mail:send")
    incident = admin.post(
        "/v1/incidents",
        json={"key_id": victim.view.id, "reason": "odd", "response": "quarantine"},
    ).json()["id"]
    assert admin.post(f"/v1/incidents/{incident}/notes", json={"note": "CI?"}).status_code == 201
    assert admin.put(f"/v1/incidents/{incident}/owner", json={"owner": "sec"}).json()["owner"] == (
        "sec"
    )
    contained = admin.post(f"/v1/incidents/{incident}/contain", json={"revoke": True}).json()
    assert (contained["state"], contained["response"]) == ("contained", "revoke")
    resolved = admin.post(f"/v1/incidents/{incident}/resolve", json={"note": "done"})
    assert resolved.json()["state"] == "resolved"
    again = admin.post(f"/v1/incidents/{incident}/resolve")
    assert (again.status_code, again.json()["code"]) == (409, "incident_closed")


def test_cascade_revokes_the_keys_the_compromised_key_made(api: Api, admin: httpx.Client) -> None:
    maker = api.key("keys:*", "mail:send")
    made = api.client(maker).post("/v1/keys", json={"scopes": ["mail:send"]}).json()
    opened = admin.post(
        "/v1/incidents", json={"key_id": maker.view.id, "reason": "leak", "cascade": True}
    ).json()
    assert opened["blast_radius"] == [made["id"]]
    assert set(opened["stopped"]) == {maker.view.id, made["id"]}
    assert api.client(made["key"]).post("/v1/keys/verify", json={"key": "x"}).json()["code"] == (
        "revoked"
    )


def test_a_key_pasted_into_the_reason_is_masked_in_every_answer(
    api: Api, admin: httpx.Client
) -> None:
    victim = api.key("mail:send")
    pasted = generate_key("live").reveal()
    opened = admin.post(
        "/v1/incidents", json={"key_id": victim.view.id, "reason": f"found {pasted}"}
    ).json()
    admin.post(f"/v1/incidents/{opened['id']}/notes", json={"note": f"and {pasted}"})
    shown = admin.get(f"/v1/incidents/{opened['id']}").text
    assert pasted not in shown + str(opened)
    assert pasted[:12] in shown


def test_bad_input_is_problem_json_with_stable_codes(api: Api, admin: httpx.Client) -> None:
    missing = admin.post("/v1/incidents", json={"key_id": "key_nope0000", "reason": "r"})
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    no_reason = admin.post("/v1/incidents", json={"key_id": api.key().view.id})
    assert (no_reason.status_code, no_reason.json()["code"]) == (422, "validation_failed")
    blank = admin.post("/v1/incidents", json={"key_id": api.key().view.id, "reason": " "})
    assert (blank.status_code, blank.json()["code"]) == (422, "reason_required")
    bad_id = admin.get("/v1/incidents/not-an-id")
    assert bad_id.status_code == 422
    deliver = admin.post(
        "/v1/incidents", json={"key_id": api.key().view.id, "reason": "r", "deliver": "aws:x"}
    )
    assert deliver.json()["code"] == "deliver_without_reissue"
    for answer in (missing, no_reason, blank, bad_id, deliver):
        assert answer.headers["content-type"] == "application/problem+json"


def test_opening_needs_keys_write_and_reading_keys_read(api: Api) -> None:
    reader = api.client(api.key("keys:read"))
    victim = api.key("mail:send")
    answer = reader.post("/v1/incidents", json={"key_id": victim.view.id, "reason": "r"})
    assert (answer.status_code, answer.json()["code"]) == (403, "denied_scope")
    assert reader.get("/v1/incidents").status_code == 200
    assert api.client(api.key("mail:send")).get("/v1/incidents").status_code == 403


def test_another_tenants_incidents_and_keys_look_missing(api: Api, admin: httpx.Client) -> None:
    victim = api.key("mail:send")
    incident = admin.post("/v1/incidents", json={"key_id": victim.view.id, "reason": "r"}).json()[
        "id"
    ]
    other = api.client(api.key(tenant="other"))
    assert other.get(f"/v1/incidents/{incident}").status_code == 404
    assert other.get("/v1/incidents").json()["incidents"] == []
    theirs = other.post("/v1/incidents", json={"key_id": api.key().view.id, "reason": "r"})
    assert theirs.status_code == 404
    test_env = api.client(api.key(env="test"))
    assert test_env.get(f"/v1/incidents/{incident}").status_code == 404


def test_tenant_wide_revoke_lists_first_and_revokes_on_request(
    api: Api, admin: httpx.Client
) -> None:
    senders = [api.key("mail:send") for _ in range(2)]
    theirs = api.key("mail:send", tenant="other")
    plan = admin.post("/v1/tenant/keys/revoke", json={"scope": "mail:send"}).json()
    assert plan["dry_run"] is True
    listed = {k["id"] for k in plan["keys"]}
    assert {s.view.id for s in senders} <= listed and theirs.view.id not in listed
    assert api.runtime.keys.show(OPERATOR, senders[0].view.id).state == "active"
    done = admin.post(
        "/v1/tenant/keys/revoke",
        json={"scope": "mail:send", "dry_run": False, "reason": "breach"},
    ).json()
    assert {k["id"] for k in done["keys"]} == listed
    assert api.client(senders[0]).get("/v1/keys").json()["code"] == "revoked"
    assert api.runtime.keys.show(OPERATOR, theirs.view.id).state == "active"


def test_tenant_wide_response_refuses_a_naive_date_and_an_empty_selector(
    admin: httpx.Client,
) -> None:
    naive = admin.post("/v1/tenant/keys/revoke", json={"created_before": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
    empty = admin.post("/v1/tenant/keys/rotate", json={})
    assert (empty.status_code, empty.json()["code"]) == (422, "selector_required")
