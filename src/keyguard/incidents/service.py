"""IncidentService: open, contain, annotate, assign and resolve compromise cases.

::

    open ──contain──▶ contained ──resolve──▶ resolved
      └──────────────resolve──────────────────▲

Opening stops the key (revoked, or suspended for a quarantine) and, with `cascade`, revokes
every key it made down the chain. Each state change is one transaction holding the incident,
its timeline steps, the keys it stops and their audit events. After the commit this process's
caches drop the keys (KeyService.changed); other processes read the same audit events from
the change feed (keyguard.verification.invalidation) within a second. Then the Notifier hears
of it (a no-op until webhooks exist, keyguard.incidents.interfaces). A successor is issued
after the containment has committed: a vault that is slow or down must not delay a revocation.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyguard import audit
from keyguard.clock import Clock
from keyguard.errors import IllegalTransition, InvalidInput, KeyguardError, NotFound
from keyguard.incidents.blast import descendants
from keyguard.incidents.errors import IncidentClosed
from keyguard.incidents.interfaces import IncidentEvent, NoNotifier, Notifier
from keyguard.incidents.models import CONTAINED, OPEN, RESOLVED, Incident, IncidentStep
from keyguard.incidents.views import IncidentView, Opened, StepView, Successor
from keyguard.keys import ALPHABET
from keyguard.lifecycle import Actor, KeyService
from keyguard.logging import scrub
from keyguard.rotation import RotationService

log = logging.getLogger(__name__)

MAX_PAGE: Final = 500
MAX_TEXT: Final = 2000
SOURCES: Final = frozenset({"manual", "github", "report", "public"})


def new_incident_id() -> str:
    return "inc_" + "".join(secrets.choice(ALPHABET) for _ in range(16))


@dataclass(frozen=True, slots=True)
class OpenRequest:
    """What opening an incident asks for (already parsed)."""

    key_id: str
    reason: str
    quarantine: bool = False
    reissue: bool = False
    deliver: str | None = None
    cascade: bool = False
    owner: str | None = None
    source: str = "manual"
    source_url: str | None = None


class IncidentService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keys: KeyService,
        rotation: RotationService,
        clock: Clock,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self._rotation = rotation
        self._clock = clock
        self.notifier: Notifier = notifier or NoNotifier()

    # -- open ----------------------------------------------------------------------------

    def open(self, actor: Actor, request: OpenRequest) -> Opened:
        """Open an incident on a key: stop it (and its blast radius with `cascade`) in one
        transaction, then issue its successor when asked."""
        _check(request)
        (opened,) = self.open_many(actor, [request])
        if not request.reissue:
            return opened
        successor, error = self._reissue(actor, opened.incident, request.deliver)
        return Opened(self.show(actor, opened.incident.id), opened.stopped, successor, error)

    def open_many(
        self, actor: Actor, requests: Sequence[OpenRequest], *, timelines: bool = True
    ) -> list[Opened]:
        """One incident per request, every key stopped in one transaction (leak intake);
        without `timelines` the answers leave the steps out (one query less per incident)."""
        for request in requests:
            _check(request)
        now = self._clock()
        with self._sessions.begin() as session:
            # Reads here are of keys, never of the rows this loop adds: no flush before each
            # (the audit appends flush; a batch of 1,000 leaks is then a third faster).
            with session.no_autoflush:
                done = [self._open_in(session, actor, request, now) for request in requests]
            results = [
                Opened(self._view(session, row) if timelines else IncidentView.of(row), tuple(s))
                for row, s in done
            ]
        self._keys.changed(k for opened in results for k in opened.stopped)
        for opened in results:
            self._announce("incident.opened", opened.incident, opened.stopped)
        return results

    def _open_in(
        self, session: Session, actor: Actor, request: OpenRequest, now: datetime
    ) -> tuple[Incident, list[str]]:
        key = self._keys.find_in(session, actor, request.key_id)
        row = Incident(
            id=new_incident_id(),
            tenant_id=key.tenant_id,
            env=key.env,
            key_id=key.id,
            state=OPEN,
            response="quarantine" if request.quarantine else "revoke",
            reason=_text(request.reason) or "",
            source=request.source,
            source_url=_text(request.source_url),
            owner=_text(request.owner),
            opened_by=actor.id,
            opened_at=now,
        )
        session.add(row)
        radius = descendants(session, key.tenant_id, key.id)
        self._step(
            session,
            row,
            now,
            actor,
            "opened",
            key.id,
            note=row.reason,
            response=row.response,
            source=row.source,
            source_url=row.source_url,
            blast_radius=radius,
        )
        if row.owner:
            self._step(session, row, now, actor, "owner.assigned", None, owner=row.owner)
        stopped = self._stop(session, actor, row, [key.id], now, quarantine=request.quarantine)
        # Its own entry on the timeline; its audit record is the incident.opened event's.
        self._step(session, row, now, actor, "blast_radius", key.id, audited=False, keys=radius)
        if request.cascade:
            stopped += self._stop(session, actor, row, radius, now, cascade=True)
        return row, stopped

    def _stop(
        self,
        session: Session,
        actor: Actor,
        row: Incident,
        key_ids: Iterable[str],
        now: datetime,
        *,
        quarantine: bool = False,
        cascade: bool = False,
    ) -> list[str]:
        """Stop keys in the incident's transaction; return the ones whose state changed."""
        changed = []
        why = f"incident {row.id}" + (f": made by compromised key {row.key_id}" if cascade else "")
        for key_id in key_ids:
            before, view = self._keys.stop_in(
                session, actor, key_id, quarantine=quarantine, reason=why, now=now
            )
            after = view.state
            kind = ("cascade." if cascade else "key.") + after
            if before == after:
                self._step(session, row, now, actor, "key.unchanged", key_id, state=after)
                continue
            # The key's own audit event (key.revoked …) was written by the lifecycle.
            self._step(session, row, now, actor, kind, key_id, audited=False, was=before)
            changed.append(key_id)
        return changed

    def _reissue(
        self, actor: Actor, incident: IncidentView, deliver: str | None
    ) -> tuple[Successor | None, str | None]:
        """Issue the successor: into the vault the old key was delivered to (or `deliver`),
        else for the one-time display. A failure is recorded on the timeline, not raised:
        the key is already stopped, and the incident must say what did not happen."""
        try:
            if deliver is not None or self._rotation.delivery_of(incident.key_id) is not None:
                delivered = self._rotation.reissue_delivered(actor, incident.key_id, deliver)
                successor = Successor(delivered.key.id, delivered_to=delivered.target)
            else:
                created = self._keys.reissue(actor, incident.key_id)
                successor = Successor(created.view.id, key=created.key)
        except KeyguardError as error:
            self._change(actor, incident.id, "reissue.failed", note=error.message, code=error.code)
            return None, f"{error.message} [{error.code}]"
        self._change(
            actor,
            incident.id,
            "successor.issued",
            key_id=successor.id,
            delivered_to=successor.delivered_to,
        )
        return successor, None

    # -- state changes ---------------------------------------------------------------------

    def contain(
        self,
        actor: Actor,
        incident_id: str,
        *,
        note: str | None = None,
        cascade: bool = False,
        revoke: bool = False,
    ) -> IncidentView:
        """Mark the incident contained; `revoke` turns a quarantine into a revocation and
        `cascade` revokes the blast radius as it is now, in the same transaction."""
        now = self._clock()
        with self._sessions.begin() as session:
            row = self._incident(session, actor, incident_id, for_update=True)
            _open_only(row)
            if row.state == CONTAINED:
                raise IllegalTransition(f"incident {row.id} is contained already")
            stopped: list[str] = []
            if revoke and row.response == "quarantine":
                row.response = "revoke"
                stopped += self._stop(session, actor, row, [row.key_id], now)
            if cascade:
                radius = descendants(session, row.tenant_id, row.key_id)
                stopped += self._stop(session, actor, row, radius, now, cascade=True)
            row.state, row.contained_at = CONTAINED, now
            self._step(session, row, now, actor, "contained", None, note=_text(note))
            view = self._view(session, row)
        self._keys.changed(stopped)
        self._announce("incident.contained", view, stopped)
        return view

    def resolve(
        self, actor: Actor, incident_id: str, *, note: str | None = None, resume: bool = False
    ) -> IncidentView:
        """Close the case; `resume` gives a quarantined key back (a false alarm)."""
        now = self._clock()
        with self._sessions.begin() as session:
            row = self._incident(session, actor, incident_id, for_update=True)
            _open_only(row)
            resumed = []
            if resume:
                if row.response != "quarantine":
                    raise InvalidInput(
                        "only a quarantined key can be resumed; a revoked key stays revoked",
                        code="not_quarantined",
                        field="resume",
                    )
                self._keys.resume_in(session, actor, row.key_id, now=now)
                self._step(session, row, now, actor, "key.resumed", row.key_id, audited=False)
                resumed.append(row.key_id)
            if row.contained_at is None:
                row.contained_at = now
            row.state, row.resolved_at = RESOLVED, now
            self._step(session, row, now, actor, "resolved", None, note=_text(note))
            view = self._view(session, row)
        self._keys.changed(resumed)
        self._announce("incident.resolved", view, ())
        return view

    def note(self, actor: Actor, incident_id: str, text: str) -> IncidentView:
        """Add a note to the timeline (also after resolution, for the post-mortem)."""
        if not text.strip():
            raise InvalidInput("the note is empty", code="note_required", field="note")
        return self._change(actor, incident_id, "note", note=text)

    def assign(self, actor: Actor, incident_id: str, owner: str) -> IncidentView:
        """Give the incident an owner (a person or a team)."""
        if not owner.strip():
            raise InvalidInput("the owner is empty", code="owner_required", field="owner")
        now = self._clock()
        with self._sessions.begin() as session:
            row = self._incident(session, actor, incident_id, for_update=True)
            _open_only(row)
            row.owner = _text(owner)
            self._step(session, row, now, actor, "owner.assigned", None, owner=row.owner)
            return self._view(session, row)

    def _change(
        self,
        actor: Actor,
        incident_id: str,
        kind: str,
        *,
        note: str | None = None,
        key_id: str | None = None,
        **details: Any,
    ) -> IncidentView:
        """One timeline step in its own transaction (notes, the successor)."""
        now = self._clock()
        with self._sessions.begin() as session:
            row = self._incident(session, actor, incident_id, for_update=True)
            if key_id is not None and kind == "successor.issued":
                row.successor_id = key_id
            self._step(session, row, now, actor, kind, key_id, note=_text(note), **details)
            return self._view(session, row)

    # -- read ------------------------------------------------------------------------------

    def show(self, actor: Actor, incident_id: str) -> IncidentView:
        with self._sessions() as session:
            return self._view(session, self._incident(session, actor, incident_id))

    def list(
        self,
        actor: Actor,
        *,
        tenant_id: str | None = None,
        state: str | None = None,
        key_id: str | None = None,
        limit: int = 100,
    ) -> list[IncidentView]:
        """Incidents, newest first, without their timelines."""
        if state is not None and state not in (OPEN, CONTAINED, RESOLVED):
            raise InvalidInput(
                f"unknown state {state!r} (open, contained, resolved)",
                code="invalid_state",
                field="state",
            )
        tenant_id = actor.tenant_id or tenant_id
        query = select(Incident).order_by(Incident.opened_at.desc(), Incident.id.desc())
        if tenant_id is not None:
            query = query.where(Incident.tenant_id == tenant_id)
        if actor.env is not None:
            query = query.where(Incident.env == actor.env)
        if state is not None:
            query = query.where(Incident.state == state)
        if key_id is not None:
            query = query.where(Incident.key_id == key_id)
        with self._sessions() as session:
            rows = session.scalars(query.limit(min(limit, MAX_PAGE))).all()
            return [IncidentView.of(row) for row in rows]

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _incident(
        session: Session, actor: Actor, incident_id: str, *, for_update: bool = False
    ) -> Incident:
        query = select(Incident).where(Incident.id == incident_id)
        if for_update:
            query = query.with_for_update()
        row = session.scalars(query).one_or_none()
        if row is None or not actor.sees(row.tenant_id, row.env):
            raise NotFound(f"no incident {incident_id!r}")
        return row

    @staticmethod
    def _view(session: Session, row: Incident) -> IncidentView:
        session.flush()
        steps = session.scalars(
            select(IncidentStep).where(IncidentStep.incident_id == row.id).order_by(IncidentStep.id)
        ).all()
        return IncidentView.of(row, tuple(StepView.of(step) for step in steps))

    @staticmethod
    def _step(  # noqa: PLR0917 - where, when, who, what and which key: all of them, always
        session: Session,
        row: Incident,
        now: datetime,
        actor: Actor,
        kind: str,
        key_id: str | None,
        *,
        note: str | None = None,
        audited: bool = True,
        **details: Any,
    ) -> None:
        """A timeline entry and (unless the lifecycle wrote one already) its audit event."""
        data = {k: v for k, v in details.items() if v is not None}
        session.add(
            IncidentStep(
                incident_id=row.id,
                ts=now,
                actor=actor.id,
                kind=kind,
                key_id=key_id,
                note=note,
                data=data,
            )
        )
        if audited:
            extra = {"key_id": key_id, "note": note, **data}
            audit.record(
                session,
                now,
                actor.id,
                f"incident.{kind}",
                tenant_id=row.tenant_id,
                target=row.id,
                **{k: v for k, v in extra.items() if v is not None},
            )

    def _announce(self, event: str, view: IncidentView, stopped: Iterable[str]) -> None:
        """After the commit: the incident's event and one per stopped key, to the Notifier;
        a failing notifier never undoes (or hides) the containment."""
        events = [IncidentEvent(event, view.tenant_id, view.to_json(steps=False))]
        kind = "key.suspended" if view.response == "quarantine" else "key.revoked"
        for key_id in stopped:
            state = kind if key_id == view.key_id else "key.revoked"
            events.append(
                IncidentEvent(state, view.tenant_id, {"key_id": key_id, "incident": view.id})
            )
        for item in events:
            try:
                self.notifier.notify(item)
            except Exception:  # a notifier's failure is logged; the incident stands
                log.exception("incident.notify_failed", extra={"event": item.type})


def _check(request: OpenRequest) -> None:
    if not request.reason.strip():
        raise InvalidInput("an incident needs a reason", code="reason_required", field="reason")
    if request.deliver is not None and not request.reissue:
        raise InvalidInput(
            "--deliver needs --reissue", code="deliver_without_reissue", field="deliver"
        )
    if request.source not in SOURCES:
        raise InvalidInput(f"unknown source {request.source!r}", field="source")


def _open_only(row: Incident) -> None:
    if row.state == RESOLVED:
        raise IncidentClosed(f"incident {row.id} is resolved")


def _text(value: str | None) -> str | None:
    """Free text people type is stored with any pasted key masked, and cut to size."""
    return scrub(value.strip())[:MAX_TEXT] if value else value
