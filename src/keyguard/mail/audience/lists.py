"""Contact lists and their members, per tenant and environment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Final

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from keyguard.errors import InvalidInput, NotFound
from keyguard.mail.audience import contacts
from keyguard.mail.models import Campaign, Contact, ContactList, ListMember
from keyguard.mail.partition import (
    Page,
    Partition,
    PartitionedRows,
    flush_unique,
    keyset_page,
)
from keyguard.mail.schemas import ListIn, ListPatch, MembersIn

ROWS: Final = PartitionedRows(ContactList, "list", id_prefix="lst")
get = ROWS.get
page = ROWS.page


def create(session: Session, part: Partition, data: ListIn, now: datetime) -> ContactList:
    row = ROWS.new(session, part, now, name=data.name.strip(), description=data.description)
    _flush_unique(session, row.name)
    return row


def member_count(session: Session, list_id: str) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(ListMember).where(ListMember.list_id == list_id)
        )
        or 0
    )


def update(
    session: Session, part: Partition, list_id: str, patch: ListPatch, now: datetime
) -> ContactList:
    row = get(session, part, list_id)
    changes = patch.model_dump(exclude_unset=True)
    if changes.get("name"):
        row.name = changes["name"].strip()
    if "description" in changes:
        row.description = changes["description"]
    row.updated_at = now
    _flush_unique(session, row.name)
    return row


def delete(session: Session, part: Partition, list_id: str) -> None:
    row = get(session, part, list_id)
    in_use = session.scalars(select(Campaign.id).where(Campaign.list_id == row.id)).first()
    if in_use is not None:
        raise InvalidInput(f"list {row.name!r} is used by campaign {in_use}", code="list_in_use")
    session.delete(row)


def add_members(
    session: Session, part: Partition, list_id: str, data: MembersIn, now: datetime
) -> int:
    """Add contacts by id or email; every one must exist in this partition. Returns how many
    were new members."""
    row = get(session, part, list_id)
    wanted = set(data.contact_ids)
    emails = [contacts.normalize_email(e, "emails") for e in data.emails]
    by_email = contacts.find_by_emails(session, part, emails)
    missing = [e for e in emails if e not in by_email]
    if missing:
        raise NotFound(f"no contact with email {missing[0]}")
    wanted.update(c.id for c in by_email.values())
    found = set(
        session.scalars(select(Contact.id).where(Contact.id.in_(wanted), part.owns(Contact)))
    )
    if wanted - found:
        raise NotFound(f"no contact {sorted(wanted - found)[0]!r}")
    present = set(
        session.scalars(
            select(ListMember.contact_id).where(
                ListMember.list_id == row.id, ListMember.contact_id.in_(wanted)
            )
        )
    )
    new = sorted(wanted - present)
    if new:
        session.execute(
            insert(ListMember),
            [{"list_id": row.id, "contact_id": cid, "added_at": now} for cid in new],
        )
    return len(new)


def remove_member(session: Session, part: Partition, list_id: str, contact_id: str) -> None:
    row = get(session, part, list_id)
    member = session.get(ListMember, (row.id, contact_id))
    if member is None:
        raise NotFound(f"contact {contact_id!r} is not a member of this list")
    session.delete(member)


def members(
    session: Session,
    part: Partition,
    list_id: str,
    *,
    limit: int | None = None,
    after: str | None = None,
) -> Page[Contact]:
    row = get(session, part, list_id)
    query = (
        select(Contact)
        .join(ListMember, ListMember.contact_id == Contact.id)
        .where(ListMember.list_id == row.id)
    )
    return keyset_page(session, query, Contact.id, limit=limit, after=after)


def all_members(session: Session, list_id: str, chunk: int = 1_000) -> Iterator[Contact]:
    """Every member, in id order, fetched in chunks (for campaigns)."""
    after = ""
    while True:
        batch = list(
            session.scalars(
                select(Contact)
                .join(ListMember, ListMember.contact_id == Contact.id)
                .where(ListMember.list_id == list_id, Contact.id > after)
                .order_by(Contact.id)
                .limit(chunk)
            )
        )
        yield from batch
        if len(batch) < chunk:
            return
        after = batch[-1].id


def _flush_unique(session: Session, name: str) -> None:
    flush_unique(session, field="name", message=f"a list named {name!r} already exists")
