"""Factories for stored secrets: many rows at once, sealed by the code under test."""

from __future__ import annotations

from sqlalchemy.orm import Session

from keyguard.clock import Clock
from keyguard.secrets.interfaces import KeyWrapper, SecretValue
from keyguard.secrets.models import StoredSecret
from keyguard.secrets.service import sealed_row


def stored_secrets(
    session: Session, wrapper: KeyWrapper, count: int, clock: Clock, *, tenants: int = 50
) -> list[StoredSecret]:
    """`count` webhook secrets "whsec-<i>", named "hook-<i>", spread over `tenants` tenants."""
    now = clock()
    rows = [
        sealed_row(
            wrapper,
            SecretValue(f"whsec-{i}"),
            tenant_id=f"tenant-{i % tenants}",
            purpose="webhook_secret",
            name=f"hook-{i}",
            version=1,
            now=now,
        )
        for i in range(count)
    ]
    session.add_all(rows)
    return rows
