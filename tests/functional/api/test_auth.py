"""Authentication over HTTP: the two headers, the opaque invalid answer, keys in URLs."""

from __future__ import annotations

from datetime import timedelta

import httpx

from keyguard.clock import ManualClock
from keyguard.keys import generate_key
from tests.functional.api.conftest import Api


def test_x_api_key_works_like_bearer(api: Api) -> None:
    key = api.key("keys:read").key.reveal()
    assert api.client(**{"X-API-Key": key}).get("/v1/keys").status_code == 200
    same = api.client(key, **{"X-API-Key": key})
    assert same.get("/v1/keys").status_code == 200


def test_two_different_keys_are_refused(api: Api) -> None:
    one, two = api.key("keys:read"), api.key("keys:read")
    answer = api.client(one, **{"X-API-Key": two.key.reveal()}).get("/v1/keys")
    assert answer.status_code == 400
    assert answer.json()["code"] == "ambiguous_credentials"


def test_a_credential_header_sent_twice_is_refused(api: Api) -> None:
    first, last = api.key("keys:read").key.reveal(), api.key("keys:read").key.reveal()
    for name, value in (("Authorization", "Bearer {}"), ("X-API-Key", "{}")):
        headers = [(name, value.format(first)), (name, value.format(last))]
        answer = api.client().get("/v1/keys", headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.json()["code"] == "ambiguous_credentials"


def test_another_auth_scheme_counts_as_no_key(api: Api) -> None:
    key = api.key("keys:read").key.reveal()
    answer = api.client(Authorization=f"Basic {key}").get("/v1/keys")
    assert answer.status_code == 401
    assert answer.json()["code"] == "missing_key"


def test_the_missing_key_answer_says_how_to_send_one_ungarbled(api: Api) -> None:
    answer = api.client().get("/v1/keys")
    assert answer.status_code == 401
    detail = answer.json()["detail"]
    assert "`Authorization: Bearer <key>`" in detail
    assert "`X-API-Key: <key>`" in detail
    assert "[redacted]" not in detail


def test_every_string_that_is_not_our_key_gets_the_same_answer(api: Api) -> None:
    real = generate_key("live").reveal()
    candidates = [
        "hello",
        "kg_live_short",
        real[:-1] + ("A" if real[-1] != "A" else "B"),  # checksum fails
        real,  # well formed, never issued
        "x" * 5000,
    ]
    bodies = set()
    for candidate in candidates:
        # The same request id each time: `instance` is the only per-request part of the body.
        answer = api.client(candidate).get("/v1/keys", headers={"X-Request-ID": "same"})
        assert answer.status_code == 401
        bodies.add(answer.text)
    assert len(bodies) == 1
    assert '"code":"invalid_key"' in bodies.pop()


def test_an_expired_key_is_told_so(api: Api, clock: ManualClock) -> None:
    key = api.key(
        "keys:read",
    )
    clock.advance(timedelta(days=366))
    answer = api.client(key).get("/v1/keys")
    assert answer.status_code == 401
    assert answer.json()["code"] == "expired"


def test_a_key_in_the_query_string_is_refused_and_never_logged(api: Api) -> None:
    key = api.key("keys:read").key.reveal()
    body = key.split("_", 2)[2]
    for query in ({"api_key": key}, {"q": key}, {"api_key": "whatever"}):
        answer = httpx.get(f"{api.url}/v1/keys", params=query)
        assert answer.status_code == 400
        assert answer.json()["code"] == "key_in_query"
        assert "URL" in answer.json()["detail"]
        assert body not in answer.text
    assert body not in api.log.getvalue()
    assert api.usage()[-1].outcome == "invalid_key"


def test_the_access_log_names_the_key_id_never_the_key(api: Api) -> None:
    created = api.key("keys:read")
    api.client(created).get("/v1/keys")
    line = api.access_log()[-1]
    assert line["key_id"] == created.view.id
    assert line["tenant"] == "default"
    assert line["status"] == 200
    assert line["outcome"] == "ok"
    assert created.key.reveal().split("_", 2)[2] not in api.log.getvalue()
    assert "Bearer" not in api.log.getvalue()
