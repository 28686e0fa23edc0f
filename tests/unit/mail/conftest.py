"""Fixtures of the email tests: the mail service on the shared runtime, keys, a caller."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.mail.service import MailService
from keyguard.mail.usage import Caller
from keyguard.runtime import Runtime
from keyguard.verification import Allowed
from tests.conftest import create_key

DOMAIN = "brand.example"
SENDER = f"news@{DOMAIN}"

MakeCaller = Callable[..., Caller]


@pytest.fixture
def mail(runtime: Runtime) -> MailService:
    service = MailService(runtime.sessions, runtime.clock)
    service.domains.add_domain(DEFAULT_TENANT, DOMAIN, OPERATOR.id)
    return service


@pytest.fixture
def make_caller(runtime: Runtime) -> MakeCaller:
    """A verified caller for a new key: `make_caller(env="test", scopes=[...], ...)`."""

    def make(**overrides: object) -> Caller:
        created = create_key(runtime, **overrides)
        decision = runtime.verifier.verify(created.key.reveal())
        assert isinstance(decision, Allowed)
        return Caller(decision.key, ip="203.0.113.7", user_agent="tests")

    return make
