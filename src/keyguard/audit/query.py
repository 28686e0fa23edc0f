"""Reading the audit log a page at a time, newest first, within one tenant (and environment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, literal, or_, select
from sqlalchemy.orm import Session

from keyguard.audit.models import AuditEvent
from keyguard.lifecycle import ApiKey

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Exact matches on action, actor and target; `since` inclusive, `until` exclusive."""

    action: str | None = None
    actor: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_events(
    session: Session,
    tenant_id: str,
    *,
    limit: int = 100,
    before_seq: int | None = None,
    where: AuditFilter | None = None,
    env: str | None = None,
) -> list[AuditEvent]:
    """One page of the tenant's events; `before_seq` is the last seq of the previous page.

    With `env`, events done by or to a key of another environment are left out: a test key
    learns nothing about live keys, as everywhere else (tenant-wide events stay visible)."""
    where = where or AuditFilter()
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if env is not None:
        query = query.where(_within_env(tenant_id, env))
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    if where.action is not None:
        query = query.where(AuditEvent.action == where.action)
    if where.actor is not None:
        query = query.where(AuditEvent.actor == where.actor)
    if where.target is not None:
        query = query.where(AuditEvent.target == where.target)
    if where.since is not None:
        query = query.where(AuditEvent.ts >= where.since)
    if where.until is not None:
        query = query.where(AuditEvent.ts < where.until)
    query = query.order_by(AuditEvent.seq.desc()).limit(min(limit, MAX_PAGE))
    return list(session.scalars(query))


def _within_env(tenant_id: str, env: str) -> ColumnElement[bool]:
    """Neither the target nor the actor is a key of the tenant outside `env`."""
    others = select(ApiKey.id).where(ApiKey.tenant_id == tenant_id, ApiKey.env != env)
    acting_others = select(literal("key:").concat(ApiKey.id)).where(
        ApiKey.tenant_id == tenant_id, ApiKey.env != env
    )
    return or_(AuditEvent.target.is_(None), AuditEvent.target.not_in(others)) & (
        AuditEvent.actor.not_in(acting_others)
    )
