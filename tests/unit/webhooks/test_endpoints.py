"""Endpoints: URLs checked, a Standard Webhooks secret shown once and stored only sealed,
rotation, removal, tenant partitioning; security contacts."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select, text

from keyguard.errors import InvalidInput, NotFound
from keyguard.lifecycle import OPERATOR, Actor
from keyguard.runtime import Runtime
from keyguard.secrets import SecretValue
from keyguard.tables import target_metadata
from keyguard.webhooks import check_url, new_signing_secret
from keyguard.webhooks.models import WebhookEndpoint
from tests.conftest import create_key

URL = "https://hooks.example.com/keyguard"
OTHER_TENANT = Actor(id="key:key_other", tenant_id="other", scopes=frozenset({"webhooks:write"}))


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/in",
        "http://127.0.0.1:8080/in",
        "http://[::1]/x",
        "http://localhost/",
    ],
)
def test_https_urls_and_loopback_http_are_accepted(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",  # clear text over the network
        "ftp://hooks.example.com/in",
        "https://user:pw@hooks.example.com/in",  # credentials would be stored in clear
        "https:///nohost",
        "hooks.example.com/in",
        "https://hooks.example.com:99999/",
        "https://hooks.example.com/in#frag",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_url(url)
    assert info.value.code == "invalid_webhook_url"


def test_a_signing_secret_is_whsec_and_24_random_bytes() -> None:
    secret = new_signing_secret(lambda n: b"\x01" * n).reveal()
    assert secret.startswith("whsec_")
    assert base64.b64decode(secret.removeprefix("whsec_")) == b"\x01" * 24


def test_the_secret_is_shown_once_and_stored_only_sealed(runtime: Runtime) -> None:
    created = runtime.webhooks.create(OPERATOR, "default", URL, ["key.created"])
    secret = created.secret.reveal()
    assert secret not in repr(created)
    assert secret not in repr(runtime.webhooks.endpoints(OPERATOR, "default"))
    dump = _database_dump(runtime)
    assert secret not in dump
    assert secret.removeprefix("whsec_") not in dump
    assert base64.b64decode(secret.removeprefix("whsec_")).hex() not in dump
    with runtime.sessions() as session:
        stored = runtime.webhooks.signing_secret(session, created.view.id, "default")
    assert stored.reveal() == secret


def test_rotation_replaces_the_signing_secret(runtime: Runtime) -> None:
    created = runtime.webhooks.create(OPERATOR, "default", URL, ["key.created"])
    rotated = runtime.webhooks.rotate_secret(OPERATOR, "default", created.view.id)
    assert rotated.secret.reveal() != created.secret.reveal()
    with runtime.sessions() as session:
        current = runtime.webhooks.signing_secret(session, created.view.id, "default")
    assert current.reveal() == rotated.secret.reveal()
    assert rotated.secret.reveal() not in _database_dump(runtime)


def test_removing_an_endpoint_removes_its_secret(runtime: Runtime) -> None:
    created = runtime.webhooks.create(OPERATOR, "default", URL, ["key.created"])
    runtime.webhooks.remove(OPERATOR, "default", created.view.id)
    assert runtime.webhooks.endpoints(OPERATOR, "default") == []
    with runtime.sessions() as session:
        count = session.execute(
            text("SELECT count(*) FROM stored_secrets WHERE purpose = 'webhook_secret'")
        ).scalar_one()
    assert count == 0


def test_another_tenants_endpoint_looks_missing(runtime: Runtime) -> None:
    created = runtime.webhooks.create(OPERATOR, "default", URL, ["key.created"])
    with pytest.raises(NotFound):
        runtime.webhooks.remove(OPERATOR, "other", created.view.id)
    with pytest.raises(NotFound):
        runtime.webhooks.endpoints(OTHER_TENANT, "default")
    assert runtime.webhooks.endpoints(OTHER_TENANT, "other") == []


def test_unknown_event_types_are_refused(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput) as info:
        runtime.webhooks.create(OPERATOR, "default", URL, ["key.created", "key.exploded"])
    assert info.value.code == "unknown_event_type"


def test_a_key_pasted_into_the_description_is_masked(runtime: Runtime) -> None:
    raw = create_key(runtime).key.reveal()
    runtime.webhooks.create(OPERATOR, "default", URL, ["key.created"], description=f"x {raw}")
    with runtime.sessions() as session:
        row = session.scalars(select(WebhookEndpoint)).one()
    assert row.description is not None
    assert raw not in row.description


def test_security_contacts_are_added_listed_and_removed(runtime: Runtime) -> None:
    added = runtime.webhooks.add_contact(OPERATOR, "default", "SecOps@Example.com")
    assert added.email == "secops@example.com"
    with pytest.raises(InvalidInput):
        runtime.webhooks.add_contact(OPERATOR, "default", "secops@example.com")
    with pytest.raises(InvalidInput):
        runtime.webhooks.add_contact(OPERATOR, "default", "not an address")
    assert [c.email for c in runtime.webhooks.contacts(OPERATOR, "default")] == [added.email]
    assert runtime.webhooks.contacts(OPERATOR, "other") == []
    runtime.webhooks.remove_contact(OPERATOR, "default", "secops@example.com")
    assert runtime.webhooks.contacts(OPERATOR, "default") == []


def _database_dump(runtime: Runtime) -> str:
    """Every row of every table, as text (bytes as hex), for leak checks."""
    parts = []
    with runtime.sessions() as session:
        for table in target_metadata.sorted_tables:
            for row in session.execute(table.select()):
                parts.extend(v.hex() if isinstance(v, bytes) else str(v) for v in row)
    return "\n".join(parts)


def test_the_dump_sees_stored_values(runtime: Runtime) -> None:
    # Guards the leak checks above against vacuity: the dump does show what rows hold.
    runtime.webhooks.create(OPERATOR, "default", URL, ["key.created"])
    assert URL in _database_dump(runtime)
    assert isinstance(new_signing_secret(), SecretValue)
