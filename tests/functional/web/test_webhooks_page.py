"""The webhooks page over real HTTP: an endpoint created with its signing secret shown once,
disabled, enabled and removed; re-authentication, CSRF, roles and tenants as for keys."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from keyguard.audit import AuditEvent
from keyguard.clock import ManualClock
from keyguard.lifecycle import OPERATOR
from tests.functional.web.conftest import Api, PeopleFactory, Person, csrf_of

URL = "https://hooks.example.com/keyguard"
_SECRET = re.compile(r'id="new-secret" class="secret" readonly value="([^"]+)"')


@pytest.fixture
def owner(people: PeopleFactory) -> Person:
    person = people("owner")
    assert person.sign_in().status_code == 303
    return person


def _form(person: Person, **fields: str) -> dict[str, str]:
    html = person.client.get("/ui/webhooks/new").text
    nonce = html.split('name="nonce" value="')[1].split('"')[0]
    return {"csrf": csrf_of(html), "nonce": nonce, "url": URL, **fields}


def _create(person: Person) -> tuple[str, str]:
    answer = person.client.post("/ui/webhooks/new", data=_form(person, event_type="key.created"))
    assert answer.status_code == 200, answer.text[:2000]
    found = _SECRET.search(answer.text)
    assert found is not None
    return answer.text.split("Endpoint <code>")[1].split("<")[0], found.group(1)


def test_a_new_endpoints_secret_is_shown_once_and_a_reload_shows_nothing(
    owner: Person, api: Api
) -> None:
    form = _form(owner, event_type="key.created", description="crm")
    first = owner.client.post("/ui/webhooks/new", data=form)
    secret = _SECRET.search(first.text)
    assert secret is not None and secret.group(1).startswith("whsec_")
    assert "We will never show this secret again" in first.text
    assert "no-store" in first.headers["cache-control"]
    again = owner.client.post("/ui/webhooks/new", data=form)  # what a reload sends
    assert (again.status_code, again.headers["location"]) == (
        303,
        "/ui/webhooks?notice=shown-once",
    )
    (endpoint,) = api.runtime.webhooks.endpoints(OPERATOR, "default")
    assert (endpoint.url, endpoint.event_types) == (URL, ("key.created",))
    listing = owner.client.get("/ui/webhooks").text
    assert endpoint.id in listing and secret.group(1) not in listing
    with api.runtime.sessions() as session:
        stored = api.runtime.webhooks.signing_secret(session, endpoint.id, "default")
        actor = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "webhook.created")
        ).one()
    assert stored.reveal() == secret.group(1)
    assert actor == f"user:{owner.user_id}"


def test_the_services_checks_refuse_a_plain_http_url_and_no_event_types(owner: Person) -> None:
    http = owner.client.post(
        "/ui/webhooks/new",
        data=_form(owner, url="http://hooks.example.com/", event_type="key.created"),
    )
    assert http.status_code == 400 and "invalid_webhook_url" in http.text
    none = owner.client.post("/ui/webhooks/new", data=_form(owner))
    assert none.status_code == 400 and "event_types_required" in none.text


def test_creating_an_endpoint_needs_a_recent_factor(
    owner: Person, clock: ManualClock, api: Api
) -> None:
    form = _form(owner, event_type="key.created")
    clock.advance(timedelta(minutes=6))
    page = owner.client.get("/ui/webhooks/new")
    assert (page.status_code, page.headers["location"]) == (
        303,
        "/ui/reauth?next=/ui/webhooks/new",
    )
    refused = owner.client.post("/ui/webhooks/new", data=form)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/ui/reauth")
    assert api.runtime.webhooks.endpoints(OPERATOR, "default") == []


def test_a_forged_csrf_token_creates_nothing(owner: Person, api: Api) -> None:
    form = {**_form(owner, event_type="key.created"), "csrf": "forged"}
    answer = owner.client.post("/ui/webhooks/new", data=form)
    assert answer.status_code == 403 and "csrf_refused" in answer.text
    assert api.runtime.webhooks.endpoints(OPERATOR, "default") == []


def test_an_endpoint_is_disabled_enabled_and_removed(owner: Person, api: Api) -> None:
    endpoint_id, _ = _create(owner)
    disabled = owner.post(f"/ui/webhooks/{endpoint_id}/disable", "/ui/webhooks")
    assert disabled.status_code == 303
    assert [e.enabled for e in api.runtime.webhooks.endpoints(OPERATOR, "default")] == [False]
    owner.post(f"/ui/webhooks/{endpoint_id}/enable", "/ui/webhooks")
    assert [e.enabled for e in api.runtime.webhooks.endpoints(OPERATOR, "default")] == [True]
    confirm = f"/ui/webhooks/{endpoint_id}/remove"
    unconfirmed = owner.post(confirm, confirm)
    assert unconfirmed.status_code == 400 and "confirmation_required" in unconfirmed.text
    removed = owner.post(confirm, confirm, confirm="yes")
    assert (removed.status_code, removed.headers["location"]) == (303, "/ui/webhooks?done=removed")
    assert api.runtime.webhooks.endpoints(OPERATOR, "default") == []


def test_security_contacts_are_added_and_removed(owner: Person, api: Api) -> None:
    owner.post("/ui/contacts", "/ui/webhooks", email="Sec@Example.com")
    assert [c.email for c in api.runtime.webhooks.contacts(OPERATOR, "default")] == [
        "sec@example.com"
    ]
    owner.post("/ui/contacts/remove", "/ui/webhooks", contact="sec@example.com")
    assert api.runtime.webhooks.contacts(OPERATOR, "default") == []


@pytest.mark.parametrize("role", ["developer", "viewer"])
def test_a_role_without_webhooks_write_can_do_nothing_here(
    people: PeopleFactory, owner: Person, api: Api, role: str
) -> None:
    endpoint_id, _ = _create(owner)
    person = people(role)
    person.sign_in()
    assert person.client.get("/ui/webhooks").status_code == 403
    assert person.client.get("/ui/webhooks/new").status_code == 403
    created = person.post("/ui/webhooks/new", "/ui/", url=URL, event_type="key.created")
    disabled = person.post(f"/ui/webhooks/{endpoint_id}/disable", "/ui/")
    removed = person.post(f"/ui/webhooks/{endpoint_id}/remove", "/ui/", confirm="yes")
    contact = person.post("/ui/contacts", "/ui/", email="x@example.com")
    assert [a.status_code for a in (created, disabled, removed, contact)] == [403] * 4
    assert [(e.id, e.enabled) for e in api.runtime.webhooks.endpoints(OPERATOR, "default")] == [
        (endpoint_id, True)
    ]
    assert api.runtime.webhooks.contacts(OPERATOR, "default") == []


def test_another_tenants_endpoint_is_not_found(
    people: PeopleFactory, owner: Person, api: Api
) -> None:
    endpoint_id, _ = _create(owner)
    stranger = people("owner", tenant="other")
    stranger.sign_in()
    assert endpoint_id not in stranger.client.get("/ui/webhooks").text
    assert stranger.client.get(f"/ui/webhooks/{endpoint_id}/remove").status_code == 404
    disabled = stranger.post(f"/ui/webhooks/{endpoint_id}/disable", "/ui/webhooks")
    removed = stranger.post(f"/ui/webhooks/{endpoint_id}/remove", "/ui/webhooks", confirm="yes")
    assert (disabled.status_code, removed.status_code) == (404, 404)
    assert [e.enabled for e in api.runtime.webhooks.endpoints(OPERATOR, "default")] == [True]
