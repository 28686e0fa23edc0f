"""The delivery target Protocol: a consumer's vault secret with a current and a pending slot."""

from __future__ import annotations

from typing import Protocol

from keyguard.secrets import SecretValue


class DeliveryTarget(Protocol):
    """One consumer secret (an OpenBao KV v2 path, an AWS secret) that holds one API key.

    Consumers read the *current* key. A key is first *staged* (pending: stored in the secret,
    not read by consumers), read back and checked, then *promoted* to current. `token` names
    one delivery (the rotation intent's id), so a retried stage is idempotent and promotion
    or discarding touches only that delivery's pending key.
    """

    address: str

    def current(self) -> SecretValue | None:
        """The key consumers read now; None when the secret holds none."""
        ...

    def pending(self, token: str) -> SecretValue | None:
        """The key staged by delivery `token`, if it is still pending."""
        ...

    def stage(self, key: SecretValue, token: str) -> None:
        """Store `key` as pending, beside the current key, which consumers keep reading."""
        ...

    def promote(self, token: str) -> None:
        """Make the key staged by `token` the current one."""
        ...

    def discard(self, token: str) -> None:
        """Drop the key staged by `token` (if it is still pending); the current key stays."""
        ...
