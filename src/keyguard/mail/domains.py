"""A tenant's registered sender domains and its internal allowlist for test and dev mail.

Functions take the caller's session and never commit; registering and removing are admin
actions, so each one appends an audit event in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import CompoundSelect, Row, bindparam, delete, literal, select, union_all
from sqlalchemy.orm import Session

from keyguard import audit
from keyguard.errors import NotFound
from keyguard.lifecycle import get_tenant
from keyguard.mail.addresses import normalize_domain, normalize_recipient_rule
from keyguard.mail.audience import suppressions
from keyguard.mail.models import InternalRecipient, SenderDomain, Suppression
from keyguard.mail.sending.policy import TenantMailPolicy

# Built once: constructing the statement cost more than running it (every send runs it).
_POLICY: Final = union_all(
    select(literal("domain"), SenderDomain.domain).where(
        SenderDomain.tenant_id == bindparam("tenant_id")
    ),
    select(literal("internal"), InternalRecipient.address).where(
        InternalRecipient.tenant_id == bindparam("tenant_id")
    ),
)


# The first read of every send: the policy and which of its recipients are suppressed.
_POLICY_AND_SUPPRESSED: Final[CompoundSelect[str, str]] = union_all(
    *_POLICY.selects,
    select(literal("suppressed"), Suppression.address).where(
        Suppression.tenant_id == bindparam("tenant_id"),
        Suppression.env == bindparam("env"),
        Suppression.address.in_(bindparam("wanted", expanding=True)),
    ),
)


def tenant_policy(session: Session, tenant_id: str) -> TenantMailPolicy:
    """Both lists in one round trip."""
    return _policy(session.execute(_POLICY, {"tenant_id": tenant_id}).all())


def policy_and_suppressed(
    session: Session, tenant_id: str, env: str, rules: Iterable[str]
) -> tuple[TenantMailPolicy, set[str]]:
    """The tenant's policy and which of these lowercase suppression rules (`a@b.example`,
    `@b.example`) its environment has, in one round trip for up to CHUNK rules."""
    wanted = sorted(set(rules))
    first, rest = wanted[: suppressions.CHUNK], wanted[suppressions.CHUNK :]
    parameters = {"tenant_id": tenant_id, "env": env, "wanted": first}
    # On the session's connection: a Core statement of plain columns needs nothing of the
    # ORM's execution (entities, identity map), which cost as much as the query here.
    rows = session.connection().execute(_POLICY_AND_SUPPRESSED, parameters).all()
    blocked = {value for kind, value in rows if kind == "suppressed"}
    if rest:
        blocked |= suppressions.suppressed_among(session, tenant_id, env, rest)
    return _policy(rows), blocked


def _policy(rows: Iterable[Row[str, str]]) -> TenantMailPolicy:
    found: dict[str, set[str]] = {"domain": set(), "internal": set()}
    for kind, value in rows:
        if kind in found:
            found[kind].add(value)
    return TenantMailPolicy(frozenset(found["domain"]), frozenset(found["internal"]))


def list_domains(session: Session, tenant_id: str) -> list[str]:
    get_tenant(session, tenant_id)
    return list(
        session.scalars(
            select(SenderDomain.domain)
            .where(SenderDomain.tenant_id == tenant_id)
            .order_by(SenderDomain.domain)
        )
    )


def add_domain(session: Session, *, tenant_id: str, domain: str, actor: str, now: datetime) -> bool:
    """Register `domain`; False when it already was."""
    get_tenant(session, tenant_id)
    domain = normalize_domain(domain)
    row = SenderDomain(tenant_id=tenant_id, domain=domain, created_at=now)
    return _add(session, row, domain, action="mail.domain_added", actor=actor, now=now)


def remove_domain(
    session: Session, *, tenant_id: str, domain: str, actor: str, now: datetime
) -> None:
    get_tenant(session, tenant_id)
    domain = normalize_domain(domain)
    result = session.execute(
        delete(SenderDomain).where(
            SenderDomain.tenant_id == tenant_id, SenderDomain.domain == domain
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]  # DML results carry rowcount
        raise NotFound(f"{domain} is not registered for tenant {tenant_id}")
    audit.record(session, now, actor, "mail.domain_removed", tenant_id=tenant_id, target=domain)


def list_internal(session: Session, tenant_id: str) -> list[str]:
    get_tenant(session, tenant_id)
    return list(
        session.scalars(
            select(InternalRecipient.address)
            .where(InternalRecipient.tenant_id == tenant_id)
            .order_by(InternalRecipient.address)
        )
    )


def add_internal(
    session: Session, *, tenant_id: str, address: str, actor: str, now: datetime
) -> bool:
    """Let test and dev mail reach `address` (or every address at `@domain`)."""
    get_tenant(session, tenant_id)
    rule = normalize_recipient_rule(address)
    row = InternalRecipient(tenant_id=tenant_id, address=rule, created_at=now)
    return _add(session, row, rule, action="mail.internal_recipient_added", actor=actor, now=now)


def remove_internal(
    session: Session, *, tenant_id: str, address: str, actor: str, now: datetime
) -> None:
    get_tenant(session, tenant_id)
    rule = normalize_recipient_rule(address)
    row = session.get(InternalRecipient, (tenant_id, rule))
    if row is None:
        raise NotFound(f"{rule} is not an internal recipient of tenant {tenant_id}")
    session.delete(row)
    audit.record(
        session, now, actor, "mail.internal_recipient_removed", tenant_id=tenant_id, target=rule
    )


def holds_revoked_mail(session: Session, tenant_id: str) -> bool:
    return get_tenant(session, tenant_id).hold_revoked_mail


def set_hold_revoked_mail(
    session: Session, *, tenant_id: str, hold: bool, actor: str, now: datetime
) -> bool:
    """Whether queued mail of a key revoked before delivery is held; True when it changed."""
    tenant = get_tenant(session, tenant_id)
    if tenant.hold_revoked_mail == hold:
        return False
    tenant.hold_revoked_mail = hold
    action = "mail.hold_revoked_mail_set" if hold else "mail.hold_revoked_mail_cleared"
    audit.record(session, now, actor, action, tenant_id=tenant_id, target=tenant_id)
    return True


def _add(
    session: Session,
    row: SenderDomain | InternalRecipient,
    value: str,
    *,
    action: str,
    actor: str,
    now: datetime,
) -> bool:
    """Insert `row` (keyed by its tenant and `value`) and its audit event; False if present."""
    if session.get(type(row), (row.tenant_id, value)) is not None:
        return False
    session.add(row)
    session.flush()
    audit.record(session, now, actor, action, tenant_id=row.tenant_id, target=value)
    return True
