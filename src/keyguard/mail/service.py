"""MailService: the email domain's operations, one transaction each, answering in JSON shapes.

Routes and CLI commands call one method and render what it returns. Helpers in the domain
modules take the session and never commit; this class owns the transactions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any, Final, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.errors import InvalidInput, KeyguardError, NotFound
from keyguard.mail import domains, views
from keyguard.mail.audience import contacts, csv_import, lists, suppressions
from keyguard.mail.content import templates
from keyguard.mail.models import DeliveryEvent, Message
from keyguard.mail.partition import Partition, PartitionedRows
from keyguard.mail.schemas import (
    CampaignIn,
    CampaignPatch,
    ContactIn,
    ContactPatch,
    ListIn,
    ListPatch,
    MembersIn,
    SuppressionIn,
    TemplateIn,
    TemplatePatch,
)
from keyguard.mail.sending import campaigns
from keyguard.mail.sending.service import Notify, SendingService
from keyguard.mail.usage import Caller

T = TypeVar("T")
Json = dict[str, Any]
MESSAGES: Final = PartitionedRows(Message, "message", id_prefix="msg")
MESSAGE_STATES = ("queued", "sending", "sent", "deferred", "dead", "sandboxed", "held")


class MailService:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, on_accepted: Notify | None = None
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.sending = SendingService(sessions, clock, on_accepted)
        self.deliveries: Counter[str] = Counter()  # filled by this process's delivery worker

    def _write(self, action: Callable[[Session, datetime], T]) -> T:
        with self._sessions.begin() as session:
            return action(session, self._clock())

    def _read(self, action: Callable[[Session], T]) -> T:
        with self._sessions() as session:
            return action(session)

    # -- sender domains and internal recipients (operator) ---------------------------------

    def add_domain(self, tenant_id: str, domain: str, actor: str) -> bool:
        return self._write(
            lambda s, now: domains.add_domain(
                s, tenant_id=tenant_id, domain=domain, actor=actor, now=now
            )
        )

    def remove_domain(self, tenant_id: str, domain: str, actor: str) -> None:
        self._write(
            lambda s, now: domains.remove_domain(
                s, tenant_id=tenant_id, domain=domain, actor=actor, now=now
            )
        )

    def list_domains(self, tenant_id: str) -> list[str]:
        return self._read(lambda s: domains.list_domains(s, tenant_id))

    def holds_revoked_mail(self, tenant_id: str) -> bool:
        return self._read(lambda s: domains.holds_revoked_mail(s, tenant_id))

    def set_hold_revoked_mail(self, tenant_id: str, hold: bool, actor: str) -> bool:
        return self._write(
            lambda s, now: domains.set_hold_revoked_mail(
                s, tenant_id=tenant_id, hold=hold, actor=actor, now=now
            )
        )

    def add_internal(self, tenant_id: str, address: str, actor: str) -> bool:
        return self._write(
            lambda s, now: domains.add_internal(
                s, tenant_id=tenant_id, address=address, actor=actor, now=now
            )
        )

    def remove_internal(self, tenant_id: str, address: str, actor: str) -> None:
        self._write(
            lambda s, now: domains.remove_internal(
                s, tenant_id=tenant_id, address=address, actor=actor, now=now
            )
        )

    def list_internal(self, tenant_id: str) -> list[str]:
        return self._read(lambda s: domains.list_internal(s, tenant_id))

    # -- contacts ----------------------------------------------------------------------------

    def create_contact(self, part: Partition, data: ContactIn) -> Json:
        return self._write(lambda s, now: views.contact(contacts.create(s, part, data, now)))

    def get_contact(self, part: Partition, contact_id: str) -> Json:
        return self._read(lambda s: views.contact(contacts.get(s, part, contact_id)))

    def list_contacts(
        self, part: Partition, *, limit: int | None, after: str | None, email: str | None = None
    ) -> Json:
        found = self._read(lambda s: contacts.page(s, part, limit=limit, after=after, email=email))
        return found.to_json(views.contact)

    def update_contact(self, part: Partition, contact_id: str, patch: ContactPatch) -> Json:
        return self._write(
            lambda s, now: views.contact(contacts.update(s, part, contact_id, patch, now))
        )

    def delete_contact(self, part: Partition, contact_id: str) -> None:
        self._write(lambda s, _now: contacts.delete(s, part, contact_id))

    def import_contacts(self, part: Partition, data: bytes, list_id: str | None = None) -> Json:
        return self._write(
            lambda s, now: csv_import.import_csv(s, part, data, now, list_id).to_json()
        )

    # -- lists -------------------------------------------------------------------------------

    def create_list(self, part: Partition, data: ListIn) -> Json:
        return self._write(lambda s, now: views.contact_list(lists.create(s, part, data, now), 0))

    def get_list(self, part: Partition, list_id: str) -> Json:
        def read(session: Session) -> Json:
            row = lists.get(session, part, list_id)
            return views.contact_list(row, lists.member_count(session, row.id))

        return self._read(read)

    def list_lists(self, part: Partition, *, limit: int | None, after: str | None) -> Json:
        found = self._read(lambda s: lists.page(s, part, limit=limit, after=after))
        return found.to_json(views.contact_list)

    def update_list(self, part: Partition, list_id: str, patch: ListPatch) -> Json:
        return self._write(
            lambda s, now: views.contact_list(lists.update(s, part, list_id, patch, now))
        )

    def delete_list(self, part: Partition, list_id: str) -> None:
        self._write(lambda s, _now: lists.delete(s, part, list_id))

    def add_members(self, part: Partition, list_id: str, data: MembersIn) -> Json:
        added = self._write(lambda s, now: lists.add_members(s, part, list_id, data, now))
        return {"added": added}

    def remove_member(self, part: Partition, list_id: str, contact_id: str) -> None:
        self._write(lambda s, _now: lists.remove_member(s, part, list_id, contact_id))

    def list_members(
        self, part: Partition, list_id: str, *, limit: int | None, after: str | None
    ) -> Json:
        found = self._read(lambda s: lists.members(s, part, list_id, limit=limit, after=after))
        return found.to_json(views.contact)

    # -- templates ---------------------------------------------------------------------------

    def create_template(self, part: Partition, data: TemplateIn) -> Json:
        return self._write(lambda s, now: views.template(templates.create(s, part, data, now)))

    def get_template(self, part: Partition, ref: str) -> Json:
        return self._read(lambda s: views.template(templates.get(s, part, ref)))

    def list_templates(self, part: Partition, *, limit: int | None, after: str | None) -> Json:
        found = self._read(lambda s: templates.page(s, part, limit=limit, after=after))
        return found.to_json(views.template)

    def update_template(self, part: Partition, ref: str, patch: TemplatePatch) -> Json:
        return self._write(
            lambda s, now: views.template(templates.update(s, part, ref, patch, now))
        )

    def delete_template(self, part: Partition, ref: str) -> None:
        self._write(lambda s, _now: templates.delete(s, part, ref))

    # -- campaigns ---------------------------------------------------------------------------

    def create_campaign(self, part: Partition, data: CampaignIn) -> Json:
        return self._write(lambda s, now: views.campaign(campaigns.create(s, part, data, now)))

    def get_campaign(self, part: Partition, campaign_id: str) -> Json:
        return self._read(lambda s: views.campaign(campaigns.get(s, part, campaign_id)))

    def list_campaigns(self, part: Partition, *, limit: int | None, after: str | None) -> Json:
        found = self._read(lambda s: campaigns.page(s, part, limit=limit, after=after))
        return found.to_json(views.campaign)

    def update_campaign(self, part: Partition, campaign_id: str, patch: CampaignPatch) -> Json:
        return self._write(
            lambda s, now: views.campaign(campaigns.update_draft(s, part, campaign_id, patch, now))
        )

    def delete_campaign(self, part: Partition, campaign_id: str) -> None:
        self._write(lambda s, _now: campaigns.delete(s, part, campaign_id))

    def send_campaign(self, caller: Caller, campaign_id: str) -> Json:
        """Queue the campaign; its usage event (ok or denial) is written here."""
        try:
            result = self._write(
                lambda s, now: views.campaign(campaigns.send(s, caller, campaign_id, now))
            )
        except KeyguardError as error:
            self.sending.record_denial(caller, error)
            raise
        self.sending.notify()
        return result

    # -- suppressions ------------------------------------------------------------------------

    def add_suppression(self, part: Partition, data: SuppressionIn) -> Json:
        return self._write(
            lambda s, now: views.suppression(
                suppressions.add(s, part, data.address, data.reason, now)
            )
        )

    def remove_suppression(self, part: Partition, address: str) -> None:
        self._write(lambda s, _now: suppressions.remove(s, part, address))

    def list_suppressions(self, part: Partition, *, limit: int | None, after: str | None) -> Json:
        found = self._read(lambda s: suppressions.page(s, part, limit=limit, after=after))
        return found.to_json(views.suppression)

    # -- messages and the sandbox ------------------------------------------------------------

    def get_message(self, part: Partition, message_id: str) -> Json:
        def read(session: Session) -> Json:
            row = MESSAGES.get(session, part, message_id)
            data = views.message(row)
            data["events"] = [views.delivery_event(e) for e in _events(session, row.id)]
            return data

        return self._read(read)

    def list_messages(
        self,
        part: Partition,
        *,
        limit: int | None,
        after: str | None,
        status: str | None = None,
        sandboxed: bool | None = None,
    ) -> Json:
        if status is not None and status not in MESSAGE_STATES:
            raise InvalidInput(f"status must be one of {', '.join(MESSAGE_STATES)}", field="status")

        where = [Message.state == status] if status else []
        if sandboxed is not None:
            where.append(Message.sandboxed.is_(sandboxed))
        found = self._read(
            lambda s: MESSAGES.page(
                s, part, limit=limit, after=after, where=where, newest_first=True
            )
        )
        return found.to_json(views.message)

    def sandbox_message(self, part: Partition, message_id: str) -> Json:
        def read(session: Session) -> Json:
            row = MESSAGES.get(session, part, message_id)
            if not row.sandboxed:
                raise NotFound(f"no sandboxed message {message_id!r}")
            return {**views.message(row), **_content(row.mime)}

        return self._read(read)

    def list_sandbox(self, part: Partition, *, limit: int | None, after: str | None) -> Json:
        return self.list_messages(part, limit=limit, after=after, sandboxed=True)


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
