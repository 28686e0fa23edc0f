"""What happened with a key: its time series, its raw events, and where it was used from.

The one query service behind `GET /v1/keys/{id}/usage`, `GET /v1/usage/events`,
`GET /v1/keys/{id}/usage/sources` and `keyguard usage`. A caller that acts for a tenant passes
its `Owner` (tenant and environment) and sees only that partition, exactly as elsewhere: a key
or event outside it does not exist for it. The operator (the CLI) passes None.

The time series reads the hourly rollups for hours older than the raw retention (or not yet
purged but already rolled up), the raw events for the rest; sources and events are raw only,
so they reach back as far as the raw retention (docs/usage.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.errors import InvalidInput, NotFound
from keyguard.lifecycle import ApiKey
from keyguard.usage.hours import (
    Hours,
    HourUsage,
    ceil_hour,
    floor_hour,
    hour_number,
    hour_start,
    network_of,
    raw_hours,
    rolled_hours,
    rows,
)
from keyguard.usage.models import UsageEvent, UsageRollupState, iso
from keyguard.usage.records import ip_hex
from keyguard.verification import Owner

Bucket = Literal["hour", "day"]
BUCKET_HOURS: Final[dict[str, int]] = {"hour": 1, "day": 24}
MAX_BUCKETS: Final = 2_200  # 90 days by the hour, six years by the day
DEFAULT_SPAN: Final = timedelta(days=7)
MAX_PAGE: Final = 500
MAX_SOURCES: Final = 100  # per kind of source, the most used first
MAX_ADDRESSES: Final = 10_000  # addresses folded into networks, the most used first
# Times outside these are refused (invalid_time): no usage is older, and bucket arithmetic
# near datetime's own limits would overflow.
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9000, 1, 1, tzinfo=UTC)
ROLLUP_STATE: Final = "hourly"


@dataclass(frozen=True, slots=True)
class BucketUsage:
    start: datetime
    usage: HourUsage

    def to_json(self) -> dict[str, Any]:
        return {"start": iso(self.start), **usage_json(self.usage)}


def usage_json(usage: HourUsage) -> dict[str, Any]:
    return {
        "requests": usage.requests,
        "outcomes": dict(sorted(usage.outcomes.items())),
        "recipients": usage.recipients,
        "networks": usage.distinct_networks(),
    }


@dataclass(frozen=True, slots=True)
class Series:
    key_id: str
    start: datetime
    end: datetime
    bucket: Bucket
    buckets: list[BucketUsage]
    rollups_until: datetime  # buckets before this came from the hourly rollups

    @property
    def totals(self) -> HourUsage:
        total = HourUsage()
        for bucket in self.buckets:
            total.add(bucket.usage)
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "from": iso(self.start),
            "to": iso(self.end),
            "bucket": self.bucket,
            "totals": usage_json(self.totals),
            "buckets": [b.to_json() for b in self.buckets],
        }


@dataclass(frozen=True, slots=True)
class Seen:
    """One source of use (a network, a country, a user agent, an endpoint…)."""

    value: str | int
    requests: int
    denied: int
    first_seen: datetime
    last_seen: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "requests": self.requests,
            "denied": self.denied,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
        }


@dataclass(frozen=True, slots=True)
class Sources:
    key_id: str
    start: datetime
    end: datetime
    networks: list[Seen]
    countries: list[Seen]
    asns: list[Seen]
    user_agents: list[Seen]
    endpoints: list[Seen]

    def to_json(self) -> dict[str, Any]:
        kinds = ("networks", "countries", "asns", "user_agents", "endpoints")
        return {
            "key_id": self.key_id,
            "from": iso(self.start),
            "to": iso(self.end),
            **{kind: [s.to_json() for s in getattr(self, kind)] for kind in kinds},
        }


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Exact key and outcome; `ip` an address or a CIDR; `start` inclusive, `end` exclusive."""

    key_id: str | None = None
    outcome: str | None = None
    ip: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass
class UsageHistory:
    sessions: sessionmaker[Session]
    clock: Clock
    raw_retention: timedelta = timedelta(days=90)

    # -- the time series ------------------------------------------------------------------

    def series(
        self,
        key_id: str,
        *,
        owner: Owner | None,
        start: datetime | None = None,
        end: datetime | None = None,
        bucket: Bucket = "day",
    ) -> Series:
        """Buckets of [start, end) (default: the last 7 days), widened to whole buckets."""
        if bucket not in BUCKET_HOURS:
            raise InvalidInput("bucket must be hour or day", code="invalid_bucket", field="bucket")
        start, end = self._window(start, end, DEFAULT_SPAN)
        width = BUCKET_HOURS[bucket]
        first = hour_number(start) // width * width  # whole buckets: start rounded down,
        last = -(-hour_number(ceil_hour(end)) // width) * width  # end rounded up
        count = (last - first) // width
        if count > MAX_BUCKETS:
            raise InvalidInput(
                f"at most {MAX_BUCKETS} buckets: widen the bucket or narrow the range",
                code="range_too_large",
                field="from",
            )
        begin, finish = hour_start(first), hour_start(last)
        with self.sessions() as session:
            _check_key(session, key_id, owner)
            split = self._rollups_until(session, begin)
            hours: Hours = {}
            if begin < split:
                hours.update(rolled_hours(session, key_id, begin, min(split, finish)))
            if split < finish:
                condition = UsageEvent.__table__.c.key_id == key_id
                hours.update(raw_hours(session, max(begin, split), finish, condition))
        buckets = [BucketUsage(hour_start(first + i * width), HourUsage()) for i in range(count)]
        for (_, number), usage in hours.items():
            buckets[(number - first) // width].usage.add(usage)
        return Series(key_id, begin, finish, bucket, buckets, max(begin, min(split, finish)))

    def _rollups_until(self, session: Session, begin: datetime) -> datetime:
        """Hours before this are read from the rollups: those older than the raw retention,
        as far as the rollup has gone (events after it are never purged)."""
        rolled = session.scalar(
            select(UsageRollupState.rolled_until).where(UsageRollupState.name == ROLLUP_STATE)
        )
        if rolled is None:
            return begin
        return min(floor_hour(self.clock() - self.raw_retention), rolled)

    # -- raw events -----------------------------------------------------------------------

    def events(
        self,
        *,
        owner: Owner | None,
        where: EventFilter | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> list[UsageEvent]:
        """One page, newest first; `before` is the last id of the previous page."""
        where = where or EventFilter()
        if not 1 <= limit <= MAX_PAGE + 1:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        query = select(UsageEvent).where(*_partition(owner), *_conditions(where))
        if before is not None:
            query = query.where(UsageEvent.id < before)
        query = query.order_by(UsageEvent.id.desc()).limit(limit)
        with self.sessions() as session:
            return list(session.scalars(query))

    # -- sources --------------------------------------------------------------------------

    def sources(
        self,
        key_id: str,
        *,
        owner: Owner | None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Sources:
        """Where the key was used from in [start, end) (default: the whole raw retention)."""
        start, end = self._window(start, end, self.raw_retention)
        events = UsageEvent.__table__.c
        window = (events.key_id == key_id, events.ts >= start, events.ts < end)
        with self.sessions() as session:
            _check_key(session, key_id, owner)
            addresses = _seen(session, window, [events.ip], MAX_ADDRESSES)
            return Sources(
                key_id,
                start,
                end,
                networks=_networks(addresses),
                countries=_seen(session, window, [events.geo]),
                asns=_seen(session, window, [events.asn]),
                user_agents=_seen(session, window, [events.user_agent]),
                endpoints=_seen(session, window, [events.method, events.path]),
            )

    def _window(
        self, start: datetime | None, end: datetime | None, span: timedelta
    ) -> tuple[datetime, datetime]:
        for name, value in (("from", start), ("to", end)):
            if value is not None and not EARLIEST <= value <= LATEST:
                raise InvalidInput(
                    f"{name} must be between {EARLIEST.year} and {LATEST.year}",
                    code="invalid_time",
                    field=name,
                )
        end = end or self.clock()
        start = start or max(end - span, EARLIEST)
        if start >= end:
            raise InvalidInput("from must be before to", code="invalid_range", field="from")
        return start, end


def _check_key(session: Session, key_id: str, owner: Owner | None) -> None:
    query = select(ApiKey.id).where(ApiKey.id == key_id)
    if owner is not None:  # another partition's key is one that does not exist
        query = query.where(ApiKey.tenant_id == owner.tenant_id, ApiKey.env == owner.env)
    if session.scalar(query) is None:
        raise NotFound(f"no key {key_id!r}")


def _partition(owner: Owner | None) -> list[ColumnElement[bool]]:
    if owner is None:
        return []
    events = UsageEvent.__table__.c
    return [events.tenant_id == owner.tenant_id, events.env == owner.env]


def _conditions(where: EventFilter) -> list[ColumnElement[bool]]:
    events = UsageEvent.__table__.c
    found: list[ColumnElement[bool]] = []
    if where.key_id is not None:
        found.append(events.key_id == where.key_id)
    if where.outcome is not None:
        found.append(events.outcome == where.outcome)
    if where.start is not None:
        found.append(events.ts >= where.start)
    if where.end is not None:
        found.append(events.ts < where.end)
    if where.ip is not None:
        low, high = address_range(where.ip)
        found.append(events.ip_hex.between(low, high))
    return found


def address_range(text: str) -> tuple[str, str]:
    """The `ip_hex` bounds of an address or a CIDR (host bits allowed: 203.0.113.7/24)."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not an IP address or CIDR", code="invalid_ip", field="ip"
        ) from None
    low, high = ip_hex(str(network.network_address)), ip_hex(str(network.broadcast_address))
    if low is None or high is None:  # pragma: no cover - both are addresses
        raise InvalidInput(f"{text!r} is not an IP address or CIDR", code="invalid_ip", field="ip")
    return low, high


def _seen(
    session: Session,
    window: Sequence[ColumnElement[bool]],
    columns: Sequence[Any],
    limit: int = MAX_SOURCES,
) -> list[Seen]:
    events = UsageEvent.__table__.c
    requests = func.count().label("requests")
    denied = func.sum(case((events.outcome == "ok", 0), else_=1))
    query = (
        select(*columns, requests, denied, func.min(events.ts), func.max(events.ts))
        .where(*window, *(column.is_not(None) for column in columns))
        .group_by(*columns)
        .order_by(requests.desc(), *columns)
        .limit(limit)
    )
    seen = []
    for *values, count, refused, first, last in rows(session, query):
        value = values[0] if len(values) == 1 else " ".join(str(v) for v in values)
        if not isinstance(value, (str, int)):
            value = str(value)
        seen.append(Seen(value, int(count), int(refused or 0), _utc(first), _utc(last)))
    return seen


def _networks(addresses: list[Seen]) -> list[Seen]:
    """Addresses folded into their networks (/24, /48), the most used first."""
    merged: dict[str, Seen] = {}
    for address in addresses:
        network = network_of(str(address.value))
        if network is None:
            continue
        before = merged.get(network)
        if before is None:
            merged[network] = Seen(network, *_counts(address))
            continue
        merged[network] = Seen(
            network,
            before.requests + address.requests,
            before.denied + address.denied,
            min(before.first_seen, address.first_seen),
            max(before.last_seen, address.last_seen),
        )
    ranked = sorted(merged.values(), key=lambda s: (-s.requests, str(s.value)))
    return ranked[:MAX_SOURCES]


def _counts(seen: Seen) -> tuple[int, int, datetime, datetime]:
    return seen.requests, seen.denied, seen.first_seen, seen.last_seen


def _utc(value: Any) -> datetime:
    """min()/max() keep the column's type; a driver's naive value is UTC all the same."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
