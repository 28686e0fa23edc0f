"""The dashboard over real HTTP: sign-in, sessions, headers, CSRF, re-authentication, the key
lifecycle shown once, alerts, incidents and their reports, the audit log, tenant isolation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from keyguard.audit import AuditEvent
from keyguard.clock import ManualClock
from keyguard.lifecycle import OPERATOR
from tests.conftest import create_key
from tests.functional.web.conftest import Api, PeopleFactory, Person, csrf_of, new_key_of
from tests.unit.monitoring.online import store, trace


@pytest.fixture
def owner(people: PeopleFactory) -> Person:
    person = people("owner")
    assert person.sign_in().status_code == 303
    return person


def _create(person: Person, name: str = "web key", scope: str = "mail:send") -> tuple[str, str]:
    answer = person.post("/ui/keys/new", "/ui/keys/new", name=name, scope=scope, expires_in="30d")
    assert answer.status_code == 200, answer.text[:2000]
    raw = new_key_of(answer.text)
    assert raw is not None
    key_id = answer.text.split('href="/ui/keys/', 2)[-1].split('"', 1)[0]
    return key_id, raw


def test_every_page_sends_the_security_headers(api: Api) -> None:
    answer = api.client().get("/ui/login")
    assert answer.status_code == 200
    csp = answer.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
        and "unsafe-inline" not in csp
    )
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert "no-store" in answer.headers["cache-control"]
    assert "strict-transport-security" not in answer.headers  # dev mode, plain HTTP


def test_the_session_cookie_is_httponly_and_samesite_strict(people: PeopleFactory) -> None:
    person = people()
    cookie = person.sign_in().headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie


def test_pages_need_a_signed_in_session(api: Api) -> None:
    answer = api.client().get("/ui/keys")
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/login")


def test_signing_in_replaces_the_pending_session(people: PeopleFactory) -> None:
    person = people()
    person.client.get("/ui/login")
    before = dict(person.client.cookies)
    person.sign_in()
    assert dict(person.client.cookies) != before  # a new token: no session fixation
    assert "Overview of default" in person.client.get("/ui/").text


def test_a_wrong_password_and_an_unknown_address_look_the_same(
    people: PeopleFactory, api: Api
) -> None:
    person = people()
    answers = []
    for email, password in ((person.email, "not the password"), ("nobody@example.com", "x" * 14)):
        token = person.csrf()
        answer = person.client.post(
            "/ui/login/password",
            data={"csrf": token, "email": email, "password": password, "code": person.code()},
        )
        answers.append((answer.status_code, "wrong address, password or code" in answer.text))
    assert answers == [(401, True), (401, True)]


def test_every_page_shows_that_staff_never_ask_for_a_key(owner: Person) -> None:
    for path in (
        "/ui/",
        "/ui/keys",
        "/ui/alerts",
        "/ui/alerts/policy",
        "/ui/key-policy",
        "/ui/incidents",
        "/ui/audit",
        "/ui/review",
        "/ui/users",
        "/ui/webhooks",
        "/ui/account",
    ):
        answer = owner.client.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
        assert "Keyguard staff will never ask you for a key" in answer.text, path


def test_a_new_key_is_shown_once_and_a_reload_shows_nothing(owner: Person, api: Api) -> None:
    html = owner.client.get("/ui/keys/new").text
    form = {
        "csrf": csrf_of(html),
        "nonce": html.split('name="nonce" value="')[1].split('"')[0],
        "name": "once",
        "scope": "mail:send",
    }
    first = owner.client.post("/ui/keys/new", data=form)
    raw = new_key_of(first.text)
    assert raw is not None and raw.startswith("kg_live_")
    assert "We will never show this key again" in first.text
    again = owner.client.post("/ui/keys/new", data=form)  # what a reload of that page sends
    assert (again.status_code, again.headers["location"]) == (303, "/ui/keys?notice=shown-once")
    assert len(api.runtime.keys.list(OPERATOR, limit=50)) == 1
    for path in (
        "/ui/",
        "/ui/keys",
        f"/ui/keys/{api.runtime.keys.list(OPERATOR)[0].id}",
        "/ui/audit",
    ):
        assert raw not in owner.client.get(path).text
    assert all(raw not in value for value in owner.client.cookies.values())


def test_a_post_without_the_csrf_token_is_refused(owner: Person, api: Api) -> None:
    answer = owner.client.post(
        "/ui/keys/new", data={"csrf": "forged", "name": "x", "scope": "mail:send"}
    )
    assert answer.status_code == 403 and "csrf_refused" in answer.text
    assert api.runtime.keys.list(OPERATOR) == []


def test_a_post_from_another_origin_is_refused(owner: Person) -> None:
    html = owner.client.get("/ui/keys/new").text
    answer = owner.client.post(
        "/ui/keys/new",
        data={"csrf": csrf_of(html), "name": "x", "scope": "mail:send"},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403 and "csrf_refused" in answer.text


def test_a_sensitive_action_needs_a_recent_factor(
    owner: Person, clock: ManualClock, api: Api
) -> None:
    clock.advance(timedelta(minutes=6))
    answer = owner.client.get("/ui/keys/new")
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/reauth?next=/ui/keys/new")
    refused = owner.post("/ui/keys/new", name="late", scope="mail:send")
    assert refused.status_code == 303 and refused.headers["location"].startswith("/ui/reauth")
    assert api.runtime.keys.list(OPERATOR) == []
    clock.advance(timedelta(seconds=30))
    confirmed = owner.post("/ui/reauth", "/ui/reauth", code=owner.code(), next="/ui/keys/new")
    assert (confirmed.status_code, confirmed.headers["location"]) == (303, "/ui/keys/new")
    _create(owner)


def test_rotate_shows_the_successor_once_and_revoke_needs_confirmation(
    owner: Person, api: Api
) -> None:
    key_id, raw = _create(owner)
    rotated = owner.post(
        f"/ui/keys/{key_id}/rotate", f"/ui/keys/{key_id}/rotate", confirm="yes", grace="1h"
    )
    successor = new_key_of(rotated.text)
    assert successor is not None and successor != raw
    unconfirmed = owner.post(f"/ui/keys/{key_id}/revoke", f"/ui/keys/{key_id}/revoke")
    assert unconfirmed.status_code == 400 and "confirmation_required" in unconfirmed.text
    revoked = owner.post(
        f"/ui/keys/{key_id}/revoke", f"/ui/keys/{key_id}/revoke", confirm="yes", reason="test"
    )
    assert revoked.status_code == 303
    assert api.runtime.keys.show(OPERATOR, key_id).state == "revoked"
    assert successor not in owner.client.get(f"/ui/keys/{key_id}").text


def test_suspend_and_resume(owner: Person, api: Api) -> None:
    key_id, _ = _create(owner)
    owner.post(f"/ui/keys/{key_id}/suspend", f"/ui/keys/{key_id}/suspend", confirm="yes")
    assert api.runtime.keys.show(OPERATOR, key_id).state == "suspended"
    owner.post(f"/ui/keys/{key_id}/resume", f"/ui/keys/{key_id}/resume", confirm="yes")
    assert api.runtime.keys.show(OPERATOR, key_id).state == "active"


def test_the_key_page_draws_its_usage_as_inline_svg(owner: Person) -> None:
    key_id, _ = _create(owner)
    html = owner.client.get(f"/ui/keys/{key_id}").text
    assert '<svg class="chart" role="img"' in html and "requests" in html


def test_the_keys_list_filters(owner: Person) -> None:
    _create(owner, name="alpha")
    _create(owner, name="beta")
    html = owner.client.get("/ui/keys", params={"q": "alph"}).text
    assert "alpha" in html and "beta" not in html


def test_a_viewer_reads_but_cannot_create(people: PeopleFactory, api: Api) -> None:
    viewer = people("viewer")
    viewer.sign_in()
    assert viewer.client.get("/ui/keys").status_code == 200
    answer = viewer.post("/ui/keys/new", name="x", scope="mail:send")
    assert answer.status_code == 403
    assert api.runtime.keys.list(OPERATOR) == []


def test_a_developer_cannot_hand_out_a_scope_its_role_lacks(
    people: PeopleFactory, api: Api
) -> None:
    developer = people("developer")
    developer.sign_in()
    answer = developer.post("/ui/keys/new", "/ui/keys/new", name="x", scope="webhooks:write")
    assert answer.status_code == 403 and "privilege_escalation" in answer.text


def test_a_person_of_another_tenant_sees_nothing_of_this_one(
    people: PeopleFactory, owner: Person, api: Api
) -> None:
    key_id, _ = _create(owner)
    stranger = people("owner", tenant="other")
    stranger.sign_in()
    assert stranger.client.get(f"/ui/keys/{key_id}").status_code == 404
    assert key_id not in stranger.client.get("/ui/keys").text
    refused = stranger.post(f"/ui/keys/{key_id}/revoke", "/ui/", confirm="yes")
    assert refused.status_code == 404
    assert api.runtime.keys.show(OPERATOR, key_id).state == "active"


def test_alerts_are_acknowledged_resolved_and_marked(owner: Person, api: Api) -> None:
    key = create_key(api.runtime)
    store(api.runtime, trace(key.view.id, "default"))
    api.runtime.detector.drain()
    html = owner.client.get("/ui/alerts").text
    ids = sorted(int(part.split('"')[0]) for part in html.split('id="alert-')[1:])[:2]
    assert len(ids) == 2
    assert owner.post(f"/ui/alerts/{ids[0]}/ack", "/ui/alerts").status_code == 303
    assert owner.post(f"/ui/alerts/{ids[1]}/false-positive", "/ui/alerts").status_code == 303
    found = api.runtime.alerts.list(OPERATOR, _all(), limit=10)
    states = {a["id"]: a["state"] for a in found if a["id"] in ids}
    assert states == {ids[0]: "acknowledged", ids[1]: "false_positive"}


def _all():  # type: ignore[no-untyped-def]
    from keyguard.monitoring import AlertFilter

    return AlertFilter()


def test_an_incident_is_opened_and_its_report_downloaded(owner: Person, api: Api) -> None:
    key_id, _ = _create(owner)
    opened = owner.post(
        "/ui/incidents/new",
        "/ui/incidents/new",
        key_id=key_id,
        reason="posted in a chat",
        response="revoke",
    )
    assert opened.status_code == 303
    page = owner.client.get(opened.headers["location"])
    assert "posted in a chat" in page.text
    report = owner.client.get(opened.headers["location"] + "/report", params={"format": "html"})
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "attachment" in report.headers["content-disposition"]
    assert key_id in report.text
    assert api.runtime.keys.show(OPERATOR, key_id).state == "revoked"


def test_the_audit_log_shows_the_chain_and_the_person_as_actor(owner: Person, api: Api) -> None:
    key_id, _ = _create(owner)
    html = owner.client.get("/ui/audit").text
    assert "Hash chain intact" in html
    with api.runtime.sessions() as session:
        created = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "key.created")
        ).one()
    assert created.actor == f"user:{owner.user_id}" and created.target == key_id


def test_an_owner_adds_a_user_and_gets_a_one_time_link(owner: Person, api: Api) -> None:
    answer = owner.post("/ui/users", "/ui/users", email="new@example.com", role="developer")
    assert answer.status_code == 200 and "/ui/setup?token=" in answer.text
    assert [u.email for u in api.runtime.users.list("default") if u.email == "new@example.com"]


def test_a_developer_cannot_add_users(people: PeopleFactory) -> None:
    developer = people("developer")
    developer.sign_in()
    answer = developer.post("/ui/users", "/ui/users", email="x@example.com", role="viewer")
    assert answer.status_code == 403


def test_a_recovery_code_signs_in_but_sensitive_actions_ask_again(
    api: Api, people: PeopleFactory
) -> None:
    invitation = api.runtime.users.add(
        OPERATOR.id, email="r@example.com", tenant_id="default", role_name="owner"
    )
    from keyguard.users import totp_code
    from tests.functional.web.conftest import PASSWORD, SEED

    codes = api.runtime.users.setup_password(
        invitation.token,
        password=PASSWORD,
        totp_secret=SEED,
        code=totp_code(SEED, api.runtime.clock()),
    )
    person = people("viewer")
    token = person.csrf()
    answer = person.client.post(
        "/ui/login/recovery",
        data={"csrf": token, "email": "r@example.com", "recovery_code": codes[0]},
    )
    assert answer.status_code == 401  # not without the password: the sign-in page again
    answer = person.client.post(
        "/ui/login/recovery",
        data={
            "csrf": person.csrf(),
            "email": "r@example.com",
            "password": PASSWORD,
            "recovery_code": codes[0],
        },
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/account?recovered=1")
    assert person.client.get("/ui/keys/new").headers["location"].startswith("/ui/reauth")


def test_sign_out_ends_the_session(owner: Person) -> None:
    assert owner.post("/ui/logout").status_code == 303
    assert owner.client.get("/ui/").status_code == 303


def test_setup_by_link_with_password_and_totp(
    api: Api, people: PeopleFactory, clock: ManualClock
) -> None:
    from keyguard.users import totp_code

    invitation = api.runtime.users.add(
        OPERATOR.id, email="s@example.com", tenant_id="default", role_name="viewer"
    )
    person = people("viewer")
    html = person.client.get("/ui/setup", params={"token": invitation.token}).text
    secret = html.split('id="totp-secret">')[1].split("<")[0]
    done = person.client.post("/ui/setup/password", data={
        "csrf": csrf_of(html), "token": invitation.token, "totp_secret": secret,
        "password": "a long enough password", "password_again": "a long enough password",
        "code": totp_code(secret, clock()),
    })  # fmt: skip
    assert done.status_code == 200 and done.text.count("<li><code>") == 10
    assert "Overview" in person.client.get("/ui/").text
    again = person.client.get("/ui/setup", params={"token": invitation.token})
    assert again.status_code == 401


def test_the_response_policy_changes_only_after_a_recent_factor(
    owner: Person, clock: ManualClock, api: Api
) -> None:
    from keyguard.monitoring import load_policy

    saved = owner.post(
        "/ui/alerts/policy", "/ui/alerts/policy", mode="enforce", severity_high="revoke"
    )
    assert saved.status_code == 303
    with api.runtime.sessions() as session:
        policy = load_policy(session, "default")
        actor = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "monitor.policy_set")
        ).one()
    assert (policy.mode, policy.by_severity["high"], actor) == (
        "enforce",
        "revoke",
        f"user:{owner.user_id}",
    )
    clock.advance(timedelta(minutes=6))
    stale = owner.post("/ui/alerts/policy", "/ui/alerts/policy", mode="monitor")
    assert stale.status_code == 303 and stale.headers["location"].startswith("/ui/reauth")


def test_a_viewer_reads_the_response_policy_but_has_no_form(people: PeopleFactory) -> None:
    viewer = people("viewer")
    viewer.sign_in()
    html = viewer.client.get("/ui/alerts/policy").text
    assert "Response policy" in html and 'action="/ui/alerts/policy"' not in html
    assert viewer.post("/ui/alerts/policy", "/ui/", mode="enforce").status_code == 403


def test_the_usage_chart_draws_the_keys_requests_in_the_chosen_window(
    owner: Person, api: Api
) -> None:
    key = create_key(api.runtime)
    store(api.runtime, trace(key.view.id, "default"))
    default = owner.client.get(f"/ui/keys/{key.view.id}").text
    month = owner.client.get(f"/ui/keys/{key.view.id}", params={"hours": "720"}).text
    odd = owner.client.get(f"/ui/keys/{key.view.id}", params={"hours": "5"}).text
    assert "Usage, last 48 hours, by hour" in default and "Usage, last 48 hours" in odd
    assert "Usage, last 30 days, by day" in month and month.count("<rect") > 0


def test_an_owner_removes_a_user_whose_sessions_end(
    owner: Person, people: PeopleFactory, api: Api
) -> None:
    viewer = people("viewer")
    viewer.sign_in()
    assert viewer.client.get("/ui/").status_code == 200
    removed = owner.post(f"/ui/users/{viewer.user_id}/remove", "/ui/users")
    assert removed.status_code == 303
    assert viewer.client.get("/ui/").status_code == 303  # signed out at once
    assert viewer.email not in [u.email for u in api.runtime.users.list("default")]


def test_the_overview_counts_keys_by_environment(owner: Person, api: Api) -> None:
    create_key(api.runtime, env="test")
    create_key(api.runtime, env="live")
    create_key(api.runtime, env="live")
    html = owner.client.get("/ui/").text
    rows = {
        env: html.split(f'<th scope="row">{env}</th>')[1].split("</tr>")[0]
        for env in ("live", "test", "dev")
    }
    assert rows["live"].startswith("<td>2</td>") and rows["test"].startswith("<td>1</td>")
    assert rows["dev"].startswith("<td>0</td>")


def test_per_rule_actions_and_the_throttle_are_set_on_the_policy_page(
    owner: Person, people: PeopleFactory, api: Api
) -> None:
    from keyguard.monitoring import load_policy

    saved = owner.post(
        "/ui/alerts/policy", "/ui/alerts/policy", rule_key_spray="revoke",
        rule_new_network="", throttle_per_minute="25", throttle_for="30m",
    )  # fmt: skip
    assert saved.status_code == 303, saved.text[:500]
    with api.runtime.sessions() as session:
        policy = load_policy(session, "default")
    assert (policy.by_rule, policy.throttle_per_minute, policy.throttle_seconds) == (
        {"key_spray": "revoke"},
        25,
        1800,
    )
    cleared = owner.post("/ui/alerts/policy", "/ui/alerts/policy", rule_key_spray="")
    assert cleared.status_code == 303
    with api.runtime.sessions() as session:
        assert load_policy(session, "default").by_rule == {}
    bad = owner.post("/ui/alerts/policy", "/ui/alerts/policy", rule_key_spray="explode")
    assert bad.status_code == 400
    owner.post("/ui/alerts/policy", "/ui/alerts/policy", rule_key_spray="quarantine")
    viewer = people("viewer")
    viewer.sign_in()
    html = viewer.client.get("/ui/alerts/policy").text
    assert "<code>key_spray</code>: quarantine" in html
    assert "25 requests per minute for 1800 seconds" in html


def test_the_key_policy_page_shows_the_limits_and_sets_the_hold_after_a_factor(
    owner: Person, people: PeopleFactory, clock: ManualClock, api: Api
) -> None:
    html = owner.client.get("/ui/key-policy").text
    assert "365 days" in html and "90 days" in html and "held, not sent" in html
    saved = owner.post("/ui/key-policy", "/ui/key-policy", hold_revoked_mail="off")
    assert saved.status_code == 303
    assert api.runtime.mail.domains.holds_revoked_mail("default") is False
    with api.runtime.sessions() as session:
        actor = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "mail.hold_revoked_mail_cleared")
        ).one()
    assert actor == f"user:{owner.user_id}"
    clock.advance(timedelta(minutes=6))
    stale = owner.post("/ui/key-policy", "/ui/key-policy", hold_revoked_mail="on")
    assert stale.status_code == 303 and stale.headers["location"].startswith("/ui/reauth")
    viewer = people("viewer")
    viewer.sign_in()
    page = viewer.client.get("/ui/key-policy").text
    assert "Mail of a revoked key" in page and 'action="/ui/key-policy"' not in page
    assert viewer.post("/ui/key-policy", "/ui/", hold_revoked_mail="on").status_code == 403
    assert api.runtime.mail.domains.holds_revoked_mail("default") is False
