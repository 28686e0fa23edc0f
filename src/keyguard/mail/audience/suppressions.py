"""The tenant's suppression list (per environment): addresses it never sends to again."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from keyguard.errors import NotFound
from keyguard.mail.addresses import normalize_recipient_rule
from keyguard.mail.models import Suppression
from keyguard.mail.partition import Page, Partition, keyset_page

CHUNK: Final = 500  # keeps IN lists well below every driver's parameter limit
# Built once: every send runs it, and building it cost more than running it.
_SUPPRESSED: Final = select(Suppression.address).where(
    Suppression.tenant_id == bindparam("tenant_id"),
    Suppression.env == bindparam("env"),
    Suppression.address.in_(bindparam("wanted", expanding=True)),
)


def suppressed_among(
    session: Session, tenant_id: str, env: str, addresses: Iterable[str]
) -> set[str]:
    """Which of these lowercase addresses are suppressed."""
    wanted = sorted(set(addresses))
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        found.update(
            session.scalars(_SUPPRESSED, {"tenant_id": tenant_id, "env": env, "wanted": chunk})
        )
    return found


def add(session: Session, part: Partition, address: str, reason: str, now: datetime) -> Suppression:
    """Suppress `address` (idempotent: an existing entry keeps its first reason)."""
    normalized = normalize_recipient_rule(address, "address")
    row = session.get(Suppression, (part.tenant_id, part.env, normalized))
    if row is None:
        row = Suppression(
            tenant_id=part.tenant_id,
            env=part.env,
            address=normalized,
            reason=reason,
            created_at=now,
        )
        session.add(row)
        session.flush()
    return row


def add_bounces(
    session: Session, tenant_id: str, env: str, addresses: Iterable[str], now: datetime
) -> None:
    """Hard bounces suppress the address so the tenant's reputation is not burnt twice."""
    part = Partition(tenant_id, env)
    for address in addresses:
        add(session, part, address, "bounce", now)


def remove(session: Session, part: Partition, address: str) -> None:
    normalized = normalize_recipient_rule(address, "address")
    row = session.get(Suppression, (part.tenant_id, part.env, normalized))
    if row is None:
        raise NotFound(f"{normalized} is not suppressed")
    session.delete(row)


def page(
    session: Session, part: Partition, *, limit: int | None = None, after: str | None = None
) -> Page[Suppression]:
    """In address order; the cursor is the last address."""
    query = select(Suppression).where(part.owns(Suppression))
    return keyset_page(session, query, Suppression.address, limit=limit, after=after)
