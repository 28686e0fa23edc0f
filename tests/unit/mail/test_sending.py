"""Acceptance: policy before the outbox, one transaction, batches and idempotency."""

from __future__ import annotations

import base64
import threading
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from keyguard.errors import KeyguardError, NotFound
from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.mail.content.prepare import prepare
from keyguard.mail.limits import MAX_BATCH, MAX_MESSAGE_BYTES
from keyguard.mail.models import DeliveryEvent, Message, QuotaUsage
from keyguard.mail.partition import Partition
from keyguard.mail.schemas import BatchIn, MessageIn, SuppressionIn, TemplateIn
from keyguard.mail.sending.policy import TenantMailPolicy
from keyguard.mail.sending.service import SendOutcome
from keyguard.mail.service import MailService
from keyguard.policy.restrictions import Restrictions, build_restrictions
from keyguard.runtime import Runtime
from keyguard.usage.models import UsageEvent
from tests.conftest import START
from tests.unit.mail.conftest import SENDER, MakeCaller

LIVE = Partition(DEFAULT_TENANT, "live")


def message(**fields: Any) -> MessageIn:
    values: dict[str, Any] = {"from": SENDER, "to": ["a@example.com"], "subject": "Hi"}
    values["text"] = "Hello."
    values.update(fields)
    return MessageIn.model_validate(values)


def batch(*items: dict[str, Any], partial: bool = False) -> BatchIn:
    base = {"from": SENDER, "to": ["a@example.com"], "subject": "Hi", "text": "Hello."}
    return BatchIn.model_validate(
        {"messages": [{**base, **item} for item in items], "partial": partial}
    )


def outbox_ids(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        return sorted(session.scalars(select(Message.id)))


def usage(runtime: Runtime) -> list[tuple[str, int]]:
    with runtime.sessions() as session:
        return [(e.outcome, e.status) for e in session.scalars(select(UsageEvent))]


def refused_code(outcome: SendOutcome) -> str:
    assert outcome.refused
    return outcome.first_error.code


# -- one message -----------------------------------------------------------------------------


def test_an_accepted_message_is_in_the_outbox_with_its_usage_event(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    caller = make_caller()
    outcome = mail.sending.send(caller, message(to=["a@example.com", "b@other.example"]))
    assert outcome.body() == {"messages": [{"id": outcome.items[0].id, "status": "queued"}]}
    assert outbox_ids(runtime) == [outcome.items[0].id]
    with runtime.sessions() as session:
        [event] = session.scalars(select(UsageEvent)).all()
        [delivery_event] = session.scalars(select(DeliveryEvent)).all()
    assert (event.outcome, event.status, event.recipients, event.sender) == (
        "ok",
        202,
        2,
        SENDER,
    )
    assert event.recipient_domains == ["example.com", "other.example"]
    assert event.key_id == caller.key.id
    assert delivery_event.type == "queued"


DENIALS = {
    "unregistered domain": ({"from": "news@unregistered.example"}, {}, "denied_sender"),
    "domain not on the key": ({}, {"sender_domains": ["news.brand.example"]}, "denied_sender"),
    "recipient not allowed": (
        {"to": ["x@elsewhere.example"]},
        {"recipients": ["@example.com"]},
        "denied_recipient",
    ),
}


@pytest.mark.parametrize("case", DENIALS.values(), ids=DENIALS.keys())
def test_policy_denials_queue_nothing_and_leave_a_usage_event(
    runtime: Runtime,
    mail: MailService,
    make_caller: MakeCaller,
    case: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    fields, key_restrictions, code = case
    caller = make_caller(restrictions=build_restrictions(**key_restrictions))
    assert refused_code(mail.sending.send(caller, message(**fields))) == code
    assert outbox_ids(runtime) == []
    assert [kind for kind, _ in usage(runtime)] == [code]


def test_a_suppressed_recipient_is_refused(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    mail.suppressions.add(LIVE, SuppressionIn(address="A@Example.com"))
    outcome = mail.sending.send(make_caller(), message())
    assert refused_code(outcome) == "suppressed_recipient"
    assert usage(runtime) == [("denied_recipient", 400)]


def test_a_suppressed_domain_covers_every_address_in_it(
    mail: MailService, make_caller: MakeCaller
) -> None:
    mail.suppressions.add(LIVE, SuppressionIn(address="@example.com"))
    assert refused_code(mail.sending.send(make_caller(), message())) == "suppressed_recipient"


def test_the_daily_quota_counts_recipients_and_refuses_past_it(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    caller = make_caller(restrictions=build_restrictions(daily_quota=3))
    assert not mail.sending.send(caller, message(to=["a@example.com", "b@example.com"])).refused
    outcome = mail.sending.send(caller, message(to=["c@example.com", "d@example.com"]))
    assert refused_code(outcome) == "quota_exceeded"
    assert not mail.sending.send(caller, message(to=["c@example.com"])).refused
    with runtime.sessions() as session:
        assert session.scalars(select(QuotaUsage.used)).one() == 3
    assert ("quota_exceeded", 400) in usage(runtime)


BAD_INPUT = [
    ({"subject": "Hi\r\nBcc: victim@example.com"}, "header_injection"),
    ({"headers": {"X-Tag": "a\nb"}}, "header_injection"),
    ({"to": ["a@example.com\r\nBcc: x@example.com"]}, "header_injection"),
    ({"headers": {"Bcc": "x@example.com"}}, "reserved_header"),
    ({"headers": {"Resent-From": "ceo@bank.example"}}, "reserved_header"),  # as over SMTP
    ({"headers": {"Resent-Sender": "ceo@bank.example"}}, "reserved_header"),
    ({"headers": {"Bad Name": "x"}}, "invalid_header"),
    ({"to": ["not-an-address"]}, "invalid_address"),
    ({"to": []}, "no_recipients"),
    ({"to": [f"u{n}@example.com" for n in range(51)]}, "too_many_recipients"),
    ({"text": None}, "no_content"),
    ({"template": "nope", "subject": None, "text": None}, "unknown_template"),
    ({"template": "x"}, "template_conflict"),
    ({"attachments": [{"filename": "a", "content": "not base64!"}]}, "invalid_attachment"),
    (
        {"attachments": [{"filename": "a", "content": "", "content_type": "a\r\nb"}]},
        "invalid_attachment",
    ),
]


@pytest.mark.parametrize(("fields", "code"), BAD_INPUT)
def test_bad_input_is_refused_with_a_clear_code(fields: dict[str, Any], code: str) -> None:
    with pytest.raises(KeyguardError) as refused:
        prepare(
            message(**fields),
            restrictions=Restrictions(),
            tenant=TenantMailPolicy(frozenset({"brand.example"}), frozenset()),
            templates={},
            now=START,
        )
    assert refused.value.code == code


def test_bad_input_queues_nothing_and_is_recorded_as_an_allowed_request(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    outcome = mail.sending.send(make_caller(), message(subject="a\nb"))
    assert refused_code(outcome) == "header_injection"
    assert outbox_ids(runtime) == []
    assert usage(runtime) == [("ok", 400)]  # authenticated and allowed; the input was bad


def test_an_oversized_message_is_refused_before_decoding_it(
    mail: MailService, make_caller: MakeCaller
) -> None:
    content = base64.b64encode(b"\0" * (MAX_MESSAGE_BYTES + 1)).decode()
    outcome = mail.sending.send(
        make_caller(), message(attachments=[{"filename": "big.bin", "content": content}])
    )
    assert refused_code(outcome) == "message_too_large"


def test_attachments_are_accepted_within_the_caps(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    content = base64.b64encode(b"%PDF-1.7 ...").decode()
    attachment = {"filename": "a.pdf", "content": content, "content_type": "application/pdf"}
    outcome = mail.sending.send(make_caller(), message(attachments=[attachment]))
    with runtime.sessions() as session:
        stored = session.get(Message, outcome.items[0].id)
        assert stored is not None
    assert b'filename="a.pdf"' in stored.mime


# -- templates -------------------------------------------------------------------------------


def test_a_template_is_rendered_with_the_variables(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    mail.templates.create(
        LIVE,
        TemplateIn(name="welcome", subject="Hi {{name}}", html="<b>{{ name }}</b>", text=None),
    )
    outcome = mail.sending.send(
        make_caller(),
        message(template="welcome", subject=None, text=None, variables={"name": "<Ada>"}),
    )
    with runtime.sessions() as session:
        stored = session.get(Message, outcome.items[0].id)
        assert stored is not None
    assert stored.subject == "Hi <Ada>"
    assert b"<b>&lt;Ada&gt;</b>" in stored.mime


def test_a_template_variable_left_out_is_refused(
    mail: MailService, make_caller: MakeCaller
) -> None:
    mail.templates.create(LIVE, TemplateIn(name="welcome", subject="Hi {{name}}", text="x"))
    outcome = mail.sending.send(make_caller(), message(template="welcome", subject=None, text=None))
    assert refused_code(outcome) == "missing_variable"


def test_a_template_of_another_environment_is_unknown(
    mail: MailService, make_caller: MakeCaller
) -> None:
    mail.templates.create(LIVE, TemplateIn(name="welcome", subject="Hi", text="x"))
    outcome = mail.sending.send(
        make_caller(env="test"), message(template="welcome", subject=None, text=None)
    )
    assert refused_code(outcome) == "unknown_template"


# -- batches ---------------------------------------------------------------------------------


def test_a_batch_with_one_bad_item_accepts_nothing_and_says_which(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    outcome = mail.sending.send(
        make_caller(), batch({}, {"to": ["bad"]}, {}, {"from": "x@no.example"})
    )
    assert outcome.refused
    assert [(i.index, i.error.code) for i in outcome.errors if i.error] == [
        (1, "invalid_address"),
        (3, "denied_sender"),
    ]
    assert outbox_ids(runtime) == []
    assert usage(runtime) == [("denied_sender", 400)]


def test_a_partial_batch_lists_exactly_the_accepted_items(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    outcome = mail.sending.send(make_caller(), batch({}, {"to": ["bad"]}, {}, partial=True))
    body = outcome.body()["messages"]
    assert [item["status"] for item in body] == ["queued", "rejected", "queued"]
    assert body[1] == {
        "index": 1,
        "status": "rejected",
        "code": "invalid_address",
        "detail": "invalid email address 'bad'",
    }
    assert outbox_ids(runtime) == sorted([body[0]["id"], body[2]["id"]])


def test_a_partial_batch_stops_at_the_quota_item_by_item(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    caller = make_caller(restrictions=build_restrictions(daily_quota=2))
    outcome = mail.sending.send(caller, batch({}, {}, {}, partial=True))
    assert [i.status for i in outcome.items] == ["queued", "queued", "rejected"]
    assert len(outbox_ids(runtime)) == 2
    assert sorted(usage(runtime)) == [("ok", 202), ("quota_exceeded", 202)]


def test_a_full_batch_is_accepted_in_one_go(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    outcome = mail.sending.send(make_caller(), batch(*[{}] * MAX_BATCH))
    assert len(outcome.items) == MAX_BATCH and not outcome.errors
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == MAX_BATCH


def test_a_batch_over_the_limit_does_not_even_parse() -> None:
    with pytest.raises(ValidationError):
        batch(*[{}] * (MAX_BATCH + 1))


# -- idempotency -----------------------------------------------------------------------------


def test_a_retried_request_with_the_same_idempotency_key_is_answered_again(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    caller = make_caller()
    first = mail.sending.send(caller, message(), idempotency_key="order-42")
    again = mail.sending.send(caller, message(), idempotency_key="order-42")
    assert again.replayed and again.body() == first.body()
    assert len(outbox_ids(runtime)) == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(
    mail: MailService, make_caller: MakeCaller
) -> None:
    caller = make_caller()
    mail.sending.send(caller, message(), idempotency_key="order-42")
    with pytest.raises(Exception, match="different request") as refused:
        mail.sending.send(caller, message(subject="Other"), idempotency_key="order-42")
    assert getattr(refused.value, "code", None) == "idempotency_key_reused"


def test_idempotency_keys_are_per_environment(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    mail.sending.send(make_caller(), message(), idempotency_key="k")
    other = mail.sending.send(make_caller(env="test"), message(), idempotency_key="k")
    assert not other.replayed
    assert len(outbox_ids(runtime)) == 2


# -- environments ----------------------------------------------------------------------------


def test_test_mail_is_sandboxed_unless_the_recipient_is_internal(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    mail.domains.add_internal(DEFAULT_TENANT, "qa@brand.example", OPERATOR.id)
    caller = make_caller(env="test")
    outside = mail.sending.send(caller, message())
    mixed = mail.sending.send(caller, message(to=["a@example.com", "qa@brand.example"]))
    assert outside.items[0].status == "sandboxed"
    assert mixed.items[0].status == "queued"
    with runtime.sessions() as session:
        stored = session.get(Message, mixed.items[0].id)
        assert stored is not None
    assert (stored.rcpt, stored.sandboxed) == (["qa@brand.example"], True)
    sandbox = mail.sandbox.page(Partition(DEFAULT_TENANT, "test"), limit=None, after=None)
    assert {m["id"] for m in sandbox["data"]} == {outside.items[0].id, mixed.items[0].id}


def test_a_test_key_never_sees_live_messages(mail: MailService, make_caller: MakeCaller) -> None:
    live = mail.sending.send(make_caller(), message())
    message_id = live.items[0].id
    assert message_id is not None
    assert mail.messages.get(LIVE, message_id)["status"] == "queued"
    with pytest.raises(NotFound):
        mail.messages.get(Partition(DEFAULT_TENANT, "test"), message_id)
    with pytest.raises(NotFound):
        mail.messages.get(Partition("other", "live"), message_id)


def test_the_sandbox_shows_a_captured_message_readably(
    mail: MailService, make_caller: MakeCaller
) -> None:
    outcome = mail.sending.send(make_caller(env="dev"), message(html="<p>Hello</p>"))
    message_id = outcome.items[0].id
    assert message_id is not None
    shown = mail.sandbox.get(Partition(DEFAULT_TENANT, "dev"), message_id)
    assert (shown["text"].strip(), shown["html"].strip()) == ("Hello.", "<p>Hello</p>")
    assert ["Subject", "Hi"] in shown["headers"]


def test_concurrent_twins_with_one_idempotency_key_queue_one_message(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    caller = make_caller()
    start = threading.Barrier(2)
    answers: list[dict[str, Any]] = []

    def twin() -> None:
        start.wait()
        answers.append(mail.sending.send(caller, message(), idempotency_key="twin").body())

    threads = [threading.Thread(target=twin) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 2 and answers[0] == answers[1]
    assert len(outbox_ids(runtime)) == 1


def test_concurrent_sends_never_spend_more_than_the_quota(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    caller = make_caller(restrictions=build_restrictions(daily_quota=5))
    start = threading.Barrier(8)
    refused: list[bool] = []

    def sender() -> None:
        start.wait()
        refused.append(mail.sending.send(caller, message()).refused)

    threads = [threading.Thread(target=sender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(refused) == [False] * 5 + [True] * 3
    assert len(outbox_ids(runtime)) == 5


def test_many_concurrent_sends_keep_every_answer_and_share_transactions_on_sqlite(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    callers = [make_caller() for _ in range(4)]
    start = threading.Barrier(16)
    outcomes: list[SendOutcome] = []

    def sender(number: int) -> None:
        start.wait()
        for round_ in range(5):
            caller = callers[(number + round_) % len(callers)]
            wrong = (number * 5 + round_) % 7 == 0  # a sender domain the tenant does not have
            letter = message(**({"from": "x@other.example"} if wrong else {}))
            outcomes.append(mail.sending.send(caller, letter))

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [o for o in outcomes if not o.refused]
    assert len(outcomes) == 80 and len(accepted) == 80 - 12  # 12 of the 80 numbers are 0 mod 7
    assert {refused_code(o) for o in outcomes if o.refused} == {"denied_sender"}
    assert outbox_ids(runtime) == sorted(o.items[0].id for o in accepted)  # type: ignore[misc]
    outcomes_recorded = sorted(outcome for outcome, _ in usage(runtime))
    assert outcomes_recorded == ["denied_sender"] * 12 + ["ok"] * 68
    groups = getattr(mail.sending.writes, "groups", None)
    if runtime.engine.dialect.name == "sqlite":
        assert groups is not None and groups < 68  # some sends shared a transaction
