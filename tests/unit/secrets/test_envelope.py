"""Envelope encryption: round trip, tamper evidence, row binding, and rewrap."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyguard.errors import ConfigurationError, InvalidInput
from keyguard.secrets.envelope import Binding, Envelope, rewrap, seal, unseal
from keyguard.secrets.interfaces import SecretValue
from keyguard.secrets.local import LocalKeyWrapper

SECRET = SecretValue("smtp-password-for-tests")
HERE = Binding("tenant-a", "smtp_credentials", "relay", "row-1")


def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _assert_tampered(wrapper: LocalKeyWrapper, envelope: Envelope, binding: Binding) -> None:
    with pytest.raises(InvalidInput) as raised:
        unseal(wrapper, envelope, binding)
    assert raised.value.code == "envelope_tampered"


def test_round_trip(local_wrapper: LocalKeyWrapper) -> None:
    envelope = seal(local_wrapper, SECRET, HERE)
    assert envelope.wrapper == "local"
    assert envelope.key_id == local_wrapper.key_id
    assert SECRET.reveal_bytes() not in envelope.ciphertext
    assert unseal(local_wrapper, envelope, HERE) == SECRET


def test_every_secret_gets_its_own_data_key_and_nonce(local_wrapper: LocalKeyWrapper) -> None:
    first, second = seal(local_wrapper, SECRET, HERE), seal(local_wrapper, SECRET, HERE)
    assert first.nonce != second.nonce
    assert first.wrapped_key != second.wrapped_key
    assert first.ciphertext != second.ciphertext


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrapped_key"])
def test_a_flipped_bit_anywhere_fails(local_wrapper: LocalKeyWrapper, field: str) -> None:
    envelope = seal(local_wrapper, SECRET, HERE)
    tampered = dataclasses.replace(envelope, **{field: _flip(getattr(envelope, field), 5)})
    _assert_tampered(local_wrapper, tampered, HERE)


@pytest.mark.parametrize(
    "elsewhere",
    [
        dataclasses.replace(HERE, tenant_id="tenant-b"),
        dataclasses.replace(HERE, purpose="webhook_secret"),
        dataclasses.replace(HERE, name="other"),
        dataclasses.replace(HERE, record_id="row-2"),
    ],
)
def test_an_envelope_opened_under_another_binding_fails(
    local_wrapper: LocalKeyWrapper, elsewhere: Binding
) -> None:
    _assert_tampered(local_wrapper, seal(local_wrapper, SECRET, HERE), elsewhere)


def test_aad_fields_cannot_be_shifted_into_each_other() -> None:
    # "a|b" + "c" must not authenticate as "a" + "b|c", whatever the separator.
    assert Binding("a,b", "c", "n", "r").aad() != Binding("a", "b,c", "n", "r").aad()


def test_rewrap_changes_only_the_wrapped_key(local_wrapper: LocalKeyWrapper) -> None:
    envelope = seal(local_wrapper, SECRET, HERE)
    local_wrapper.rotate()
    [moved] = rewrap(local_wrapper, [envelope])
    assert moved.key_id == local_wrapper.key_id != envelope.key_id
    assert (moved.nonce, moved.ciphertext) == (envelope.nonce, envelope.ciphertext)
    assert moved.wrapped_key != envelope.wrapped_key
    assert unseal(local_wrapper, moved, HERE) == SECRET


def test_json_form_round_trips(local_wrapper: LocalKeyWrapper) -> None:
    envelope = seal(local_wrapper, SECRET, HERE)
    text = envelope.to_json()
    assert SECRET.reveal() not in text
    assert Envelope.from_json(text) == envelope


@pytest.mark.parametrize("text", ["", "{}", "[1]", '{"v": 2}', "not json"])
def test_malformed_json_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        Envelope.from_json(text)
    assert raised.value.code == "envelope_invalid"


def test_an_unknown_format_version_is_refused(local_wrapper: LocalKeyWrapper) -> None:
    envelope = dataclasses.replace(seal(local_wrapper, SECRET, HERE), format=2)
    with pytest.raises(InvalidInput, match="unsupported envelope"):
        unseal(local_wrapper, envelope, HERE)


def test_an_envelope_of_another_wrapper_kind_names_both(local_wrapper: LocalKeyWrapper) -> None:
    envelope = dataclasses.replace(seal(local_wrapper, SECRET, HERE), wrapper="aws-kms")
    with pytest.raises(ConfigurationError, match=r"'aws-kms'.*'local'"):
        unseal(local_wrapper, envelope, HERE)


def test_repr_shows_no_key_material(local_wrapper: LocalKeyWrapper) -> None:
    envelope = seal(local_wrapper, SECRET, HERE)
    assert repr(envelope) == f"Envelope(wrapper='local', key_id={envelope.key_id!r}, format=1)"


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=2048), tenant=st.text(max_size=20), name=st.text(max_size=20))
def test_any_plaintext_and_binding_round_trip(
    tmp_path_factory: pytest.TempPathFactory, plaintext: bytes, tenant: str, name: str
) -> None:
    wrapper = LocalKeyWrapper.open(tmp_path_factory.mktemp("k") / "master.key", create=True)
    binding = Binding(tenant, "p", name, "r")
    assert unseal(wrapper, seal(wrapper, SecretValue(plaintext), binding), binding) == (
        SecretValue(plaintext)
    )
