"""From a send request to a composed message that passed validation and the key's policy.

Pure: the caller loads the tenant's policy and templates, and checks suppressions and the
quota afterwards (they need the database and, for quotas, the whole request).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from keyguard.errors import InvalidInput
from keyguard.mail.addresses import Address, parse_address, reject_injection
from keyguard.mail.content.mime import Attachment, Composition, compose
from keyguard.mail.content.rendering import check_values, render
from keyguard.mail.ids import new_id
from keyguard.mail.limits import (
    MAX_HEADER_VALUE_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_RECIPIENTS_PER_MESSAGE,
    MAX_SUBJECT_CHARS,
)
from keyguard.mail.schemas import AttachmentIn, MessageIn
from keyguard.mail.sending import policy
from keyguard.policy import Restrictions

_HEADER_NAME: Final = re.compile(r"[!-9;-~]{1,76}")  # printable ASCII without ':'
_CONTENT_TYPE: Final = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}"
)
# Headers that make up the message itself. HTTP callers give them as fields (from, to,
# subject, reply_to…), so a custom header may not set them; an SMTP client writes them in its
# own MIME, where From is policed (raw.py) and the rest are kept as written.
MESSAGE_HEADERS: Final = frozenset(
    {
        "from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version",
        "content-type", "content-transfer-encoding", "content-disposition", "reply-to",
    }
)  # fmt: skip
# Headers that speak for the service or for the path the message took. A caller who could set
# them could forge who sent the mail (Sender, Resent-*), where bounces go (Return-Path), the
# route (Received) or the verdicts of signatures: nobody sets them, at either door.
SERVICE_HEADERS: Final = frozenset(
    {
        "return-path", "received", "sender", "dkim-signature", "arc-seal",
        "arc-message-signature", "arc-authentication-results", "authentication-results",
    }
)  # fmt: skip
SERVICE_HEADER_PREFIXES: Final = ("resent-",)
RESERVED_HEADERS: Final = MESSAGE_HEADERS | SERVICE_HEADERS


def check_caller_header(name: str) -> None:
    """The one header policy of both doors (HTTP custom headers, SMTP submissions): refuse a
    header only the service, or the MTAs after it, may write."""
    lowered = name.lower()
    if lowered in SERVICE_HEADERS or lowered.startswith(SERVICE_HEADER_PREFIXES):
        raise InvalidInput(f"header {name} is set by the service", code="reserved_header")


@dataclass(frozen=True, slots=True)
class TemplateContent:
    id: str
    name: str
    subject: str
    text: str | None
    html: str | None


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message ready for the outbox."""

    id: str
    sender: Address
    recipients: tuple[Address, ...]
    subject: str
    mime: bytes


def prepare(
    item: MessageIn,
    *,
    restrictions: Restrictions,
    tenant: policy.TenantMailPolicy,
    templates: Mapping[str, TemplateContent],
    now: datetime,
    parsed: Mapping[str, Address] | None = None,
) -> Prepared:
    """`parsed`: addresses the caller has parsed already (by their text), to parse once."""
    known = parsed or {}
    subject, text, html = _content(item, templates)
    sender = known.get(item.sender) or parse_address(item.sender, "from")
    policy.check_sender(restrictions, tenant, sender)
    to, cc = _addresses(item.to, "to", known), _addresses(item.cc, "cc", known)
    recipients = unique_recipients([*to, *cc, *_addresses(item.bcc, "bcc", known)])
    for recipient in recipients:
        policy.check_recipient(restrictions, recipient)
    reply_to = parse_address(item.reply_to, "reply_to") if item.reply_to else None
    attachments = _attachments(item.attachments)
    message_id = new_id("msg", now)
    composition = Composition(
        sender=sender,
        to=to,
        cc=cc,
        reply_to=reply_to,
        subject=subject,
        text=text,
        html=html,
        message_id=f"<{message_id}@{sender.domain}>",
        date=now,
        headers=custom_headers(item.headers),
        attachments=attachments,
    )
    mime = compose(composition)
    check_size(len(mime))
    return Prepared(message_id, sender, recipients, subject, mime)


def unique_recipients(addresses: Sequence[Address]) -> tuple[Address, ...]:
    """Deduplicated (case-insensitively), order kept; 1 to MAX_RECIPIENTS_PER_MESSAGE."""
    seen: dict[str, Address] = {}
    for address in addresses:
        seen.setdefault(address.key, address)
    if not seen:
        raise InvalidInput("a message needs at least one recipient", code="no_recipients")
    if len(seen) > MAX_RECIPIENTS_PER_MESSAGE:
        raise InvalidInput(
            f"at most {MAX_RECIPIENTS_PER_MESSAGE} recipients per message",
            code="too_many_recipients",
        )
    return tuple(seen.values())


def custom_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    result = []
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise InvalidInput(f"invalid header name {name!r}", code="invalid_header")
        check_caller_header(name)
        if name.lower() in MESSAGE_HEADERS:
            raise InvalidInput(f"header {name} is set by the service", code="reserved_header")
        reject_injection(value, f"headers.{name}")
        if len(value) > MAX_HEADER_VALUE_CHARS:
            raise InvalidInput(f"header {name} is too long", code="invalid_header")
        result.append((name, value))
    return result


def check_size(size: int) -> None:
    if size > MAX_MESSAGE_BYTES:
        raise InvalidInput(
            f"the message is {size} bytes; the limit is {MAX_MESSAGE_BYTES}",
            code="message_too_large",
        )


def _content(
    item: MessageIn, templates: Mapping[str, TemplateContent]
) -> tuple[str, str | None, str | None]:
    if item.template is not None:
        if item.subject is not None or item.text is not None or item.html is not None:
            raise InvalidInput(
                "give either a template or subject/text/html, not both",
                code="template_conflict",
                field="template",
            )
        template = templates.get(item.template)
        if template is None:
            raise InvalidInput(
                f"unknown template {item.template!r}", code="unknown_template", field="template"
            )
        check_values(item.variables)
        subject = render(template.subject, item.variables) or ""
        text = render(template.text, item.variables)
        html = render(template.html, item.variables, escape=True)
    else:
        if item.variables:
            raise InvalidInput("variables need a template", field="variables")
        subject, text, html = item.subject or "", item.text, item.html
    reject_injection(subject, "subject")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise InvalidInput("the subject is too long", code="invalid_subject", field="subject")
    if text is None and html is None:
        raise InvalidInput("a message needs text or html", code="no_content", field="text")
    return subject, text, html


def _addresses(values: Sequence[str], field: str, known: Mapping[str, Address]) -> list[Address]:
    # `field` only names the field in an error, so a known parse is the same for every field
    return [known.get(value) or parse_address(value, field) for value in values]


def _attachments(items: Sequence[AttachmentIn]) -> list[Attachment]:
    result, total = [], 0
    for item in items:
        reject_injection(item.filename, "attachments.filename")
        if not _CONTENT_TYPE.fullmatch(item.content_type):
            raise InvalidInput(
                f"invalid content type {item.content_type!r}", code="invalid_attachment"
            )
        total += len(item.content) * 3 // 4
        check_size(total)  # before decoding megabytes we would refuse anyway
        try:
            content = base64.b64decode(item.content, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(
                f"attachment {item.filename!r} is not valid base64", code="invalid_attachment"
            ) from None
        result.append(Attachment(item.filename, item.content_type.lower(), content))
    return result
