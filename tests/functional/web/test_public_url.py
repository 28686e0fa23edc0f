"""KEYGUARD_PUBLIC_URL: behind a proxy that rewrites Host and scheme, passkeys, the origin
check and set-up links follow the public address, not the request; live mode refuses http."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from keyguard.clock import ManualClock
from keyguard.lifecycle import OPERATOR
from keyguard.users import totp_code
from tests.functional.cli import Cli
from tests.functional.web.conftest import PASSWORD, SEED, Api, StartApi, csrf_of

PUBLIC = "https://keys.example.test"  # what the browser shows; the proxy speaks http to us


class Proxied:
    """What reaches Keyguard from a TLS-terminating proxy: plain http to 127.0.0.1, with the
    browser's Origin and its Secure cookie (httpx keeps Secure cookies off plain http)."""

    def __init__(self, api: Api) -> None:
        self.client = httpx.Client(base_url=api.url, timeout=30, follow_redirects=False)
        self.cookie = ""

    def get(self, path: str) -> httpx.Response:
        return self._keep(self.client.get(path, headers=self._headers()))

    def post(self, path: str, data: dict[str, str], origin: str = PUBLIC) -> httpx.Response:
        return self._keep(self.client.post(path, data=data, headers=self._headers(origin)))

    def _headers(self, origin: str | None = None) -> dict[str, str]:
        headers = {"cookie": f"__Host-kg_session={self.cookie}"} if self.cookie else {}
        return {**headers, "origin": origin} if origin else headers

    def _keep(self, answer: httpx.Response) -> httpx.Response:
        set_cookie = answer.headers.get("set-cookie", "")
        if set_cookie.startswith("__Host-kg_session="):
            assert "Secure" in set_cookie  # the public address is https
            self.cookie = set_cookie.split("=", 1)[1].split(";", 1)[0]
        return answer


@pytest.fixture
def proxied(start_api: StartApi) -> Api:
    return start_api(public_url=PUBLIC)


def _options(browser: Proxied, origin: str = PUBLIC) -> httpx.Response:
    token = csrf_of(browser.get("/ui/login").text)
    return browser.post("/ui/passkey/options", {"csrf": token, "purpose": "login"}, origin)


def test_passkeys_belong_to_the_public_host_not_the_requests(proxied: Api) -> None:
    answer = _options(Proxied(proxied))
    assert answer.status_code == 200, answer.text[:500]
    assert json.loads(answer.text)["rpId"] == "keys.example.test"


def test_without_a_public_url_the_request_names_the_host_as_before(api: Api) -> None:
    browser = Proxied(api)
    answer = browser.client.get("/ui/login")
    token = csrf_of(answer.text)
    options = browser.client.post("/ui/passkey/options", data={"csrf": token, "purpose": "login"})
    assert json.loads(options.text)["rpId"] == "127.0.0.1"


def test_forms_must_come_from_the_public_origin(proxied: Api) -> None:
    refused = _options(Proxied(proxied), origin=proxied.url)  # the origin the proxy hides
    assert refused.status_code == 403 and "csrf_refused" in refused.text


def test_set_up_links_made_on_the_users_page_use_the_public_url(
    proxied: Api, clock: ManualClock
) -> None:
    users = proxied.runtime.users
    invitation = users.add(
        OPERATOR.id, email="o@example.com", tenant_id="default", role_name="owner"
    )
    users.setup_password(
        invitation.token, password=PASSWORD, totp_secret=SEED, code=totp_code(SEED, clock())
    )
    browser = Proxied(proxied)
    token = csrf_of(browser.get("/ui/login").text)
    clock.advance(timedelta(seconds=30))  # each TOTP code is good once
    signed_in = browser.post(
        "/ui/login/password",
        {
            "csrf": token,
            "email": "o@example.com",
            "password": PASSWORD,
            "code": totp_code(SEED, clock()),
        },
    )
    assert signed_in.status_code == 303, signed_in.text[:500]
    form = csrf_of(browser.get("/ui/users").text)
    added = browser.post("/ui/users", {"csrf": form, "email": "n@example.com", "role": "viewer"})
    assert added.status_code == 200, added.text[:500]
    assert f"{PUBLIC}/ui/setup?token=" in added.text
    assert proxied.url not in added.text


def test_live_mode_refuses_a_plain_http_public_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYGUARD_MODE", "live")
    monkeypatch.setenv("KEYGUARD_PUBLIC_URL", "http://keys.example.test")
    cli = Cli(tmp_path / "data", f"sqlite:///{tmp_path / 'keyguard.db'}", [])
    outcome = cli.run("users", "list", check=None)
    assert outcome.returncode != 0
    said = outcome.stdout + outcome.stderr
    assert "public_url http://keys.example.test is plain http: live mode needs https" in said


def test_a_public_url_with_a_path_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYGUARD_PUBLIC_URL", "https://keys.example.test/keyguard")
    cli = Cli(tmp_path / "data", f"sqlite:///{tmp_path / 'keyguard.db'}", [])
    outcome = cli.run("users", "list", check=None)
    assert (
        outcome.returncode != 0
        and "public_url must be an origin" in outcome.stdout + outcome.stderr
    )
