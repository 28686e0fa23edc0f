"""The env provider reads KEYGUARD_* variables, with versions, and refuses to write."""

from __future__ import annotations

import pytest

from keyguard.errors import ConfigurationError, NotFound
from keyguard.secrets.env import EnvSecretProvider
from keyguard.secrets.interfaces import SecretValue


def test_reads_the_variable_named_after_the_secret() -> None:
    provider = EnvSecretProvider({"KEYGUARD_SMTP_RELAY_PASSWORD": "pw"})
    value = provider.get("smtp/relay-password")
    assert value.reveal() == "pw"
    assert value.version == "v1"


def test_current_version_label_comes_from_the_version_variable() -> None:
    provider = EnvSecretProvider({"KEYGUARD_PEPPER": "p2", "KEYGUARD_PEPPER_VERSION": "v2"})
    assert provider.get("pepper").version == "v2"
    assert provider.get("pepper", "v2").reveal() == "p2"


def test_previous_versions_stay_readable() -> None:
    provider = EnvSecretProvider(
        {
            "KEYGUARD_PEPPER": "p2",
            "KEYGUARD_PEPPER_VERSION": "v2",
            "KEYGUARD_PEPPER_PREVIOUS": "v1:p1, v0:p0",
        }
    )
    assert [(v.id, v.current) for v in provider.versions("pepper")] == [
        ("v1", False),
        ("v0", False),
        ("v2", True),
    ]
    assert provider.get("pepper", "v0").reveal() == "p0"


def test_missing_variable_is_not_found_and_names_it() -> None:
    with pytest.raises(NotFound, match="KEYGUARD_PEPPER"):
        EnvSecretProvider({}).get("pepper")


def test_unknown_version_is_not_found() -> None:
    with pytest.raises(NotFound):
        EnvSecretProvider({"KEYGUARD_PEPPER": "p"}).get("pepper", "v9")


def test_malformed_previous_list_is_a_configuration_error_without_the_value() -> None:
    provider = EnvSecretProvider(
        {"KEYGUARD_PEPPER": "p", "KEYGUARD_PEPPER_PREVIOUS": "oops-secret"}
    )
    with pytest.raises(ConfigurationError) as raised:
        provider.versions("pepper")
    assert "oops-secret" not in str(raised.value)


def test_put_is_refused_with_a_reason() -> None:
    with pytest.raises(ConfigurationError, match="read-only"):
        EnvSecretProvider({}).put("pepper", SecretValue("x"))
