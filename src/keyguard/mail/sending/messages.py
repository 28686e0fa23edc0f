"""What the doors read of accepted mail: a message's status with its delivery events, and the
sandbox (test and dev mail, captured instead of delivered)."""

from __future__ import annotations

from collections.abc import Sequence
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Final

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from keyguard.errors import InvalidInput, NotFound
from keyguard.mail import views
from keyguard.mail.models import DeliveryEvent, Message
from keyguard.mail.partition import Page, Partition, PartitionedRows
from keyguard.mail.transactions import Json, Transactional

ROWS: Final = PartitionedRows(Message, "message", id_prefix="msg")
STATES: Final = ("queued", "sending", "sent", "deferred", "dead", "sandboxed", "held")


class MessagesService(Transactional):
    def get(self, part: Partition, message_id: str) -> Json:
        """The message and its delivery events, in order."""

        def read(session: Session) -> Json:
            row = ROWS.get(session, part, message_id)
            data = views.message(row)
            data["events"] = [views.delivery_event(e) for e in _events(session, row.id)]
            return data

        return self._read(read)

    def page(
        self,
        part: Partition,
        *,
        limit: int | None = None,
        after: str | None = None,
        status: str | None = None,
    ) -> Json:
        """Newest first."""
        if status is not None and status not in STATES:
            raise InvalidInput(f"status must be one of {', '.join(STATES)}", field="status")
        where = [Message.state == status] if status else []
        found = self._read(lambda s: _newest_first(s, part, limit, after, where))
        return found.to_json(views.message)


class SandboxService(Transactional):
    def get(self, part: Partition, message_id: str) -> Json:
        """One captured message: headers, text, HTML, attachment names and the raw MIME."""

        def read(session: Session) -> Json:
            row = ROWS.get(session, part, message_id)
            if not row.sandboxed:
                raise NotFound(f"no sandboxed message {message_id!r}")
            return {**views.message(row), **_content(row.mime)}

        return self._read(read)

    def page(self, part: Partition, *, limit: int | None = None, after: str | None = None) -> Json:
        """Newest first."""
        where = [Message.sandboxed.is_(True)]
        found = self._read(lambda s: _newest_first(s, part, limit, after, where))
        return found.to_json(views.message)


def _newest_first(
    session: Session,
    part: Partition,
    limit: int | None,
    after: str | None,
    where: Sequence[ColumnElement[bool]],
) -> Page[Message]:
    return ROWS.page(session, part, limit=limit, after=after, where=where, newest_first=True)


def _events(session: Session, message_id: str) -> list[DeliveryEvent]:
    return list(
        session.scalars(
            select(DeliveryEvent)
            .where(DeliveryEvent.message_id == message_id)
            .order_by(DeliveryEvent.id)
        )
    )


def _content(mime: bytes) -> Json:
    """What a developer wants to see of a captured message."""
    parsed = message_from_bytes(mime, policy=email_policy.default)
    assert isinstance(parsed, EmailMessage)  # noqa: S101 - the default policy builds these
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    return {
        "headers": [[k, str(v)] for k, v in parsed.items()],
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
        "attachments": [
            {"filename": part.get_filename(), "content_type": part.get_content_type()}
            for part in parsed.iter_attachments()
        ],
        "raw": mime.decode("utf-8", "replace"),
    }
