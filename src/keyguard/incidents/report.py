"""The facts of an investigation report: the key's life, its exposure window, every use
inside it, what the key could do and did, and recommendations drawn from them.

Everything is read in one session with aggregate queries (GROUP BY over the key's usage
events, on the `(key_id, ts)` index), never row by row: a key with a million events is
reported in seconds. Renderers (render.py) turn `Report.to_json()` into HTML, Markdown or
JSON; the JSON's keys are the stable contract (docs/incidents.md). The value types are in
report_views.py, the recommendations in advice.py.

The exposure window runs from the last known-good point to containment:

- known good: the key's creation, or (for a successor) the rotation that issued it;
- later than that when anomalous activity starts: the earliest `first_event_ts` of the
  alerts the detector raised on the key (keyguard.monitoring, not marked false positive)
  marks it. Without such an alert (detection off, a leak reported from outside), the first
  accepted use from a network (/24, /48) the key had not used during its first day of use
  (its baseline, `BASELINE`) marks the start. A key whose first day already was the
  attacker's has no such point: the window then starts at the known-good point;
- containment: the incident's `key.revoked` / `key.suspended` step on the key (the report's
  time while the key has not been stopped).

Sources (networks, ASNs, countries, user agents, endpoints) are "usual" when the key used
them before the window, "new" otherwise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.audit import AuditEvent
from keyguard.clock import Clock
from keyguard.errors import NotFound
from keyguard.incidents.advice import recommend
from keyguard.incidents.models import Incident, IncidentStep
from keyguard.incidents.report_views import KINDS, Counted, Mail, Report, Source, Window, iso, top
from keyguard.incidents.views import IncidentView, StepView
from keyguard.lifecycle import Actor, ApiKey
from keyguard.mail import Message
from keyguard.monitoring import StoredAlert, alert_json
from keyguard.rotation import KeyDelivery
from keyguard.usage import UsageEvent, hour_of, network_of

BASELINE: Final = timedelta(days=1)
MAX_CHART_BARS: Final = 240
CONTAINMENT_STEPS: Final = frozenset({"key.revoked", "key.suspended"})
MAX_ALERTS: Final = 200  # the report lists the key's alerts, the latest this many
# Scopes whose GET requests read the tenant's data (what an attacker could take away).
READ_SCOPES: Final = (
    "contacts:read",
    "lists:read",
    "audit:read",
    "keys:read",
    "stats:read",
    "campaigns:read",
    "templates:read",
    "suppressions:read",
    "sandbox:read",
)


class IncidentReports:
    """Builds the report of one incident, as `actor` may see it."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def build(self, actor: Actor, incident_id: str, *, include_subjects: bool = False) -> Report:
        now = self._clock()
        with self._sessions() as session:
            incident = _incident(session, actor, incident_id)
            key = session.get(ApiKey, incident.key_id)
            if key is None:  # pragma: no cover - the foreign key holds it
                raise NotFound(f"no key {incident.key_id!r}")
            return _Builder(session, incident, key, now, include_subjects).report()


def _incident(session: Session, actor: Actor, incident_id: str) -> IncidentView:
    row = session.get(Incident, incident_id)
    if row is None or not actor.sees(row.tenant_id, row.env):
        raise NotFound(f"no incident {incident_id!r}")
    steps = session.scalars(
        select(IncidentStep).where(IncidentStep.incident_id == row.id).order_by(IncidentStep.id)
    ).all()
    return IncidentView.of(row, tuple(StepView.of(s) for s in steps))


@dataclass
class _Builder:
    session: Session
    incident: IncidentView
    key: ApiKey
    now: datetime
    include_subjects: bool
    legit: dict[str, int] = field(default_factory=dict)  # accepted uses before the window

    def report(self) -> Report:
        alerts = self._alerts()
        window = self._window(alerts)
        sources, totals = self._sources(window)
        scopes, data_read = self._endpoints(window, sources)
        mail = self._mail(window)
        created = self._keys_created()
        deliveries = self._deliveries()
        report = Report(
            generated_at=self.now,
            incident=self.incident,
            key=self._key_json(),
            life=self._life(),
            deliveries=deliveries,
            window=window,
            totals=totals,
            sources=sources,
            hours=self._hours(window),
            scopes_used=scopes,
            data_read=data_read,
            mail=mail,
            keys_created=created,
            alerts=[_alert(a, window) for a in alerts],
            recommendations=[],
        )
        report.recommendations.extend(recommend(report, self.legit))
        return report

    # -- the key's life ------------------------------------------------------------------

    def _key_json(self) -> dict[str, Any]:
        key = self.key
        return {
            "id": key.id,
            "name": key.name,
            "env": key.env,
            "prefix": key.display_prefix,
            "state": key.state,
            "created_at": iso(key.created_at),
            "created_by": key.created_by,
            "parent_id": key.parent_id,
            "expires_at": iso(key.expires_at),
            "scopes": list(key.scopes),
            "restrictions": dict(key.restrictions or {}),
        }

    def _life(self) -> list[dict[str, Any]]:
        """The audit events of the key (and the rotation of its parent that issued it)."""
        targets = [self.key.id] + ([self.key.parent_id] if self.key.parent_id else [])
        rows = self.session.scalars(
            select(AuditEvent).where(AuditEvent.target.in_(targets)).order_by(AuditEvent.seq)
        ).all()
        life = []
        for row in rows:
            if row.target != self.key.id and row.action != "key.rotated":
                continue  # of the parent only the rotation that issued this key
            data = dict(row.data or {})
            life.append(
                {
                    "ts": iso(row.ts),
                    "actor": row.actor,
                    "action": row.action,
                    "key_id": row.target,
                    "data": data,
                }
            )
        return life

    def _deliveries(self) -> list[dict[str, Any]]:
        ids = [self.key.id] + ([self.key.parent_id] if self.key.parent_id else [])
        rows = self.session.scalars(
            select(KeyDelivery).where(KeyDelivery.key_id.in_(ids)).order_by(KeyDelivery.created_at)
        ).all()
        return [
            {
                "key_id": r.key_id,
                "target": r.target,
                "created_at": iso(r.created_at),
                "rotate_every_seconds": r.rotate_every_seconds,
            }
            for r in rows
        ]

    # -- the window ------------------------------------------------------------------------

    def _alerts(self) -> list[StoredAlert]:
        """The alerts the detector raised on the key, oldest first."""
        query = (
            select(StoredAlert)
            .where(StoredAlert.key_id == self.key.id)
            .order_by(StoredAlert.id.desc())
            .limit(MAX_ALERTS)
        )
        return sorted(self.session.scalars(query).all(), key=lambda a: a.id)

    def _window(self, alerts: list[StoredAlert]) -> Window:
        end, end_basis = self.now, "report_time"
        for step in self.incident.steps:
            if step.kind in CONTAINMENT_STEPS and step.key_id == self.key.id:
                end, end_basis = step.ts, step.kind
                break
        good = _utc(self.key.created_at)
        basis = "rotation" if self.key.parent_id else "created"
        # A person who marked an alert a false positive said that activity was the key's own.
        raised = [
            a
            for a in alerts
            if a.state != "false_positive" and good < _utc(a.first_event_ts) <= end
        ]
        if raised:
            first = min(raised, key=lambda a: _utc(a.first_event_ts))
            return Window(_utc(first.first_event_ts), end, "alert", end_basis, alert=first.id)
        first_ok = self._first_ok_by_network(end)
        if first_ok:
            began = min(first_ok.values())
            baseline = {n for n, t in first_ok.items() if t < began + BASELINE}
            new = sorted((t, n) for n, t in first_ok.items() if n not in baseline)
            if new and new[0][0] > good:
                return Window(new[0][0], end, "anomaly", end_basis, new[0][1])
        return Window(good, end, basis, end_basis)

    def _first_ok_by_network(self, end: datetime) -> dict[str, datetime]:
        events = UsageEvent.__table__.c
        query = (
            select(events.ip, func.min(events.ts))
            .where(self._of_key(), events.ts <= end, events.outcome == "ok")
            .where(events.ip.is_not(None))
            .group_by(events.ip)
        )
        first: dict[str, datetime] = {}
        for ip, ts in _rows(self.session, query):
            network = network_of(str(ip)) or str(ip)
            seen = _utc(ts)
            if network not in first or seen < first[network]:
                first[network] = seen
        return first

    def _of_key(self) -> ColumnElement[bool]:
        return UsageEvent.__table__.c.key_id == self.key.id

    # -- uses ------------------------------------------------------------------------------

    def _counted(self, window: Window, *columns: Any) -> Iterable[Counted]:
        """Per value of `columns`, in one scan of the key's events: requests and denials
        from the window's start on (denied attempts after containment count too), first and
        last seen there, whether the key used it before the window, and accepted uses
        before, inside and ever."""
        events = UsageEvent.__table__.c
        inside = events.ts >= window.start
        ok = events.outcome == "ok"
        query = (
            select(
                *columns,
                func.sum(case((inside, 1), else_=0)),
                func.sum(case((inside & ~ok, 1), else_=0)),
                func.min(case((inside, events.ts))),
                func.max(case((inside, events.ts))),
                func.min(events.ts),
                func.sum(case((~inside & ok, 1), else_=0)),
                func.sum(case((inside & ok, 1), else_=0)),
            )
            .where(self._of_key(), events.ts <= self.now)
            .group_by(*columns)
        )
        for *values, requests, denied, first, last, ever, before, accepted in _rows(
            self.session, query
        ):
            yield Counted(
                tuple(values),
                requests=int(requests or 0),
                denied=int(denied or 0),
                first=_maybe_utc(first),
                last=_maybe_utc(last),
                usual=_utc(ever) < window.start,
                accepted_before=int(before or 0),
                accepted_inside=int(accepted or 0),
            )

    def _sources(self, window: Window) -> tuple[dict[str, list[Source]], dict[str, int]]:
        """Networks, ASNs and countries from one scan by address; user agents from another.
        Accepted uses before the window, by network, are the key's legitimate use."""
        events = UsageEvent.__table__.c
        kinds: dict[str, dict[Any, Source]] = {kind: {} for kind in KINDS}
        totals = {"requests": 0, "denied": 0, "accepted": 0}
        for row in self._counted(window, events.ip, events.geo, events.asn):
            ip, geo, asn = row.values
            totals["requests"] += row.requests
            totals["denied"] += row.denied
            network = (network_of(str(ip)) or str(ip)) if ip is not None else "-"
            self.legit[network] = self.legit.get(network, 0) + row.accepted_before
            for kind, value in (("networks", network), ("asns", asn), ("countries", geo)):
                if value is not None:
                    kinds[kind].setdefault(value, Source(value)).count(row)
        for row in self._counted(window, events.user_agent):
            kinds["user_agents"].setdefault(
                row.values[0] or "-", Source(row.values[0] or "-")
            ).count(row)
        totals["accepted"] = totals["requests"] - totals["denied"]
        return {kind: top(found) for kind, found in kinds.items()}, totals

    def _endpoints(
        self, window: Window, sources: dict[str, list[Source]]
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Endpoints into `sources`, from one scan by method, path and scope; the scopes
        used at all (for narrowing) and the data read inside the window (accepted GETs of a
        reading scope)."""
        events = UsageEvent.__table__.c
        endpoints: dict[Any, Source] = {}
        ever_used: Counter[str] = Counter()
        data_read: Counter[str] = Counter()
        for row in self._counted(window, events.method, events.path, events.scope):
            method, path, scope = row.values
            if scope:
                ever_used[str(scope)] += row.accepted_before + row.accepted_inside
            if scope in READ_SCOPES and method == "GET" and row.accepted_inside:
                data_read[str(scope)] += row.accepted_inside
            name = f"{method} {path}"
            endpoints.setdefault(name, Source(name)).count(row)
        sources["endpoints"] = top(endpoints)
        return {k: v for k, v in ever_used.items() if v}, dict(data_read)

    def _hours(self, window: Window) -> list[dict[str, Any]]:
        """Uses per hour (accepted and denied) from a day before the window to a day after
        containment (or the report time), in at most MAX_CHART_BARS bars."""
        events = UsageEvent.__table__.c
        start = _floor_hour(window.start - timedelta(days=1))
        end = min(self.now, window.end + timedelta(days=1))
        hour = hour_of(events.ts)
        query = (
            select(hour, func.sum(case((events.outcome == "ok", 1), else_=0)), func.count())
            .where(self._of_key(), events.ts >= start, events.ts <= end)
            .group_by(hour)
        )
        first = _hour_number(start)
        span = _hour_number(end) - first + 1
        width = max(1, -(-span // MAX_CHART_BARS))
        bars = [[0, 0] for _ in range(-(-span // width))]
        for number, ok, count in _rows(self.session, query):
            bar = bars[min((int(number) - first) // width, len(bars) - 1)]
            bar[0] += int(ok)
            bar[1] += int(count) - int(ok)
        found = []
        for i, (accepted, denied) in enumerate(bars):
            begin = _hour(first + i * width)
            inside = begin <= window.end and begin + timedelta(hours=width) > window.start
            found.append(
                {
                    "start": iso(begin),
                    "hours": width,
                    "accepted": accepted,
                    "denied": denied,
                    "in_window": inside,
                }
            )
        return found

    # -- impact ----------------------------------------------------------------------------

    def _mail(self, window: Window) -> Mail:
        """Messages the key got accepted inside the window (queued, sent or held alike)."""
        inside = (
            Message.key_id == self.key.id,
            Message.created_at >= window.start,
            Message.created_at <= window.end,
        )
        senders = {
            str(sender): int(count)
            for sender, count in _rows(
                self.session,
                select(Message.sender, func.count()).where(*inside).group_by(Message.sender),
            )
        }
        domains: Counter[str] = Counter()
        recipients = 0
        subjects: Counter[str] = Counter()
        columns = [Message.recipients] + ([Message.subject] if self.include_subjects else [])
        for row in self.session.execute(select(*columns).where(*inside)).yield_per(5000):
            addresses = list(row[0] or [])
            recipients += len(addresses)
            domains.update({a.rpartition("@")[2].lower() for a in addresses})
            if self.include_subjects:
                subjects[str(row[1])] += 1
        return Mail(
            messages=sum(senders.values()),
            recipients=recipients,
            recipient_domains=dict(domains),
            senders=senders,
            subjects=dict(subjects) if self.include_subjects else None,
        )

    def _keys_created(self) -> list[dict[str, Any]]:
        rows = self.session.scalars(
            select(ApiKey)
            .where(ApiKey.created_by == f"key:{self.key.id}")
            .order_by(ApiKey.created_at, ApiKey.id)
        ).all()
        return [
            {
                "id": r.id,
                "created_at": iso(r.created_at),
                "state": r.state,
                "scopes": list(r.scopes),
            }
            for r in rows
        ]


# -- helpers ---------------------------------------------------------------------------------


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _alert(row: StoredAlert, window: Window) -> dict[str, Any]:
    first = _utc(row.first_event_ts)
    times = {  # in the report's own time format, like every other time in it
        "ts": iso(_utc(row.ts)),
        "first_event_ts": iso(first),
        "updated_at": iso(_utc(row.updated_at)),
    }
    return {**alert_json(row), **times, "in_window": window.start <= first <= window.end}


def _hour_number(ts: datetime) -> int:
    return int((ts - _EPOCH) // timedelta(hours=1))


def _hour(number: int) -> datetime:
    return _EPOCH + number * timedelta(hours=1)


def _floor_hour(ts: datetime) -> datetime:
    return _hour(_hour_number(ts))


def _rows(session: Session, query: Any) -> list[tuple[Any, ...]]:
    """A query's rows as plain tuples (aggregates have no useful static type)."""
    return [tuple(row) for row in session.execute(query)]


def _utc(value: Any) -> datetime:
    """min()/max() keep the column's type; a driver's naive value is UTC all the same."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _maybe_utc(value: Any) -> datetime | None:
    return None if value is None else _utc(value)
