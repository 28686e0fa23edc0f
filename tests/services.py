"""Addresses of the real services tests use, read from the environment.

A test that needs a service calls `service_url(...)`; when the variable is absent the test is
skipped with the reason shown, unless KEYGUARD_REQUIRE_SERVICES=1 (CI), which makes it fail.
"""

from __future__ import annotations

import os

import pytest

POSTGRES = "KEYGUARD_TEST_POSTGRES_URL"
REDIS = "KEYGUARD_TEST_REDIS_URL"
OPENBAO = "KEYGUARD_TEST_OPENBAO"


def services_required() -> bool:
    return os.environ.get("KEYGUARD_REQUIRE_SERVICES") == "1"


def service_url(variable: str) -> str:
    """The value of `variable`, or skip (fail under KEYGUARD_REQUIRE_SERVICES=1)."""
    value = os.environ.get(variable)
    if value:
        return value
    reason = f"{variable} is not set"
    if services_required():
        pytest.fail(f"{reason}, and KEYGUARD_REQUIRE_SERVICES=1")
    pytest.skip(reason)
