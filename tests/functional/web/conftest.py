"""Fixtures for the dashboard over real HTTP: the API's loopback server, people signed in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from keyguard.clock import ManualClock
from keyguard.lifecycle import OPERATOR
from keyguard.runtime import Runtime
from keyguard.users import totp_code
from tests.functional.api.conftest import Api, StartApi, api, start_api  # noqa: F401 - fixtures

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # a fixed base32 TOTP seed for test people
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_NONCE = re.compile(r'name="nonce" value="([^"]+)"')
_NEW_KEY = re.compile(r'id="new-key" class="secret" readonly value="([^"]+)"')


@dataclass
class Person:
    """A browser's worth of state: one cookie jar against the dashboard."""

    client: httpx.Client
    runtime: Runtime
    clock: ManualClock
    email: str
    user_id: str = ""

    def csrf(self, path: str = "/ui/login") -> str:
        return csrf_of(self.client.get(path).text)

    def sign_in(self) -> httpx.Response:
        token = self.csrf()
        self.clock.advance(timedelta(seconds=30))  # each TOTP code is good once
        return self.client.post(
            "/ui/login/password",
            data={"csrf": token, "email": self.email, "password": PASSWORD, "code": self.code()},
        )

    def code(self) -> str:
        return totp_code(SEED, self.clock())

    def post(self, path: str, form_page: str | None = None, **data: str) -> httpx.Response:
        """POST with the CSRF token (and nonce) of `form_page` (default: the overview)."""
        html = self.client.get(form_page or "/ui/").text
        fields = {"csrf": csrf_of(html), **data}
        nonce = _NONCE.search(html)
        if nonce and "nonce" not in data:
            fields["nonce"] = nonce.group(1)
        return self.client.post(path, data=fields)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, html[:500]
    return found.group(1)


def new_key_of(html: str) -> str | None:
    found = _NEW_KEY.search(html)
    return found.group(1) if found else None


@pytest.fixture
def people(api: Api, clock: ManualClock) -> Iterator[PeopleFactory]:  # noqa: F811 - the fixture
    made: list[httpx.Client] = []

    def person(role: str = "owner", tenant: str = "default", email: str | None = None) -> Person:
        address = email or f"{role}.{tenant}.{len(made)}@example.com"
        invitation = api.runtime.users.add(
            OPERATOR.id, email=address, tenant_id=tenant, role_name=role
        )
        api.runtime.users.setup_password(
            invitation.token, password=PASSWORD, totp_secret=SEED, code=totp_code(SEED, clock())
        )
        client = httpx.Client(base_url=api.url, timeout=30, follow_redirects=False)
        made.append(client)
        return Person(client, api.runtime, clock, address, invitation.user.id)

    yield person
    for client in made:
        client.close()


class PeopleFactory:  # the fixture's type, for annotations
    def __call__(
        self, role: str = "owner", tenant: str = "default", email: str | None = None
    ) -> Person: ...
