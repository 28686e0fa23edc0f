"""Pepper versions come from the provider and hash exactly as KEYGUARD_PEPPER always did."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from keyguard.errors import ConfigurationError
from keyguard.keys import generate_key
from keyguard.runtime.peppers import load_peppers
from keyguard.secrets.env import EnvSecretProvider
from keyguard.secrets.file import FileSecretProvider
from keyguard.secrets.interfaces import SecretValue
from keyguard.secrets.pepper import format_pepper, load_pepper_ring, parse_pepper
from keyguard.settings import Settings

CURRENT = secrets.token_hex(32)
OLDER = secrets.token_hex(32)


def test_env_ring_hashes_like_the_runtime_loader(tmp_path: Path) -> None:
    environ = {
        "KEYGUARD_PEPPER": CURRENT,
        "KEYGUARD_PEPPER_VERSION": "v2",
        "KEYGUARD_PEPPER_PREVIOUS": f"v1:{OLDER}",
    }
    ring = load_pepper_ring(EnvSecretProvider(environ))
    runtime_ring = load_peppers(
        Settings(
            data_dir=tmp_path, pepper=CURRENT, pepper_version="v2", pepper_previous=f"v1:{OLDER}"
        )
    )
    key = generate_key("test")
    assert ring.current.version == "v2"
    assert ring.digests(key) == runtime_ring.digests(key)


def test_file_versions_carry_their_label_inside_the_value(tmp_path: Path) -> None:
    provider = FileSecretProvider(tmp_path)
    provider.put("pepper", format_pepper("v1", OLDER))
    provider.put("pepper", format_pepper("v2", CURRENT))
    ring = load_pepper_ring(provider)
    assert [p.version for p in ring] == ["v2", "v1"]
    assert ring.get("v1").material == OLDER.encode()


def test_a_bare_value_takes_the_provider_version_as_its_label() -> None:
    assert parse_pepper(SecretValue(CURRENT), default_label="7").version == "7"


def test_a_bare_value_whose_version_id_cannot_be_a_label_says_how_to_label_it() -> None:
    with pytest.raises(ConfigurationError, match='"label"') as raised:
        parse_pepper(SecretValue(CURRENT), default_label="c88d2362-ba4a-4de6-8d77-5b747fa819b4")
    assert CURRENT not in str(raised.value)


def test_two_versions_with_one_label_are_refused(tmp_path: Path) -> None:
    provider = FileSecretProvider(tmp_path)
    provider.put("pepper", format_pepper("v1", OLDER))
    provider.put("pepper", format_pepper("v1", CURRENT))
    with pytest.raises(ConfigurationError, match="labelled 'v1'"):
        load_pepper_ring(provider)


@pytest.mark.parametrize("weak", ["short", "a" * 64])
def test_weak_peppers_are_refused_without_showing_them(weak: str) -> None:
    with pytest.raises(ConfigurationError, match="weak") as raised:
        parse_pepper(SecretValue(weak), default_label="v1")
    assert weak not in str(raised.value)
    with pytest.raises(ConfigurationError, match="weak"):
        format_pepper("v1", weak)


def test_a_malformed_labelled_value_is_refused_without_showing_it() -> None:
    value = SecretValue('{"label": "v1", "material": "' + CURRENT + '"}')
    with pytest.raises(ConfigurationError) as raised:
        parse_pepper(value, default_label="3")
    assert CURRENT not in str(raised.value)


@pytest.mark.parametrize("label", ["", "has space", "x" * 33, "a:b"])
def test_labels_must_fit_the_pepper_version_column(label: str) -> None:
    with pytest.raises(ConfigurationError, match="label"):
        format_pepper(label, CURRENT)
