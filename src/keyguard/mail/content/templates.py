"""Stored templates: subject, text and HTML with `{{ variables }}`, per tenant and environment."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keyguard.errors import InvalidInput, NotFound
from keyguard.mail.addresses import reject_injection
from keyguard.mail.content.prepare import TemplateContent
from keyguard.mail.models import Campaign, Template
from keyguard.mail.partition import Partition, PartitionedRows, flush_unique
from keyguard.mail.schemas import TemplateIn, TemplatePatch

ROWS: Final = PartitionedRows(Template, "template", id_prefix="tpl")
page = ROWS.page


def load_for_send(
    session: Session, tenant_id: str, env: str, refs: Iterable[str]
) -> dict[str, TemplateContent]:
    """Templates named by id or name, keyed by the reference the caller used."""
    wanted = set(refs)
    if not wanted:
        return {}
    rows = session.scalars(
        ROWS.select(Partition(tenant_id, env)).where(
            or_(Template.id.in_(wanted), Template.name.in_(wanted))
        )
    )
    found: dict[str, TemplateContent] = {}
    for row in rows:
        content = TemplateContent(row.id, row.name, row.subject, row.text, row.html)
        for ref in (row.id, row.name):
            if ref in wanted:
                found[ref] = content
    return found


def create(session: Session, part: Partition, data: TemplateIn, now: datetime) -> Template:
    _check(data.subject, data.text, data.html)
    row = ROWS.new(
        session,
        part,
        now,
        name=data.name,
        subject=data.subject,
        text=data.text,
        html=data.html,
    )
    _flush_unique(session, data.name)
    return row


def get(session: Session, part: Partition, ref: str) -> Template:
    """By id or by name."""
    query = ROWS.select(part).where(or_(Template.id == ref, Template.name == ref))
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(f"no template {ref!r}")
    return row


def update(
    session: Session, part: Partition, ref: str, patch: TemplatePatch, now: datetime
) -> Template:
    row = get(session, part, ref)
    changes = patch.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if name in ("name", "subject") and value is None:
            raise InvalidInput(f"{name} cannot be null", field=name)
        setattr(row, name, value)
    _check(row.subject, row.text, row.html)
    row.updated_at = now
    _flush_unique(session, row.name)
    return row


def delete(session: Session, part: Partition, ref: str) -> None:
    row = get(session, part, ref)
    in_use = session.scalars(select(Campaign.id).where(Campaign.template_id == row.id)).first()
    if in_use is not None:
        raise InvalidInput(
            f"template {row.name!r} is used by campaign {in_use}", code="template_in_use"
        )
    session.delete(row)


def _check(subject: str, text: str | None, html: str | None) -> None:
    reject_injection(subject, "subject")
    if text is None and html is None:
        raise InvalidInput("a template needs text or html", code="no_content", field="text")


def _flush_unique(session: Session, name: str) -> None:
    flush_unique(session, field="name", message=f"a template named {name!r} already exists")
