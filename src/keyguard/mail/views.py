"""JSON shapes of the email service's objects, the same for HTTP, CLI and tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from keyguard.mail.models import (
    Campaign,
    Contact,
    ContactList,
    DeliveryEvent,
    Message,
    Suppression,
    Template,
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def contact(row: Contact) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "attributes": row.attributes,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def contact_list(row: ContactList, members: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    if members is not None:
        data["members"] = members
    return data


def template(row: Template) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "subject": row.subject,
        "text": row.text,
        "html": row.html,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def campaign(row: Campaign) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "template_id": row.template_id,
        "list_id": row.list_id,
        "from": row.sender,
        "state": row.state,
        "summary": row.summary,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "sent_at": iso(row.sent_at),
    }


def suppression(row: Suppression) -> dict[str, Any]:
    return {"address": row.address, "reason": row.reason, "created_at": iso(row.created_at)}


def message(row: Message) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.state,
        "from": row.sender,
        "recipients": row.recipients,
        "subject": row.subject,
        "size": row.size,
        "sandboxed": row.sandboxed,
        "attempts": row.attempts,
        "campaign_id": row.campaign_id,
        "key_id": row.key_id,
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "sent_at": iso(row.sent_at),
    }


def delivery_event(row: DeliveryEvent) -> dict[str, Any]:
    return {
        "ts": iso(row.ts),
        "type": row.type,
        "recipient": row.recipient,
        "smtp_code": row.smtp_code,
        "detail": row.detail,
    }
