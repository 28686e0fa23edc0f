"""Contacts: create, read, update, delete, per tenant and environment."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyguard.errors import InvalidInput, NotFound
from keyguard.mail.addresses import parse_address, reject_injection
from keyguard.mail.content.rendering import Scalar, check_values
from keyguard.mail.ids import new_id
from keyguard.mail.models import Contact
from keyguard.mail.partition import Partition, page_size
from keyguard.mail.schemas import ContactIn, ContactPatch


def normalize_email(value: str, field: str = "email") -> str:
    """Contacts are keyed by their lowercase bare address."""
    return parse_address(value, field).key


def create(session: Session, part: Partition, data: ContactIn, now: datetime) -> Contact:
    row = Contact(
        id=new_id("con", now),
        tenant_id=part.tenant_id,
        env=part.env,
        email=normalize_email(data.email),
        first_name=_name(data.first_name, "first_name"),
        last_name=_name(data.last_name, "last_name"),
        attributes=checked_attributes(data.attributes),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    _flush_unique(session, row.email)
    return row


def get(session: Session, part: Partition, contact_id: str) -> Contact:
    row = session.get(Contact, contact_id)
    if row is None or (row.tenant_id, row.env) != (part.tenant_id, part.env):
        raise NotFound(f"no contact {contact_id!r}")  # other partitions look like absence
    return row


def find_by_emails(session: Session, part: Partition, emails: list[str]) -> dict[str, Contact]:
    found: dict[str, Contact] = {}
    for start in range(0, len(emails), 500):
        rows = session.scalars(
            select(Contact).where(
                Contact.tenant_id == part.tenant_id,
                Contact.env == part.env,
                Contact.email.in_(emails[start : start + 500]),
            )
        )
        found.update({row.email: row for row in rows})
    return found


def page(
    session: Session,
    part: Partition,
    *,
    limit: int | None = None,
    after: str | None = None,
    email: str | None = None,
) -> list[Contact]:
    query = (
        select(Contact)
        .where(Contact.tenant_id == part.tenant_id, Contact.env == part.env)
        .order_by(Contact.id)
        .limit(page_size(limit))
    )
    if after:
        query = query.where(Contact.id > after)
    if email:
        query = query.where(Contact.email == normalize_email(email))
    return list(session.scalars(query))


def update(
    session: Session, part: Partition, contact_id: str, patch: ContactPatch, now: datetime
) -> Contact:
    row = get(session, part, contact_id)
    changes = patch.model_dump(exclude_unset=True)
    if "email" in changes:
        if changes["email"] is None:
            raise InvalidInput("email cannot be null", field="email")
        row.email = normalize_email(changes["email"])
    for name in ("first_name", "last_name"):
        if name in changes:
            setattr(row, name, _name(changes[name], name))
    if "attributes" in changes:
        row.attributes = checked_attributes(changes["attributes"] or {})
    row.updated_at = now
    _flush_unique(session, row.email)
    return row


def delete(session: Session, part: Partition, contact_id: str) -> None:
    session.delete(get(session, part, contact_id))


def checked_attributes(values: Mapping[str, Scalar]) -> dict[str, Any]:
    """Attributes become template variables, so they follow the same naming rules."""
    check_values(values)
    return dict(values)


def _name(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    reject_injection(value, field)
    return value.strip() or None


def _flush_unique(session: Session, email: str) -> None:
    try:
        session.flush()
    except IntegrityError:  # the caller's transaction is rolled back as this propagates
        raise InvalidInput(
            f"a contact with email {email} already exists", code="already_exists", field="email"
        ) from None
