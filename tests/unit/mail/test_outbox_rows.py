"""What acceptance writes, column by column: the compiled multi-row INSERTs of the outbox and
of the usage events store every value as the ORM would read it back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.mail.models import DeliveryEvent, Message
from keyguard.mail.partition import Partition
from keyguard.mail.schemas import BatchIn, SuppressionIn
from keyguard.mail.service import MailService
from keyguard.runtime import Runtime
from keyguard.usage.models import UsageEvent
from tests.conftest import START
from tests.unit.mail.conftest import SENDER, MakeCaller


def batch(*items: dict[str, Any]) -> BatchIn:
    base = {"from": SENDER, "subject": "Hi", "text": "Hello."}
    return BatchIn.model_validate({"messages": [{**base, **item} for item in items]})


def stored(runtime: Runtime, message_id: str | None) -> Message:
    with runtime.sessions() as session:
        row = session.get(Message, message_id)
    assert row is not None
    return row


def events_of(runtime: Runtime, message_id: str | None) -> list[tuple[Any, ...]]:
    with runtime.sessions() as session:
        found = session.scalars(
            select(DeliveryEvent)
            .where(DeliveryEvent.message_id == message_id)
            .order_by(DeliveryEvent.id)
        )
        return [(e.type, e.ts, e.recipient, e.smtp_code, e.detail) for e in found]


def test_a_batch_of_differing_messages_is_stored_row_by_row_as_given(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    mail.domains.add_internal(DEFAULT_TENANT, "qa@brand.example", OPERATOR.id)
    caller = make_caller(env="test")
    outcome = mail.sending.send(
        caller,
        batch(
            {"to": ["a@example.com"], "subject": "Grüße, 1"},
            {"to": ["Zoë <b@example.com>", "qa@brand.example"], "cc": ["c@other.example"]},
            {"to": ["QA@brand.example"], "html": "<p>only html</p>", "text": None},
        ),
    )
    outside, mixed, internal = (stored(runtime, item.id) for item in outcome.items)
    assert [(m.state, m.sandboxed, m.rcpt) for m in (outside, mixed, internal)] == [
        ("sandboxed", True, []),
        ("queued", True, ["qa@brand.example"]),
        ("queued", False, ["QA@brand.example"]),
    ]
    assert mixed.recipients == ["b@example.com", "qa@brand.example", "c@other.example"]
    assert outside.subject == "Grüße, 1"
    for row in (outside, mixed, internal):
        assert (row.tenant_id, row.env, row.key_id, row.campaign_id) == (
            DEFAULT_TENANT,
            "test",
            caller.key.id,
            None,
        )
        assert (row.sender, row.attempts, row.size) == (SENDER, 0, len(row.mime))
        assert f"Message-ID: <{row.id}@brand.example>".encode() in row.mime
        assert row.next_attempt_at == row.created_at == row.updated_at == START
        assert (row.lease_owner, row.claim_token, row.last_error, row.sent_at) == (None,) * 4
    assert events_of(runtime, outside.id) == [("sandboxed", START, None, None, None)]
    assert [e[0] for e in events_of(runtime, mixed.id)] == ["queued", "sandboxed"]
    assert [e[0] for e in events_of(runtime, internal.id)] == ["queued"]


def test_a_usage_event_without_the_optional_columns_stores_sql_null(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    caller = make_caller()
    batch_ = batch({"to": ["a@example.com", "b@other.example"]})
    mail.sending.send(caller, batch_, idempotency_key="k-1")
    mail.sending.send(caller, batch_, idempotency_key="k-1")  # the replay: no recipients
    with runtime.sessions() as session:
        accepted, replayed = session.scalars(select(UsageEvent).order_by(UsageEvent.id))
        nulls = session.execute(
            text("SELECT recipient_domains IS NULL, sender IS NULL FROM usage_events ORDER BY id")
        ).all()
    assert (accepted.recipients, accepted.recipient_domains, accepted.sender) == (
        2,
        ["example.com", "other.example"],
        SENDER,
    )
    assert (accepted.extra, accepted.ts, accepted.ip) == ({"messages": 1}, START, "203.0.113.7")
    assert replayed.extra == {"idempotent_replay": True}
    assert [tuple(row) for row in nulls] == [(False, False), (True, True)]


def test_a_suppressed_recipient_beyond_the_first_lookup_is_still_refused(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    # 300 addresses at 300 domains are 600 rules: the suppression lookup that travels with
    # the tenant's policy takes the first 500 (sorted), a second query the rest.
    mail.suppressions.add(Partition(DEFAULT_TENANT, "live"), SuppressionIn(address="z@zz.example"))
    items = [{"to": [f"u{n}@d{n}.example"]} for n in range(299)] + [{"to": ["z@zz.example"]}]
    outcome = mail.sending.send(make_caller(), batch(*items))
    assert [(i.index, i.error.code) for i in outcome.errors if i.error] == [
        (299, "suppressed_recipient")
    ]
