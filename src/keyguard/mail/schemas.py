"""Request shapes of the email API (PRODUCT.md), as pydantic models shared by HTTP and tests.

Only the shape is checked here; addresses, headers, policy and sizes are checked by the
services, which give each failure its own code.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from keyguard.mail.content.rendering import Scalar
from keyguard.mail.limits import MAX_ATTACHMENTS, MAX_BATCH, MAX_CUSTOM_HEADERS

_STRICT = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class AttachmentIn(BaseModel):
    model_config = _STRICT

    filename: str = Field(min_length=1, max_length=255)
    content: str = Field(description="Base64 of the attachment's bytes.")
    content_type: str = Field(default="application/octet-stream", max_length=255)


class MessageIn(BaseModel):
    """One message; either `subject` with `text` and/or `html`, or a stored `template`."""

    model_config = _STRICT

    sender: str = Field(alias="from", max_length=400)
    to: list[str] = Field(default_factory=list, max_length=1_000)
    cc: list[str] = Field(default_factory=list, max_length=1_000)
    bcc: list[str] = Field(default_factory=list, max_length=1_000)
    reply_to: str | None = Field(default=None, max_length=400)
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, max_length=MAX_CUSTOM_HEADERS)
    template: str | None = Field(default=None, max_length=200)
    variables: dict[str, Scalar] = Field(default_factory=dict)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class BatchIn(BaseModel):
    """Up to 1,000 messages. By default all are accepted or none; with `partial` the valid
    ones are accepted and the answer says, item by item, which ones."""

    model_config = _STRICT

    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_BATCH)
    partial: bool = False


SendIn = MessageIn | BatchIn


def canonical_request(request: SendIn) -> dict[str, Any]:
    """What an Idempotency-Key is bound to: the request's content, not its formatting."""
    return request.model_dump(mode="json", by_alias=True)


class ContactIn(BaseModel):
    model_config = _STRICT

    email: str = Field(max_length=320)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    attributes: dict[str, Scalar] = Field(default_factory=dict, max_length=100)


class ContactPatch(BaseModel):
    model_config = _STRICT

    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    attributes: dict[str, Scalar] | None = Field(default=None, max_length=100)


class ListIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2_000)


class ListPatch(BaseModel):
    model_config = _STRICT

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2_000)


class MembersIn(BaseModel):
    """Contacts to add to a list, by id or by email (emails must be existing contacts)."""

    model_config = _STRICT

    contact_ids: list[str] = Field(default_factory=list, max_length=10_000)
    emails: list[str] = Field(default_factory=list, max_length=10_000)


class TemplateIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(max_length=998)
    text: str | None = None
    html: str | None = None


class TemplatePatch(BaseModel):
    model_config = _STRICT

    name: str | None = Field(default=None, min_length=1, max_length=200)
    subject: str | None = Field(default=None, max_length=998)
    text: str | None = None
    html: str | None = None


class CampaignIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    template: str = Field(description="Template id or name.", max_length=200)
    list_id: str = Field(max_length=40)
    sender: str = Field(alias="from", max_length=400)


class CampaignPatch(BaseModel):
    model_config = _STRICT

    name: str | None = Field(default=None, min_length=1, max_length=200)
    template: str | None = Field(default=None, max_length=200)
    list_id: str | None = Field(default=None, max_length=40)
    sender: str | None = Field(default=None, alias="from", max_length=400)


class SuppressionIn(BaseModel):
    model_config = _STRICT

    address: str = Field(max_length=320)
    reason: str = Field(default="manual", pattern=r"^[a-z_]{1,40}$")
