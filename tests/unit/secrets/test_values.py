"""SecretValue hides its plaintext; secret names cannot escape their namespace."""

from __future__ import annotations

import pickle

import pytest

from keyguard.errors import InvalidInput
from keyguard.secrets.interfaces import SecretValue, validate_name

PLAINTEXT = "s3cr3t-value-for-tests"


def test_repr_and_str_show_only_a_mask() -> None:
    value = SecretValue(PLAINTEXT, version="3")
    for shown in (repr(value), str(value), f"{value}", f"{value!r}", repr([value])):
        assert PLAINTEXT not in shown
    assert "version='3'" in repr(value)


def test_reveal_returns_the_text_and_bytes() -> None:
    value = SecretValue(PLAINTEXT)
    assert value.reveal() == PLAINTEXT
    assert value.reveal_bytes() == PLAINTEXT.encode()


def test_binary_secret_cannot_be_revealed_as_text() -> None:
    value = SecretValue(b"\xff\xfe")
    assert not value.is_text()
    with pytest.raises(InvalidInput) as raised:
        value.reveal()
    assert raised.value.code == "secret_not_text"


def test_cannot_be_pickled_or_hashed() -> None:
    value = SecretValue(PLAINTEXT)
    with pytest.raises(TypeError):
        pickle.dumps(value)
    with pytest.raises(TypeError):
        hash(value)


def test_equality_compares_plaintexts() -> None:
    assert SecretValue("a", version="1") == SecretValue(b"a", version="2")
    assert SecretValue("a") != SecretValue("b")


@pytest.mark.parametrize("name", ["pepper", "smtp/relay", "tenants/t-1/webhook.secret", "A_b"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "../etc/passwd", "a/../b", "/abs", "a//b", ".hidden", "a/.b", "pep@1", "a b", "x" * 201],
)
def test_names_that_could_escape_or_collide_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_name(name)
    assert raised.value.code == "invalid_secret_name"
