"""Acceptance of `POST /v1/mail/send`: validate → policy → suppressions → quota → outbox.

One transaction holds the outbox rows, their first delivery events, the quota spent, the
usage event and the Idempotency-Key record, so "202" means all of them are durable and a
crash can lose none of them alone. Denials write their usage event in a transaction of
their own, after the send's transaction was rolled back.

Batches are all-or-nothing unless the caller asks for `partial`, in which case the answer
lists, item by item, which messages were accepted and which were refused and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.errors import KeyguardError, RateLimited
from keyguard.mail import domains
from keyguard.mail.addresses import Address, parse_address
from keyguard.mail.audience import suppressions
from keyguard.mail.content import templates
from keyguard.mail.content.prepare import Prepared, prepare
from keyguard.mail.content.raw import prepare_raw
from keyguard.mail.schemas import BatchIn, MessageIn, SendIn
from keyguard.mail.sending import idempotency, outbox, policy, quota
from keyguard.mail.usage import Caller, event_for, record, store
from keyguard.storage import together, transactions_for
from keyguard.usage import UsageRecord

Notify = Callable[[], None]


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    id: str | None = None
    status: str = "rejected"
    error: KeyguardError | None = None

    def to_json(self) -> dict[str, Any]:
        if self.error is None:
            return {"id": self.id, "status": self.status}
        return {
            "index": self.index,
            "status": "rejected",
            "code": self.error.code,
            "detail": self.error.message,
        }


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """The 202 answer (`body`), or `refused` with the reasons: nothing was accepted."""

    batch: bool
    items: tuple[ItemResult, ...] = ()
    refused: bool = False
    replayed_body: dict[str, Any] | None = None

    @property
    def replayed(self) -> bool:
        return self.replayed_body is not None

    @property
    def errors(self) -> list[ItemResult]:
        return [i for i in self.items if i.error is not None]

    @property
    def first_error(self) -> KeyguardError:
        error = self.errors[0].error
        assert error is not None  # noqa: S101 - errors() keeps only items with one
        return error

    def body(self) -> dict[str, Any]:
        if self.replayed_body is not None:
            return self.replayed_body
        return {"messages": [item.to_json() for item in self.items]}


class _Refused(Exception):
    """Internal: rolls the send's transaction back when an all-or-nothing batch fails."""


@dataclass
class _Attempt:
    caller: Caller
    items: Sequence[MessageIn]
    batch: bool
    partial: bool
    now: datetime
    results: list[Prepared | KeyguardError] = field(default_factory=list)

    @classmethod
    def of(cls, caller: Caller, request: SendIn, now: datetime) -> _Attempt:
        if isinstance(request, BatchIn):
            return cls(caller, request.messages, True, request.partial, now)
        return cls(caller, [request], False, False, now)


class SendingService:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, on_accepted: Notify | None = None
    ) -> None:
        self._sessions = sessions
        # Sends' write transactions: shared by concurrent sends on SQLite (group commit).
        self.writes = transactions_for(sessions)
        self._clock = clock
        self._listeners: list[Notify] = [on_accepted] if on_accepted else []
        # Accepted messages by status (queued, sandboxed) and refusals by code, for /metrics.
        self.accepted: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def add_listener(self, listener: Notify) -> None:
        """Called after a commit that queued mail (the in-process worker wakes up)."""
        self._listeners.append(listener)

    def notify(self) -> None:
        for listener in self._listeners:
            listener()

    def send(
        self, caller: Caller, request: SendIn, idempotency_key: str | None = None
    ) -> SendOutcome:
        attempt = _Attempt.of(caller, request, self._clock())
        request_hash = None
        if idempotency_key is not None:
            idempotency.check_key(idempotency_key)
            request_hash = idempotency.fingerprint(request)
            replay = self._replay(caller, idempotency_key, request_hash, attempt.now)
            if replay is not None:
                return SendOutcome(attempt.batch, replayed_body=replay)

        def accept(session: Session) -> SendOutcome:
            outcome = self._accept(session, attempt)
            if idempotency_key is not None and request_hash is not None:
                self._remember(session, attempt, idempotency_key, request_hash, outcome)
            return outcome

        try:
            outcome = self.writes.run(accept)
        except _Refused:
            outcome = SendOutcome(attempt.batch, tuple(_items(attempt.results)), refused=True)
            record(self._sessions, self._refusal_events(attempt, outcome))
        except (IntegrityError, idempotency.AnsweredMeanwhile):
            if idempotency_key is None or request_hash is None:
                raise
            # A concurrent request with the same key committed first: answer as it did.
            replay = self._replay(caller, idempotency_key, request_hash, attempt.now)
            if replay is None:
                raise
            return SendOutcome(attempt.batch, replayed_body=replay)
        self._count(outcome)
        if not outcome.refused:
            self.notify()
        return outcome

    def _count(self, outcome: SendOutcome) -> None:
        for item in outcome.items:
            if item.error is not None:
                self.refused[item.error.code] += 1
            elif not outcome.refused:
                self.accepted[item.status] += 1

    def accept_raw(
        self, caller: Caller, sender: Address, recipients: Sequence[Address], data: bytes
    ) -> outbox.Enqueued:
        """SMTP submission: the client's MIME, the envelope's sender and recipients."""
        key, now = caller.key, self._clock()

        def accept(session: Session) -> outbox.Enqueued:
            rules = {rule for r in recipients for rule in (r.key, f"@{r.domain}")}
            tenant, blocked = domains.policy_and_suppressed(session, key.tenant_id, key.env, rules)
            prepared = prepare_raw(
                data,
                sender=sender,
                recipients=recipients,
                restrictions=key.restrictions,
                tenant=tenant,
                now=now,
            )
            for recipient in recipients:
                policy.check_not_suppressed(recipient, blocked)
            quota.spend(session, key.id, key.restrictions.daily_quota, len(recipients), now)
            accepted = event_for(
                caller,
                now=now,
                outcome="ok",
                status=caller.accepted_status,
                sender=sender,
                recipients=recipients,
                extra={"messages": 1},
            )
            with together(session.connection()):
                [queued] = outbox.enqueue(
                    session,
                    tenant_id=key.tenant_id,
                    env=key.env,
                    key_id=key.id,
                    tenant=tenant,
                    messages=[prepared],
                    now=now,
                )
                store(session, [accepted])
            return queued

        try:
            queued = self.writes.run(accept)
        except KeyguardError as error:
            self.refused[error.code] += 1
            self.record_denial(caller, error, sender=sender, recipients=recipients)
            raise
        self.accepted[queued.state] += 1
        self.notify()
        return queued

    def record(self, events: Sequence[UsageRecord]) -> None:
        """Usage events that belong to no send (authentication failures over SMTP)."""
        record(self._sessions, events)

    def tenant_policy(self, tenant_id: str) -> policy.TenantMailPolicy:
        with self._sessions() as session:
            return domains.tenant_policy(session, tenant_id)

    def check_not_suppressed(self, caller: Caller, recipient: Address) -> None:
        """One recipient against the suppression list (SMTP checks each RCPT TO alone)."""
        key = caller.key
        rules = {recipient.key, f"@{recipient.domain}"}
        with self._sessions() as session:
            blocked = suppressions.suppressed_among(session, key.tenant_id, key.env, rules)
        policy.check_not_suppressed(recipient, blocked)

    def record_denial(
        self,
        caller: Caller,
        error: KeyguardError,
        *,
        sender: Address | None = None,
        recipients: Sequence[Address] = (),
    ) -> None:
        """The usage event of a refusal, in its own transaction (outcome "ok" when the
        refusal was about malformed input rather than policy)."""
        extra = {"code": error.code}
        event = event_for(
            caller,
            now=self._clock(),
            outcome=policy.usage_outcome(error) or "ok",
            status=caller.status_of(error),
            sender=sender,
            recipients=recipients,
            extra=extra,
        )
        record(self._sessions, [event])

    # -- the transaction -------------------------------------------------------------------

    def _accept(self, session: Session, attempt: _Attempt) -> SendOutcome:
        key = attempt.caller.key
        # Recipients are parsed before the first read, so that the suppression lookup
        # travels with the tenant's policy (one round trip instead of two); prepare() reuses
        # these parses and still refuses the addresses that did not parse.
        parsed, rules = _parsed_addresses(attempt.items)
        tenant, blocked = domains.policy_and_suppressed(session, key.tenant_id, key.env, rules)
        refs = {item.template for item in attempt.items if item.template}
        loaded = templates.load_for_send(session, key.tenant_id, key.env, refs)
        for item in attempt.items:
            try:
                attempt.results.append(
                    prepare(
                        item,
                        restrictions=key.restrictions,
                        tenant=tenant,
                        templates=loaded,
                        now=attempt.now,
                        parsed=parsed,
                    )
                )
            except KeyguardError as error:
                attempt.results.append(error)
        _check_suppressions(attempt, blocked)
        self._spend_quota(session, attempt)
        if any(isinstance(r, KeyguardError) for r in attempt.results) and not attempt.partial:
            raise _Refused
        accepted = [r for r in attempt.results if isinstance(r, Prepared)]
        with together(session.connection()):  # the outbox rows and the usage event: one trip
            queued = outbox.enqueue(
                session,
                tenant_id=key.tenant_id,
                env=key.env,
                key_id=key.id,
                tenant=tenant,
                messages=accepted,
                now=attempt.now,
            )
            states = {q.id: q.state for q in queued}
            outcome = SendOutcome(attempt.batch, tuple(_items(attempt.results, states)))
            store(session, self._accept_events(attempt, accepted, outcome))
        return outcome

    def _spend_quota(self, session: Session, attempt: _Attempt) -> None:
        key = attempt.caller.key
        limit = key.restrictions.daily_quota
        if limit is None:
            return
        if not attempt.partial and any(isinstance(r, KeyguardError) for r in attempt.results):
            return  # refused anyway: do not lock the counter for nothing
        window = quota.open_window(session, key.id, limit, attempt.now)
        for index, result in enumerate(attempt.results):
            if isinstance(result, Prepared):
                try:
                    window.take(len(result.recipients))
                except RateLimited as error:
                    attempt.results[index] = error
        quota.commit_window(session, window)

    # -- usage events ----------------------------------------------------------------------

    def _accept_events(
        self, attempt: _Attempt, accepted: Sequence[Prepared], outcome: SendOutcome
    ) -> list[UsageRecord]:
        caller = attempt.caller
        recipients = [r for p in accepted for r in p.recipients]
        extra: dict[str, Any] = {"messages": len(accepted)}
        if outcome.errors:
            extra["rejected"] = len(outcome.errors)
        events = [
            event_for(
                caller,
                now=attempt.now,
                outcome="ok",
                status=caller.accepted_status,
                sender=accepted[0].sender if accepted else None,
                recipients=recipients,
                extra=extra,
            )
        ]
        return events + self._denial_events(attempt, outcome, caller.accepted_status)

    def _refusal_events(self, attempt: _Attempt, outcome: SendOutcome) -> list[UsageRecord]:
        status = attempt.caller.status_of(outcome.first_error)
        events = self._denial_events(attempt, outcome, status)
        if events:
            return events
        # Refused for malformed input only: the key was fine, the request was not.
        extra = {"code": outcome.first_error.code, "rejected": len(outcome.errors)}
        return [
            event_for(attempt.caller, now=attempt.now, outcome="ok", status=status, extra=extra)
        ]

    def _denial_events(
        self, attempt: _Attempt, outcome: SendOutcome, status: int
    ) -> list[UsageRecord]:
        """One usage event per policy denial (sender, recipient, suppression, quota)."""
        events = []
        for item in outcome.errors:
            assert item.error is not None  # noqa: S101 - errors() keeps only items with one
            kind = policy.usage_outcome(item.error)
            if kind is None:
                continue
            message = attempt.items[item.index]
            events.append(
                event_for(
                    attempt.caller,
                    now=attempt.now,
                    outcome=kind,
                    status=status,
                    sender=_sender_of(message),
                    recipients=_recipients_of(message),
                    extra={"code": item.error.code, "index": item.index},
                )
            )
        return events

    # -- idempotency -----------------------------------------------------------------------

    def _remember(
        self,
        session: Session,
        attempt: _Attempt,
        idem_key: str,
        request_hash: str,
        outcome: SendOutcome,
    ) -> None:
        key = attempt.caller.key
        idempotency.remember(
            session,
            tenant_id=key.tenant_id,
            env=key.env,
            key=idem_key,
            request_hash=request_hash,
            status=attempt.caller.accepted_status,
            body=outcome.body(),
            now=attempt.now,
        )

    def _replay(
        self, caller: Caller, idem_key: str, request_hash: str, now: datetime
    ) -> dict[str, Any] | None:
        key = caller.key
        with self._sessions.begin() as session:
            found = idempotency.stored_answer(
                session,
                tenant_id=key.tenant_id,
                env=key.env,
                key=idem_key,
                request_hash=request_hash,
                now=now,
            )
            if found is None:
                return None
            status, body = found
            replayed = event_for(
                caller, now=now, outcome="ok", status=status, extra={"idempotent_replay": True}
            )
            store(session, [replayed])
            return body


def _items(
    results: Sequence[Prepared | KeyguardError], states: dict[str, str] | None = None
) -> list[ItemResult]:
    items = []
    for index, result in enumerate(results):
        if isinstance(result, KeyguardError):
            items.append(ItemResult(index, error=result))
        else:
            status = (states or {}).get(result.id, "queued")
            items.append(ItemResult(index, result.id, status))
    return items


def _check_suppressions(attempt: _Attempt, blocked: set[str]) -> None:
    """Refuse the prepared messages with a suppressed recipient (`blocked`: the suppressed
    rules among every recipient of the request)."""
    if not blocked:
        return
    for index, result in enumerate(attempt.results):
        if isinstance(result, Prepared):
            try:
                for recipient in result.recipients:
                    policy.check_not_suppressed(recipient, blocked)
            except KeyguardError as error:
                attempt.results[index] = error


def _parsed_addresses(items: Sequence[MessageIn]) -> tuple[dict[str, Address], set[str]]:
    """Every address of the request that parses, by its text (a batch's messages mostly share
    their sender: parsed once), and the suppression rules of its recipients."""
    parsed: dict[str, Address] = {}
    rules: set[str] = set()
    for message in items:
        for value in (message.sender, *message.to, *message.cc, *message.bcc):
            if value not in parsed:
                try:
                    parsed[value] = parse_address(value)
                except KeyguardError:
                    continue
        for value in (*message.to, *message.cc, *message.bcc):
            address = parsed.get(value)
            if address is not None:
                rules.update((address.key, f"@{address.domain}"))
    return parsed, rules


def _sender_of(message: MessageIn) -> Address | None:
    try:
        return parse_address(message.sender, "from")
    except KeyguardError:
        return None


def _recipients_of(message: MessageIn) -> list[Address]:
    found = []
    for value in [*message.to, *message.cc, *message.bcc]:
        try:
            found.append(parse_address(value))
        except KeyguardError:
            continue
    return found
