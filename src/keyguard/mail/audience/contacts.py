"""Contacts: create, read, update, delete, per tenant and environment."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from keyguard.errors import InvalidInput
from keyguard.mail.addresses import parse_address, reject_injection
from keyguard.mail.content.rendering import Scalar, check_values
from keyguard.mail.models import Contact
from keyguard.mail.partition import Page, Partition, PartitionedRows, flush_unique
from keyguard.mail.schemas import ContactIn, ContactPatch

ROWS: Final = PartitionedRows(Contact, "contact", id_prefix="con")
get = ROWS.get
delete = ROWS.delete


def normalize_email(value: str, field: str = "email") -> str:
    """Contacts are keyed by their lowercase bare address."""
    return parse_address(value, field).key


def create(session: Session, part: Partition, data: ContactIn, now: datetime) -> Contact:
    row = ROWS.new(
        session,
        part,
        now,
        email=normalize_email(data.email),
        first_name=_name(data.first_name, "first_name"),
        last_name=_name(data.last_name, "last_name"),
        attributes=checked_attributes(data.attributes),
    )
    _flush_unique(session, row.email)
    return row


def find_by_emails(session: Session, part: Partition, emails: list[str]) -> dict[str, Contact]:
    found: dict[str, Contact] = {}
    for start in range(0, len(emails), 500):
        rows = session.scalars(
            ROWS.select(part).where(Contact.email.in_(emails[start : start + 500]))
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
) -> Page[Contact]:
    where = [Contact.email == normalize_email(email)] if email else []
    return ROWS.page(session, part, limit=limit, after=after, where=where)


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
    flush_unique(session, field="email", message=f"a contact with email {email} already exists")
