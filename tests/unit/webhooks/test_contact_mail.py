"""Security contacts receive each event as plain-text mail through Keyguard's own outbox,
queued in the transaction of the change, with any pasted key masked."""

from __future__ import annotations

from email import message_from_bytes

from sqlalchemy import select

from keyguard.lifecycle import OPERATOR
from keyguard.mail.models import Message
from keyguard.runtime import Runtime
from tests.conftest import create_key


def _outbox(runtime: Runtime) -> list[Message]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.created_at)))


def test_a_revocation_is_mailed_to_the_security_contacts(runtime: Runtime) -> None:
    runtime.webhooks.add_contact(OPERATOR, "default", "secops@example.com")
    runtime.webhooks.add_contact(OPERATOR, "default", "ciso@example.com")
    key, leaked = create_key(runtime), create_key(runtime)
    runtime.keys.revoke(OPERATOR, key.view.id, f"found {leaked.key.reveal()} beside it")
    mails = [m for m in _outbox(runtime) if "key.revoked" in m.subject]
    (mail,) = mails
    assert (mail.env, mail.key_id, mail.state) == ("live", None, "queued")
    assert sorted(mail.rcpt) == ["ciso@example.com", "secops@example.com"]
    body = message_from_bytes(mail.mime).get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode()
    assert f"key_id: {key.view.id}" in text
    assert leaked.key.reveal() not in text
    assert key.key.reveal() not in mail.mime.decode(errors="replace")


def test_a_tenant_without_contacts_gets_no_mail(runtime: Runtime) -> None:
    runtime.webhooks.add_contact(OPERATOR, "other", "secops@example.com")
    create_key(runtime)
    assert _outbox(runtime) == []
