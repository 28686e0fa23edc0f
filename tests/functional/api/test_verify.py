"""POST /v1/keys/verify: the gateway's view of a key."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from keyguard.clock import ManualClock
from keyguard.lifecycle.views import OPERATOR
from tests.functional.api.conftest import Api


@pytest.fixture
def gateway(api: Api) -> httpx.Client:
    return api.client(api.key("keys:verify"))


def test_a_valid_key_gets_its_public_metadata_and_never_its_digest(
    api: Api, gateway: httpx.Client
) -> None:
    key = api.key("mail:send", allowed_cidrs=["203.0.113.0/24"])
    answer = gateway.post(
        "/v1/keys/verify",
        json={"key": key.key.reveal(), "scope": "mail:send", "ip": "203.0.113.7", "env": "live"},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["valid"] is True
    assert body["outcome"] == "ok"
    assert body["key"]["id"] == key.view.id
    assert body["key"]["restrictions"]["allowed_cidrs"] == ["203.0.113.0/24"]
    with api.runtime.sessions() as session:
        from keyguard.lifecycle.models import ApiKey

        digest = session.get(ApiKey, key.view.id).digest  # type: ignore[union-attr]
    assert digest not in answer.text
    assert "digest" not in answer.text


@pytest.mark.parametrize(
    ("request_fields", "outcome"),
    [
        ({"scope": "audit:read"}, "denied_scope"),
        ({"ip": "198.51.100.1"}, "denied_ip"),
        ({"env": "test"}, "denied_env"),
    ],
)
def test_policy_refusals_name_the_reason(
    api: Api, gateway: httpx.Client, request_fields: dict[str, str], outcome: str
) -> None:
    key = api.key("mail:send", allowed_cidrs=["203.0.113.0/24"])
    body = {"key": key.key.reveal(), "scope": "mail:send", "ip": "203.0.113.7", **request_fields}
    answer = gateway.post("/v1/keys/verify", json=body).json()
    assert answer["valid"] is False
    assert answer["outcome"] == outcome


def test_unknown_strings_and_other_tenants_keys_get_one_opaque_answer(
    api: Api, gateway: httpx.Client
) -> None:
    theirs = api.key("mail:send", tenant="other").key.reveal()
    for presented in ("nope", theirs, theirs[:-2] + "zz"):
        answer = gateway.post("/v1/keys/verify", json={"key": presented})
        assert answer.json() == {"valid": False, "outcome": "invalid_key"}


def test_a_rotated_out_key_is_told_to_use_its_successor(
    api: Api, gateway: httpx.Client, clock: ManualClock
) -> None:
    key = api.key("mail:send")
    api.runtime.keys.rotate(OPERATOR, key.view.id, timedelta(minutes=5))
    clock.advance(timedelta(minutes=6))
    answer = gateway.post("/v1/keys/verify", json={"key": key.key.reveal()}).json()
    assert answer["valid"] is False
    assert answer["outcome"] == "revoked"
    assert answer["code"] == "key_rotated"


def test_the_verified_keys_rate_limit_applies(api: Api, gateway: httpx.Client) -> None:
    key = api.key("mail:send", rate_limit_per_minute=2).key.reveal()
    answers = [gateway.post("/v1/keys/verify", json={"key": key}).json() for _ in range(3)]
    assert [a["valid"] for a in answers] == [True, True, False]
    assert answers[2]["outcome"] == "rate_limited"
    assert answers[2]["retry_after"] == 30


def test_verification_leaves_an_event_for_the_gateway_and_one_for_the_key(
    api: Api, gateway: httpx.Client
) -> None:
    key = api.key("mail:send")
    gateway.post(
        "/v1/keys/verify", json={"key": key.key.reveal(), "scope": "mail:send", "ip": "192.0.2.5"}
    )
    events = api.usage()
    checked = next(e for e in events if e.key_id == key.view.id)
    own = next(e for e in events if e.scope == "keys:verify")
    assert (checked.outcome, checked.ip, checked.scope) == ("ok", "192.0.2.5", "mail:send")
    assert checked.extra == {"via": own.key_id}
    assert (own.status, own.path) == (200, "/v1/keys/verify")


def test_the_caller_needs_keys_verify(api: Api) -> None:
    answer = api.client(api.key("keys:read")).post("/v1/keys/verify", json={"key": "x"})
    assert answer.status_code == 403
    assert answer.json()["code"] == "denied_scope"


def test_unknown_scopes_and_fields_are_refused(gateway: httpx.Client) -> None:
    unknown_scope = gateway.post("/v1/keys/verify", json={"key": "x", "scope": "mail:fly"})
    assert unknown_scope.json()["code"] == "unknown_scope"
    extra = gateway.post("/v1/keys/verify", json={"key": "x", "pepper": "y"})
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["code"] == "extra_forbidden"


def _last_used(api: Api, key_id: str) -> object:
    api.runtime.verifier.last_used.flush(api.runtime.sessions)
    return api.runtime.keys.show(OPERATOR, key_id).last_used_at


def test_a_test_gateway_learns_nothing_of_a_live_key_and_spends_none_of_its_rate(
    api: Api,
) -> None:
    live = api.key("keys:read", rate_limit_per_minute=1)
    test_gateway = api.client(api.key("keys:verify", env="test"))
    answer = test_gateway.post("/v1/keys/verify", json={"key": live.key.reveal()})
    assert answer.status_code == 200
    assert answer.json() == {"valid": False, "outcome": "invalid_key"}
    assert _last_used(api, live.view.id) is None
    assert api.client(live).get("/v1/keys").status_code == 200  # its one request is still there


def test_only_a_successful_use_by_the_owning_tenant_sets_last_used(
    api: Api, gateway: httpx.Client
) -> None:
    theirs = api.key("mail:send", tenant="other")
    other_gateway = api.client(api.key("keys:verify", tenant="other"))
    mine = api.key("mail:send")
    assert gateway.post("/v1/keys/verify", json={"key": theirs.key.reveal()}).json() == {
        "valid": False,
        "outcome": "invalid_key",
    }
    refused = gateway.post(
        "/v1/keys/verify", json={"key": mine.key.reveal(), "scope": "audit:read"}
    )
    assert refused.json()["outcome"] == "denied_scope"
    assert _last_used(api, theirs.view.id) is None
    assert _last_used(api, mine.view.id) is None
    assert other_gateway.post("/v1/keys/verify", json={"key": theirs.key.reveal()}).json()["valid"]
    assert _last_used(api, theirs.view.id) is not None
