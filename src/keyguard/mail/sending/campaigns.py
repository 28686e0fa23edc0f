"""Campaigns: a stored template sent once to a list, through the same policy and outbox as
`POST /v1/mail/send`.

Sending is all-or-nothing: the sender, every member's address (against the key's recipient
allowlist), every member's variables and the quota for all of them are checked before any
message is queued. Suppressed members are skipped and counted, as marketing mail expects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import update
from sqlalchemy.orm import Session

from keyguard.errors import IllegalTransition, InvalidInput, KeyguardError
from keyguard.mail import domains
from keyguard.mail.addresses import matches_rule, parse_address
from keyguard.mail.audience import lists, suppressions
from keyguard.mail.content import templates
from keyguard.mail.content.prepare import Prepared, TemplateContent, prepare
from keyguard.mail.limits import MAX_CAMPAIGN_MEMBERS
from keyguard.mail.models import Campaign, Contact
from keyguard.mail.partition import Partition, PartitionedRows
from keyguard.mail.schemas import CampaignIn, CampaignPatch, MessageIn
from keyguard.mail.sending import outbox, quota
from keyguard.mail.sending.policy import TenantMailPolicy
from keyguard.mail.usage import Caller, event_for, store

DRAFT = "draft"
SENT = "sent"

ROWS: Final = PartitionedRows(Campaign, "campaign", id_prefix="cmp")
get = ROWS.get
page = ROWS.page
delete = ROWS.delete


def create(session: Session, part: Partition, data: CampaignIn, now: datetime) -> Campaign:
    template = templates.get(session, part, data.template)
    target = lists.get(session, part, data.list_id)
    row = ROWS.new(
        session,
        part,
        now,
        name=data.name,
        template_id=template.id,
        list_id=target.id,
        sender=parse_address(data.sender, "from").addr,
        state=DRAFT,
    )
    session.flush()
    return row


def update_draft(
    session: Session, part: Partition, campaign_id: str, patch: CampaignPatch, now: datetime
) -> Campaign:
    row = get(session, part, campaign_id)
    if row.state != DRAFT:
        raise IllegalTransition(f"campaign {row.id} was already sent")
    changes = patch.model_dump(exclude_unset=True)
    if changes.get("name"):
        row.name = changes["name"]
    if changes.get("template"):
        row.template_id = templates.get(session, part, changes["template"]).id
    if changes.get("list_id"):
        row.list_id = lists.get(session, part, changes["list_id"]).id
    if changes.get("sender"):
        row.sender = parse_address(changes["sender"], "from").addr
    row.updated_at = now
    return row


def send(session: Session, caller: Caller, campaign_id: str, now: datetime) -> Campaign:
    """Queue the campaign's messages in the caller's transaction; raises on any refusal."""
    key = caller.key
    part = Partition.of(key)
    row = get(session, part, campaign_id)
    _mark_sent(session, row, now)
    members = list(lists.all_members(session, row.list_id))
    if not members:
        raise InvalidInput("the campaign's list has no members", code="empty_list")
    if len(members) > MAX_CAMPAIGN_MEMBERS:
        raise InvalidInput(
            f"a campaign is sent to at most {MAX_CAMPAIGN_MEMBERS} members; split the list",
            code="list_too_large",
        )
    template = templates.get(session, part, row.template_id)
    content = TemplateContent(
        template.id, template.name, template.subject, template.text, template.html
    )
    tenant = domains.tenant_policy(session, key.tenant_id)
    blocked = suppressions.suppressed_among(
        session, key.tenant_id, key.env, _rules(c.email for c in members)
    )
    sendable = [c for c in members if not matches_rule(parse_address(c.email), blocked)]
    prepared = [
        _prepare(caller, row, contact=c, content=content, tenant=tenant, now=now) for c in sendable
    ]
    recipients = [r for p in prepared for r in p.recipients]
    quota.spend(session, key.id, key.restrictions.daily_quota, len(recipients), now)
    queued = outbox.enqueue(
        session,
        tenant_id=key.tenant_id,
        env=key.env,
        key_id=key.id,
        tenant=tenant,
        messages=prepared,
        now=now,
        campaign_id=row.id,
    )
    row.summary = {
        "members": len(members),
        "suppressed": len(members) - len(sendable),
        "queued": sum(1 for q in queued if q.state == "queued"),
        "sandboxed": sum(1 for q in queued if q.state == "sandboxed"),
    }
    row.sent_by = key.id
    accepted = event_for(
        caller,
        now=now,
        outcome="ok",
        status=caller.accepted_status,
        sender=prepared[0].sender if prepared else None,
        recipients=recipients,
        extra={"campaign_id": row.id, "messages": len(prepared)},
    )
    store(session, [accepted])
    return row


def _mark_sent(session: Session, row: Campaign, now: datetime) -> None:
    """Draft → sent, conditionally, so two concurrent sends cannot both queue the mail."""
    done = session.execute(
        update(Campaign)
        .where(Campaign.id == row.id, Campaign.state == DRAFT)
        .values(state=SENT, sent_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]  # DML results carry rowcount
        raise IllegalTransition(f"campaign {row.id} was already sent")
    session.refresh(row)


def _prepare(
    caller: Caller,
    row: Campaign,
    *,
    contact: Contact,
    content: TemplateContent,
    tenant: TenantMailPolicy,
    now: datetime,
) -> Prepared:
    variables: dict[str, Any] = {
        **contact.attributes,
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
    }
    item = MessageIn.model_validate(
        {"from": row.sender, "to": [contact.email], "template": content.id, "variables": variables}
    )
    try:
        return prepare(
            item,
            restrictions=caller.key.restrictions,
            tenant=tenant,
            templates={content.id: content},
            now=now,
        )
    except KeyguardError as error:
        error.message = f"contact {contact.email}: {error.message}"
        error.args = (error.message,)
        raise


def _rules(emails: Any) -> set[str]:
    return {rule for email in emails for rule in (email, "@" + email.rpartition("@")[2])}
