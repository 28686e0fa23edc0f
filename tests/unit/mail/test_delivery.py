"""The delivery worker against real loopback SMTP sinks: TLS rules, reuse, retries, leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from keyguard.clock import ManualClock
from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.mail.models import DeliveryEvent, Message, Suppression
from keyguard.mail.partition import Partition
from keyguard.mail.schemas import MessageIn
from keyguard.mail.sending import outbox
from keyguard.mail.sending.outbox import RetryPolicy
from keyguard.mail.service import MailService
from keyguard.mail.transport.delivery import DeliveryWorker, WorkerConfig
from keyguard.mail.transport.relay import RelayConfig
from keyguard.runtime import Runtime
from tests.certificates import make_certificate
from tests.functional.mail.sinks import Sink, running_sink
from tests.unit.mail.conftest import SENDER, MakeCaller


def plain_relay(sink: Sink) -> RelayConfig:
    return RelayConfig(host="127.0.0.1", port=sink.port, implicit_tls=False, require_tls=False)


def worker_for(runtime: Runtime, relay: RelayConfig, **config: object) -> DeliveryWorker:
    return DeliveryWorker(
        runtime.sessions,
        runtime.clock,
        relay,
        config=WorkerConfig(**config),  # type: ignore[arg-type]
    )


def deliver_once(worker: DeliveryWorker) -> int:
    """One claim-deliver-complete round in a fresh event loop, connections closed after."""

    async def once() -> int:
        try:
            return await worker.run_once()
        finally:
            await worker.close()

    return asyncio.run(once())


def queue(mail: MailService, make_caller: MakeCaller, *to: str, count: int = 1) -> list[str]:
    caller = make_caller()
    ids = []
    for n in range(count):
        item = MessageIn.model_validate(
            {"from": SENDER, "to": list(to), "subject": f"Hello {n}", "text": "Hi there."}
        )
        outcome = mail.sending.send(caller, item)
        ids.append(outcome.items[0].id)
    return [i for i in ids if i]


def states(runtime: Runtime) -> dict[str, str]:
    with runtime.sessions() as session:
        return {m.id: m.state for m in session.scalars(select(Message))}


def test_a_live_message_reaches_the_sink_byte_for_byte(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    [message_id] = queue(mail, make_caller, "a@example.com")
    with runtime.sessions() as session:
        stored = session.get(Message, message_id)
        assert stored is not None
        mime = stored.mime
    with running_sink() as sink:
        assert deliver_once(worker_for(runtime, plain_relay(sink))) == 1
    [received] = sink.messages
    assert received.sender == SENDER
    assert received.rcpt == ["a@example.com"]
    assert received.data == mime
    assert states(runtime) == {message_id: "sent"}


def test_live_mode_delivers_over_starttls_with_a_verified_certificate(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller, tmp_path: Path
) -> None:
    certificate = make_certificate(tmp_path)
    queue(mail, make_caller, "a@example.com")
    with running_sink(certificate=certificate) as sink:
        relay = RelayConfig(
            "127.0.0.1", sink.port, implicit_tls=False, require_tls=True, ca_file=certificate.cert
        )
        deliver_once(worker_for(runtime, relay))
    [received] = sink.messages
    assert received.tls


def test_smtps_relays_get_tls_from_the_first_byte(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller, tmp_path: Path
) -> None:
    certificate = make_certificate(tmp_path)
    queue(mail, make_caller, "a@example.com")
    with running_sink(certificate=certificate, implicit_tls=True) as sink:
        relay = RelayConfig(
            "127.0.0.1", sink.port, implicit_tls=True, require_tls=True, ca_file=certificate.cert
        )
        assert deliver_once(worker_for(runtime, relay)) == 1
    assert len(sink.messages) == 1


def test_live_mode_refuses_a_relay_whose_certificate_it_cannot_verify(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller, tmp_path: Path
) -> None:
    [message_id] = queue(mail, make_caller, "a@example.com")
    with running_sink(certificate=make_certificate(tmp_path)) as sink:
        relay = RelayConfig("127.0.0.1", sink.port, implicit_tls=False, require_tls=True)
        deliver_once(worker_for(runtime, relay))
    assert sink.messages == []
    assert states(runtime) == {message_id: "deferred"}


def test_live_mode_sends_nothing_to_a_relay_without_starttls(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    [message_id] = queue(mail, make_caller, "a@example.com")
    with running_sink() as sink:
        relay = RelayConfig("127.0.0.1", sink.port, implicit_tls=False, require_tls=True)
        deliver_once(worker_for(runtime, relay))
    assert sink.messages == []
    assert states(runtime) == {message_id: "deferred"}


def test_one_connection_carries_many_messages(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    queue(mail, make_caller, "a@example.com", count=10)
    with running_sink() as sink:
        deliver_once(worker_for(runtime, plain_relay(sink), connections=1))
    assert len(sink.messages) == 10
    assert sink.handler.sessions == 1


def test_a_temporary_refusal_is_retried_later_with_backoff(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller, clock: ManualClock
) -> None:
    [message_id] = queue(mail, make_caller, "busy@example.com")
    retry = RetryPolicy(base=timedelta(seconds=30), max_attempts=3)
    with running_sink(refuse={"busy@example.com": "451 4.3.0 try later"}) as sink:
        worker = worker_for(runtime, plain_relay(sink), retry=retry)

        async def scenario() -> list[object]:
            seen: list[object] = [await worker.run_once(), states(runtime)[message_id]]
            seen.append(await worker.run_once())  # not due yet
            clock.advance(timedelta(seconds=40))
            sink.handler.refuse.clear()
            seen.append(await worker.run_once())
            await worker.close()
            return seen

        assert asyncio.run(scenario()) == [1, "deferred", 0, 1]
    assert states(runtime) == {message_id: "sent"}
    assert len(sink.messages) == 1


def test_a_message_that_keeps_failing_ends_in_the_dead_letter_state(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller, clock: ManualClock
) -> None:
    [message_id] = queue(mail, make_caller, "busy@example.com")
    retry = RetryPolicy(base=timedelta(seconds=1), max_attempts=2)
    with running_sink(refuse={"busy@example.com": "451 4.3.0 try later"}) as sink:
        worker = worker_for(runtime, plain_relay(sink), retry=retry)

        async def scenario() -> None:
            await worker.run_once()
            clock.advance(timedelta(minutes=1))
            await worker.run_once()
            await worker.close()

        asyncio.run(scenario())
    assert states(runtime) == {message_id: "dead"}
    with runtime.sessions() as session:
        kinds = session.scalars(
            select(DeliveryEvent.type).where(DeliveryEvent.message_id == message_id)
        ).all()
    assert kinds == ["queued", "deferred", "dead"]


def test_a_hard_bounce_kills_the_message_and_suppresses_the_address(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    [message_id] = queue(mail, make_caller, "gone@example.com")
    with running_sink(refuse={"gone@example.com": "550 5.1.1 no such user"}) as sink:
        deliver_once(worker_for(runtime, plain_relay(sink)))
    assert states(runtime) == {message_id: "dead"}
    with runtime.sessions() as session:
        [suppressed] = session.scalars(select(Suppression)).all()
    assert (suppressed.address, suppressed.reason) == ("gone@example.com", "bounce")
    status = mail.messages.get(Partition(DEFAULT_TENANT, "live"), message_id)
    assert [e["type"] for e in status["events"]] == ["queued", "bounced", "dead"]


def test_some_recipients_refused_is_still_sent_to_the_others(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    [message_id] = queue(mail, make_caller, "ok@example.com", "gone@example.com")
    with running_sink(refuse={"gone@example.com": "550 5.1.1 no such user"}) as sink:
        deliver_once(worker_for(runtime, plain_relay(sink)))
    assert states(runtime) == {message_id: "sent"}
    assert [m.rcpt for m in sink.messages] == [["ok@example.com"]]


def test_an_unreachable_relay_defers_without_losing_the_message(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    [message_id] = queue(mail, make_caller, "a@example.com")
    with running_sink() as sink:
        port = sink.port
    relay = RelayConfig("127.0.0.1", port, implicit_tls=False, require_tls=False, timeout=5)
    deliver_once(worker_for(runtime, relay))
    assert states(runtime) == {message_id: "deferred"}


def test_an_expired_lease_lets_another_worker_take_over_and_fences_the_first(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller, clock: ManualClock
) -> None:
    [message_id] = queue(mail, make_caller, "a@example.com")
    lease = timedelta(minutes=5)
    with runtime.sessions.begin() as session:
        [stale] = outbox.claim(session, owner="dead-worker", limit=10, lease=lease, now=clock())
    clock.advance(lease + timedelta(seconds=1))
    with running_sink() as sink:
        deliver_once(worker_for(runtime, plain_relay(sink)))
    assert len(sink.messages) == 1
    with runtime.sessions.begin() as session:
        late = outbox.DeliveryResult(stale, delivered=[("a@example.com", 250, "ok")])
        written = outbox.complete(session, [late], now=clock(), retry=RetryPolicy(), jitter=0.5)
    assert written == {}  # the first worker's claim token no longer matches
    assert states(runtime) == {message_id: "sent"}


def test_sandboxed_messages_are_never_claimed(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    caller = make_caller(env="test")
    item = MessageIn.model_validate(
        {"from": SENDER, "to": ["a@example.com"], "subject": "x", "text": "y"}
    )
    [accepted] = mail.sending.send(caller, item).items
    assert accepted.id is not None
    assert states(runtime) == {accepted.id: "sandboxed"}
    with running_sink() as sink:
        assert deliver_once(worker_for(runtime, plain_relay(sink))) == 0
    assert sink.messages == []
    assert states(runtime) == {accepted.id: "sandboxed"}  # stored for the sandbox, still unclaimed


def test_a_claim_takes_at_most_its_limit_and_never_the_same_message_twice(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller, clock: ManualClock
) -> None:
    queue(mail, make_caller, "a@example.com", count=7)
    lease = timedelta(minutes=5)
    with runtime.sessions.begin() as session:
        first = outbox.claim(session, owner="a", limit=5, lease=lease, now=clock())
    with runtime.sessions.begin() as session:
        second = outbox.claim(session, owner="b", limit=5, lease=lease, now=clock())
    assert (len(first), len(second)) == (5, 2)
    assert not {c.id for c in first} & {c.id for c in second}


# -- mail of revoked keys (the tenant's "hold mail of revoked keys", on by default) -----------


def test_queued_mail_of_a_key_revoked_before_delivery_is_held(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    caller = make_caller()
    [message_id] = queue(mail, lambda: caller, "a@example.com")
    runtime.keys.revoke(OPERATOR, caller.key.id, "leaked")
    with running_sink() as sink:
        deliver_once(worker_for(runtime, plain_relay(sink)))
    assert sink.messages == []
    assert states(runtime) == {message_id: "held"}
    with runtime.sessions() as session:
        kinds = session.scalars(
            select(DeliveryEvent.type).where(DeliveryEvent.message_id == message_id)
        ).all()
    assert "held" in kinds


def test_a_tenant_may_choose_to_deliver_mail_of_revoked_keys(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    mail.domains.set_hold_revoked_mail(DEFAULT_TENANT, False, OPERATOR.id)
    caller = make_caller()
    [message_id] = queue(mail, lambda: caller, "a@example.com")
    runtime.keys.revoke(OPERATOR, caller.key.id)
    with running_sink() as sink:
        assert deliver_once(worker_for(runtime, plain_relay(sink))) == 1
    assert len(sink.messages) == 1
    assert states(runtime) == {message_id: "sent"}


def test_mail_of_a_key_rotated_out_is_still_delivered(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller, clock: ManualClock
) -> None:
    caller = make_caller()
    [message_id] = queue(mail, lambda: caller, "a@example.com")
    runtime.keys.rotate(OPERATOR, caller.key.id, timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    with running_sink() as sink:
        assert deliver_once(worker_for(runtime, plain_relay(sink))) == 1
    assert states(runtime) == {message_id: "sent"}
