"""What every usage event carries besides the PRODUCT.md fields: the request id, the key's
previous use, and the client's country and autonomous system when IP databases are set."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from keyguard.clock import ManualClock
from keyguard.lifecycle import DEFAULT_TENANT, OPERATOR
from tests.functional.api.conftest import Api, StartApi
from tests.usage_support import asn_db, country_db


@pytest.fixture
def located(start_api: StartApi, tmp_path: Path) -> Api:
    return start_api(
        geoip_db=country_db(tmp_path / "country.mmdb"), asn_db=asn_db(tmp_path / "asn.mmdb")
    )


def test_each_event_names_the_keys_previous_use(api: Api, clock: ManualClock) -> None:
    client = api.client(api.key("keys:read"))
    client.get("/v1/keys")
    clock.advance(timedelta(hours=3))
    client.get("/v1/keys")
    clock.advance(timedelta(minutes=1))
    client.post("/v1/keys", json={"scopes": ["keys:read"]})  # refused: no keys:write
    first, second, refused = api.usage()
    assert first.key_last_used_at is None
    assert second.key_last_used_at == first.ts
    assert refused.outcome == "denied_scope"
    assert refused.key_last_used_at == second.ts
    assert second.to_json()["key_last_used_at"] == first.to_json()["ts"]
    assert second.to_json()["request_id"] == second.request_id


def test_an_invalid_key_has_no_previous_use(api: Api) -> None:
    api.client("kg_live_nonsense").get("/v1/keys")
    (event,) = api.usage()
    assert (event.key_id, event.key_last_used_at) == (None, None)


def test_events_carry_country_and_asn_when_databases_are_set(located: Api) -> None:
    located.client(located.key("keys:read")).get("/v1/keys")
    located.client("kg_live_nonsense").get("/v1/keys")
    allowed, invalid = located.usage()
    assert (allowed.geo, allowed.asn) == ("IS", 64512)
    assert (invalid.geo, invalid.asn) == ("IS", 64512)  # who guesses is worth locating too


def test_without_databases_events_have_no_location(api: Api) -> None:
    api.client(api.key("keys:read")).get("/v1/keys")
    (event,) = api.usage()
    assert (event.geo, event.asn) == (None, None)


def test_a_verified_keys_event_names_its_previous_use(api: Api, clock: ManualClock) -> None:
    gateway = api.client(api.key("keys:verify"))
    checked = api.key("mail:send")
    gateway.post("/v1/keys/verify", json={"key": checked.key.reveal()})
    clock.advance(timedelta(minutes=10))
    gateway.post("/v1/keys/verify", json={"key": checked.key.reveal()})
    mine = [e for e in api.usage() if e.key_id == checked.view.id]
    assert [e.key_last_used_at for e in mine] == [None, mine[0].ts]


def test_a_mail_send_event_is_located_and_names_the_previous_use(
    located: Api, clock: ManualClock
) -> None:
    located.runtime.mail.add_domain(DEFAULT_TENANT, "brand.example", OPERATOR.id)
    client = located.client(located.key("mail:send"))
    message = {"from": "news@brand.example", "to": ["a@example.com"], "subject": "Hi", "text": "x"}
    assert client.post("/v1/mail/send", json=message).status_code == 202
    clock.advance(timedelta(minutes=2))
    assert client.post("/v1/mail/send", json=message).status_code == 202
    first, second = located.usage()
    assert (second.geo, second.asn, second.recipients) == ("IS", 64512, 1)
    assert second.key_last_used_at == first.ts
