"""The blast radius of a compromised key: every key it made, directly or down the chain."""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyguard.lifecycle import ApiKey

# A chain deeper than this is a loop in bad data, not a real hierarchy of keys.
MAX_DEPTH: Final = 50


def descendants(session: Session, tenant_id: str, key_id: str) -> list[str]:
    """Ids of the keys `key_id` created (`created_by = "key:<id>"`), then the keys those
    created, and so on, in the order found; the key itself is not among them."""
    found: list[str] = []
    seen = {key_id}
    frontier = [key_id]
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        makers = [f"key:{k}" for k in frontier]
        rows = session.scalars(
            select(ApiKey.id)
            .where(ApiKey.tenant_id == tenant_id, ApiKey.created_by.in_(makers))
            .order_by(ApiKey.created_at, ApiKey.id)
        ).all()
        frontier = [k for k in rows if k not in seen]
        seen.update(frontier)
        found.extend(frontier)
    return found
