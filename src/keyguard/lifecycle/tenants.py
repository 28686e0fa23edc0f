"""Tenants: the accounts every key belongs to."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from keyguard import audit
from keyguard.clock import Clock
from keyguard.errors import InvalidInput, NotFound
from keyguard.lifecycle.models import Tenant

DEFAULT_TENANT = "default"
_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def get_tenant(session: Session, tenant_id: str) -> Tenant:
    """The tenant, or NotFound."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    return tenant


def ensure_tenant(session: Session, clock: Clock, tenant_id: str, actor: str) -> Tenant:
    """Return the tenant, creating it (and its audit event) in the caller's transaction."""
    if not _TENANT_ID.match(tenant_id):
        raise InvalidInput(
            f"invalid tenant id {tenant_id!r}: lowercase letters, digits, '-' and '_'",
            code="invalid_tenant",
            field="tenant",
        )
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        now = clock()
        tenant = Tenant(id=tenant_id, name=tenant_id, created_at=now)
        session.add(tenant)
        session.flush()
        audit.record(session, now, actor, "tenant.created", tenant_id=tenant_id, target=tenant_id)
    return tenant
