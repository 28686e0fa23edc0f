"""Envelope encryption: AES-256-GCM under a fresh data key per secret, the data key wrapped.

An envelope records which wrapper (kind and key id, with its version) wrapped its data key,
the GCM nonce and the ciphertext (tag included). The associated data binds the ciphertext to
where it belongs — tenant, purpose, name and row id — so an envelope copied into another row
fails to open. `rewrap` replaces only the wrapped data key: the ciphertext is not touched.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyguard.errors import ConfigurationError, InvalidInput
from keyguard.secrets.interfaces import KeyWrapper, SecretValue, WrappedKey

FORMAT: Final = 1
DATA_KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_AAD_LABEL: Final = "keyguard.envelope.v1"

Random = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class Binding:
    """Where a secret belongs; authenticated with its ciphertext but not stored in it."""

    tenant_id: str
    purpose: str
    name: str
    record_id: str

    def aad(self) -> bytes:
        # Canonical JSON: unambiguous whatever characters the fields contain.
        document = [_AAD_LABEL, self.tenant_id, self.purpose, self.name, self.record_id]
        return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")


@dataclass(frozen=True, slots=True)
class Envelope:
    """A sealed secret. Nothing in it is secret without the wrapping key."""

    wrapper: str
    key_id: str
    wrapped_key: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)
    format: int = FORMAT

    def to_json(self) -> str:
        """One-column form: {"v", "wrapper", "key_id", "wrapped_key", "nonce", "ciphertext"}."""
        return json.dumps(
            {
                "v": self.format,
                "wrapper": self.wrapper,
                "key_id": self.key_id,
                "wrapped_key": _b64(self.wrapped_key),
                "nonce": _b64(self.nonce),
                "ciphertext": _b64(self.ciphertext),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Envelope:
        try:
            document: dict[str, Any] = json.loads(text)
            envelope = cls(
                wrapper=str(document["wrapper"]),
                key_id=str(document["key_id"]),
                wrapped_key=base64.b64decode(document["wrapped_key"], validate=True),
                nonce=base64.b64decode(document["nonce"], validate=True),
                ciphertext=base64.b64decode(document["ciphertext"], validate=True),
                format=int(document["v"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(
                f"not an envelope: {type(exc).__name__}", code="envelope_invalid"
            ) from None
        _check_format(envelope)
        return envelope


def seal(
    wrapper: KeyWrapper, value: SecretValue, binding: Binding, *, rng: Random = os.urandom
) -> Envelope:
    """Encrypt `value` under a new data key and wrap that key."""
    data_key = rng(DATA_KEY_BYTES)
    nonce = rng(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, value.reveal_bytes(), binding.aad())
    wrapped = wrapper.wrap(data_key)
    return Envelope(wrapper.kind, wrapped.key_id, wrapped.ciphertext, nonce, ciphertext)


def unseal(wrapper: KeyWrapper, envelope: Envelope, binding: Binding) -> SecretValue:
    """Decrypt an envelope; InvalidInput (envelope_tampered) if anything was changed or moved."""
    _check_format(envelope)
    _check_kind(wrapper, envelope)
    data_key = wrapper.unwrap(envelope.wrapped_key, envelope.key_id)
    try:
        plaintext = AESGCM(data_key).decrypt(envelope.nonce, envelope.ciphertext, binding.aad())
    except (InvalidTag, ValueError):
        raise InvalidInput(
            "the envelope does not authenticate: its ciphertext, nonce or data key was "
            "changed, or it was moved from another record",
            code="envelope_tampered",
        ) from None
    return SecretValue(plaintext)


def rewrap(wrapper: KeyWrapper, envelopes: Sequence[Envelope]) -> list[Envelope]:
    """The same envelopes with their data keys wrapped under the wrapper's current key."""
    for envelope in envelopes:
        _check_kind(wrapper, envelope)
    items = [WrappedKey(e.key_id, e.wrapped_key) for e in envelopes]
    return [
        replace(envelope, key_id=new.key_id, wrapped_key=new.ciphertext)
        for envelope, new in zip(envelopes, wrapper.rewrap(items), strict=True)
    ]


def _check_format(envelope: Envelope) -> None:
    if envelope.format != FORMAT or len(envelope.nonce) != NONCE_BYTES:
        raise InvalidInput(
            f"unsupported envelope (format {envelope.format})", code="envelope_invalid"
        )


def _check_kind(wrapper: KeyWrapper, envelope: Envelope) -> None:
    if envelope.wrapper != wrapper.kind:
        raise ConfigurationError(
            f"an envelope was wrapped by {envelope.wrapper!r} (key {envelope.key_id}) but the "
            f"configured wrapper is {wrapper.kind!r}; configure the wrapper that wrapped it"
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
