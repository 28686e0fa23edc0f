"""Factories for stored secrets: many rows at once, sealed by the code under test."""

from __future__ import annotations

import os

from sqlalchemy.orm import Session

from keyguard.clock import Clock
from keyguard.secrets.envelope import Binding, seal
from keyguard.secrets.interfaces import KeyWrapper, SecretValue
from keyguard.secrets.models import StoredSecret


def stored_secrets(
    session: Session, wrapper: KeyWrapper, count: int, clock: Clock, *, tenants: int = 50
) -> list[StoredSecret]:
    """`count` webhook secrets "whsec-<i>", named "hook-<i>", spread over `tenants` tenants."""
    rows = []
    now = clock()
    for i in range(count):
        record_id = os.urandom(16).hex()
        binding = Binding(f"tenant-{i % tenants}", "webhook_secret", f"hook-{i}", record_id)
        envelope = seal(wrapper, SecretValue(f"whsec-{i}"), binding)
        rows.append(
            StoredSecret(
                id=record_id,
                tenant_id=binding.tenant_id,
                purpose=binding.purpose,
                name=binding.name,
                version=1,
                envelope_format=envelope.format,
                wrapper_kind=envelope.wrapper,
                wrapper_key_id=envelope.key_id,
                wrapped_key=envelope.wrapped_key,
                nonce=envelope.nonce,
                ciphertext=envelope.ciphertext,
                created_at=now,
                updated_at=now,
            )
        )
    session.add_all(rows)
    return rows
