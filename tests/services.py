"""Addresses of the real services tests use, read from the environment.

A test that needs a service calls `service_url(...)`; when the variable is absent the test is
skipped with the reason shown, unless KEYGUARD_REQUIRE_SERVICES is 1/true/yes (CI), which makes it
fail. The same switch turns an optional engine that is missing (hyperscan) into a failure.
"""

from __future__ import annotations

import os

import pytest

POSTGRES = "KEYGUARD_TEST_POSTGRES_URL"
REDIS = "KEYGUARD_TEST_REDIS_URL"
OPENBAO = "KEYGUARD_TEST_OPENBAO"


def services_required() -> bool:
    return os.environ.get("KEYGUARD_REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes"}


def service_url(variable: str) -> str:
    """The value of `variable`, or skip (fail under KEYGUARD_REQUIRE_SERVICES=1)."""
    value = os.environ.get(variable)
    if value:
        return value
    reason = f"{variable} is not set"
    if services_required():
        pytest.fail(f"{reason}, and KEYGUARD_REQUIRE_SERVICES=1")
    pytest.skip(reason)
