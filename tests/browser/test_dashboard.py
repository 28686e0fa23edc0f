"""The dashboard in Chromium against a real `keyguard serve`: sign-up with a passkey (virtual
authenticator) and with password + TOTP; a key shown once and gone after reload; rotate,
revoke; an alert acknowledged; an incident opened and its report downloaded; CSRF and
re-authentication refusals; tenant isolation; no key in any page, cookie or local storage
after its display; axe-core on every page; screenshots for docs/dashboard.md."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.browser.conftest import SHOTS, Served, axe_violations, with_passkeys

PAGES = ("/ui/", "/ui/keys", "/ui/alerts", "/ui/alerts/policy", "/ui/key-policy",
         "/ui/incidents", "/ui/review", "/ui/audit", "/ui/webhooks", "/ui/users",
         "/ui/account")  # fmt: skip
KEY = re.compile(r"kg_(live|test|dev)_[0-9A-Za-z]{20,}")


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    yield tab
    context.close()


def _accessible(page: Any) -> None:
    assert axe_violations(page) == [], page.url


def _shot(page: Any, name: str, *, mask: tuple[str, ...] = ()) -> None:
    """With KEYGUARD_SCREENSHOTS=1, the page into docs/dashboard/ (keys masked)."""
    if os.environ.get("KEYGUARD_SCREENSHOTS") != "1":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SHOTS / f"{name}.png"), full_page=True, mask=[page.locator(m) for m in mask]
    )


def _sign_up_with_passkey(page: Any, served: Served, email: str, role: str = "owner") -> None:
    with_passkeys(page)
    page.goto(served.add_user(email, role))
    _accessible(page)
    page.get_by_role("button", name="Create a passkey").click()
    page.wait_for_url("**/ui/setup/passkey")
    assert page.locator("#recovery-codes li").count() == 10, (
        page.locator("main").inner_text().replace("\n", " | ")
    )
    page.get_by_role("link", name="I have saved them — continue").click()
    page.wait_for_url("**/ui/")


def _nothing_secret_left(page: Any, raw: str) -> None:
    assert raw not in page.content()
    assert all(raw not in c["value"] for c in page.context.cookies())
    assert raw not in page.evaluate("() => JSON.stringify(Object.entries(localStorage))")
    assert raw not in page.evaluate("() => JSON.stringify(Object.entries(sessionStorage))")


def _create_key(page: Any, served: Served, name: str) -> str:
    page.goto(f"{served.url}/ui/keys/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create the key").click()
    page.wait_for_selector("#new-key")
    raw = str(page.locator("#new-key").input_value())
    assert KEY.fullmatch(raw)
    assert "We will never show this key again" in page.content()
    return raw


def test_passkey_sign_up_then_a_key_shown_once_rotated_and_revoked(
    page: Any, served: Served
) -> None:
    _sign_up_with_passkey(page, served, "passkey.owner@example.com")
    _shot(page, "overview")
    raw = _create_key(page, served, "newsletter sender")
    assert page.get_by_role("button", name="Copy to clipboard").is_visible()
    _accessible(page)
    _shot(page, "key-created", mask=("#new-key",))
    key_id = (
        page.get_by_role("link", name="I have stored it — go to the key")
        .get_attribute("href")
        .rsplit("/", 1)[1]
    )
    page.reload()  # re-posts the spent form: nothing is made, nothing shown again
    page.wait_for_load_state()
    assert "/ui/keys" in page.url and "shown once" in page.content()
    _nothing_secret_left(page, raw)
    page.goto(f"{served.url}/ui/keys/{key_id}")
    _accessible(page)
    _shot(page, "key-detail")
    page.get_by_role("link", name="Rotate").click()
    page.get_by_label(re.compile("I understand")).check()
    page.get_by_role("button", name="Rotate the key").click()
    page.wait_for_selector("#new-key")
    successor = str(page.locator("#new-key").input_value())
    assert KEY.fullmatch(successor) and successor != raw
    page.goto(f"{served.url}/ui/keys/{key_id}/revoke")
    _accessible(page)
    _shot(page, "revoke-confirm")
    page.get_by_label(re.compile("I understand")).check()
    page.get_by_role("button", name="Revoke the key").click()
    page.wait_for_url(re.compile(r".*done=revoke"))
    assert "revoked" in page.locator(".state").first.inner_text()
    for path in PAGES:
        page.goto(f"{served.url}{path}")
        assert page.get_by_text("Keyguard staff will never ask you for a key").is_visible(), path
        _accessible(page)
        _nothing_secret_left(page, raw)
        _nothing_secret_left(page, successor)
        assert not KEY.search(page.content()), path
    log = served.server.log()
    assert raw not in log and successor not in log and "token=" not in log  # nor in its log
    page.goto(f"{served.url}/ui/keys")
    _shot(page, "keys")
    page.goto(f"{served.url}/ui/audit")
    _shot(page, "audit")


def test_password_and_totp_sign_up_then_an_alert_and_an_incident(page: Any, served: Served) -> None:
    page.goto(served.add_user("totp.admin@example.com", "admin"))
    _shot(page, "setup", mask=("#totp-secret", ".small code"))
    secret = page.locator("#totp-secret").inner_text()
    totp = pyotp.TOTP(secret)
    page.get_by_label("New password (12 characters or more)").fill("a long enough password")
    page.get_by_label("The same password again").fill("a long enough password")
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Finish set-up").click()
    page.wait_for_selector("#recovery-codes")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/login")
    _accessible(page)
    _shot(page, "sign-in")
    page.get_by_label("E-mail address").first.fill("totp.admin@example.com")
    page.get_by_label("Password", exact=True).fill("a long enough password")
    # The set-up spent this time step's code; the next step's is accepted (window ±1 step).
    page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/ui/")
    page.goto(f"{served.url}/ui/keys/{served.watched_key}?hours=720")
    assert page.locator("svg.chart rect").count() > 0
    _accessible(page)
    _shot(page, "key-usage")
    page.goto(f"{served.url}/ui/alerts")
    _accessible(page)
    _shot(page, "alerts")
    first = page.locator("#alerts tbody tr").first
    first.get_by_role("button", name=re.compile("^Acknowledge")).click()
    page.wait_for_url(re.compile(r".*done=ack"))
    assert "acknowledged" in page.locator("#alerts").inner_text()
    page.goto(f"{served.url}/ui/incidents/new?key_id={served.watched_key}")
    page.get_by_label("What happened").fill("the key was pasted into a public chat")
    page.get_by_role("button", name="Open the incident").click()
    page.wait_for_url(re.compile(r".*/ui/incidents/inc_"))
    _accessible(page)
    _shot(page, "incident")
    with page.expect_download() as download:
        page.locator("#report-html").click()
    saved = download.value.path()
    assert served.watched_key in Path(saved).read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith("-report.html")


def test_a_forged_form_and_a_stale_factor_are_refused(page: Any, served: Served) -> None:
    _sign_up_with_passkey(page, served, "csrf.owner@example.com")
    page.goto(f"{served.url}/ui/keys/new")
    page.get_by_label("Name", exact=True).fill("forged")
    page.evaluate(
        "() => { document.querySelector('form[action=\"/ui/keys/new\"] input[name=csrf]')"
        ".value = 'forged'; }"
    )
    page.get_by_role("button", name="Create the key").click()
    page.wait_for_load_state()
    assert "csrf_refused" in page.content()
    # Signing in with a recovery code is no recent factor: creating a key asks again.
    page.context.clear_cookies()
    codes = served.cli.run(
        "users", "reset", "csrf.owner@example.com", "--url", served.url, "--json"
    )
    assert codes.returncode == 0  # a fresh set-up: one more passkey and its recovery codes
    page.goto(json.loads(codes.stdout)["setup_url"])
    page.get_by_role("button", name="Create a passkey").click()
    page.wait_for_selector("#recovery-codes")
    code = page.locator("#recovery-codes li").first.inner_text()
    page.context.clear_cookies()
    page.goto(f"{served.url}/ui/login")
    page.get_by_text("Lost your device? Use a recovery code").click()
    page.locator("#r-email").fill("csrf.owner@example.com")
    page.get_by_label("Recovery code").fill(code)
    page.get_by_role("button", name="Sign in with a recovery code").click()
    page.wait_for_url(re.compile(r".*/ui/account"))
    page.goto(f"{served.url}/ui/keys/new")
    assert "/ui/reauth" in page.url
    _accessible(page)
    _shot(page, "reauth")
    page.get_by_role("button", name="Confirm with a passkey").click()
    page.wait_for_url(re.compile(r".*/ui/keys/new$"))
    page.get_by_role("button", name="Create the key").wait_for()  # the form, after the factor


def test_a_person_of_another_tenant_sees_nothing_of_this_one(page: Any, served: Served) -> None:
    with_passkeys(page)
    page.goto(served.add_user("stranger@example.com", "owner", tenant="other"))
    page.get_by_role("button", name="Create a passkey").click()
    page.wait_for_selector("#recovery-codes")
    answer = page.goto(f"{served.url}/ui/keys/{served.watched_key}")
    assert answer is not None and answer.status == 404
    for path in PAGES:
        page.goto(f"{served.url}{path}")
        assert served.watched_key not in page.content(), path


def test_reading_works_without_javascript(chromium: Any, served: Served) -> None:
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(served.add_user("nojs.viewer@example.com", "viewer"))
        assert not page.get_by_role("button", name="Create a passkey").is_visible()  # needs JS
        secret = page.locator("#totp-secret").inner_text()
        page.get_by_label("New password (12 characters or more)").fill("a long enough password")
        page.get_by_label("The same password again").fill("a long enough password")
        page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Finish set-up").click()
        page.get_by_role("link", name="I have saved them — continue").click()
        page.wait_for_url("**/ui/")
        page.goto(f"{served.url}/ui/keys")
        assert "watched" in page.locator("#keys").inner_text()
        page.goto(f"{served.url}/ui/keys/{served.watched_key}")
        assert page.locator("svg.chart").count() == 1
        page.goto(f"{served.url}/ui/alerts")
        assert page.locator("#alerts tbody tr").count() >= 2
    finally:
        context.close()


def test_pages_fit_a_phone_screen(chromium: Any, served: Served) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        _sign_up_with_passkey(page, served, "phone.owner@example.com")
        for path in PAGES:
            page.goto(f"{served.url}{path}")
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, (path, width)  # wide tables scroll inside their own box
            _accessible(page)
        page.goto(f"{served.url}/ui/keys/{served.watched_key}")
        _shot(page, "phone-key-detail")
    finally:
        context.close()


def test_a_new_webhooks_signing_secret_is_shown_once_and_gone_after_reload(
    page: Any, served: Served
) -> None:
    _sign_up_with_passkey(page, served, "webhooks.owner@example.com")
    page.goto(f"{served.url}/ui/webhooks")
    page.get_by_role("link", name="Add an endpoint").click()
    page.wait_for_url("**/ui/webhooks/new")
    _accessible(page)
    page.get_by_label(re.compile(r"^URL")).fill("https://hooks.example.com/keyguard")
    page.get_by_label("key.revoked").check()
    page.get_by_role("button", name="Add the endpoint").click()
    page.wait_for_selector("#new-secret")
    secret = str(page.locator("#new-secret").input_value())
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{32}", secret)
    assert "We will never show this secret again" in page.content()
    assert page.get_by_role("button", name="Copy to clipboard").is_visible()
    _accessible(page)
    page.reload()  # re-posts the spent form: no second endpoint, no secret shown again
    page.wait_for_load_state()
    assert page.url.endswith("/ui/webhooks?notice=shown-once")
    assert "shown once" in page.content()
    assert page.locator("#webhooks tbody tr").count() == 1
    assert "https://hooks.example.com/keyguard" in page.locator("#webhooks").inner_text()
    _nothing_secret_left(page, secret)
    _accessible(page)
    assert secret not in served.server.log()
