"""Keyguard's own plain-text notices (security contacts' event mail) into the mail outbox.

A notice is `live` mail of no key: it leaves through the same outbox and relay as the
tenants' mail, in the caller's transaction, so it commits with the change it tells of.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from keyguard.mail.addresses import parse_address
from keyguard.mail.content.mime import Composition, compose
from keyguard.mail.content.prepare import Prepared
from keyguard.mail.ids import new_id
from keyguard.mail.sending.outbox import enqueue
from keyguard.mail.sending.policy import TenantMailPolicy

# Notices are live mail to the addresses the tenant registered: no sandbox, no allowlist.
_NO_POLICY = TenantMailPolicy(registered_domains=frozenset(), internal_recipients=frozenset())


def enqueue_notice(
    session: Session,
    *,
    tenant_id: str,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    text: str,
    now: datetime,
) -> str:
    """Queue one plain-text message from `sender` to `recipients`; returns its id."""
    source = parse_address(sender, "sender")
    to = tuple(parse_address(r, "recipients") for r in recipients)
    message_id = new_id("msg", now)
    mime = compose(
        Composition(
            sender=source,
            to=to,
            cc=(),
            subject=subject,
            text=text,
            html=None,
            message_id=f"<{message_id}@{source.domain}>",
            date=now,
        )
    )
    prepared = Prepared(message_id, source, to, subject, mime)
    enqueue(
        session,
        tenant_id=tenant_id,
        env="live",
        key_id=None,
        tenant=_NO_POLICY,
        messages=[prepared],
        now=now,
    )
    return message_id
