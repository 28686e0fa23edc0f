"""Usage by UTC hour, from the raw events or the rollups: the one aggregation that the time
series (history.py) and the rollup (retention.py) share.

An hour is named by its number since the epoch (`hour_of`), computed in SQL on both backends
(SQLite from the stored text, exactly; PostgreSQL from the epoch). A network is an address's
/24 (IPv4) or /48 (IPv6): what one customer, office or cloud subnet usually holds.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Integer, Select, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from keyguard.usage.models import UsageEvent, UsageRollup

HOUR: Final = timedelta(hours=1)
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Networks listed in a rollup row (their exact number is stored beside it).
MAX_ROLLUP_NETWORKS: Final = 100
IPV4_PREFIX: Final = 24
IPV6_PREFIX: Final = 48


class hour_of(FunctionElement[int]):  # noqa: N801 - a SQL function, named like one
    """The UTC hour of a timestamp column, as hours since the epoch."""

    type = Integer()
    inherit_cache = True


@compiles(hour_of)
def _hour_postgresql(element: hour_of, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(floor(extract(epoch FROM {column}) / 3600) AS BIGINT)"


@compiles(hour_of, "sqlite")
def _hour_sqlite(element: hour_of, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff'; strftime on the whole value rounds the
    # fraction (10:59:59.9999995 would be 11:00), so the hour is cut from the text first.
    column = compiler.process(element.clauses, **kw)
    return f"(CAST(strftime('%s', substr({column}, 1, 13) || ':00:00') AS INTEGER) / 3600)"


def hour_number(ts: datetime) -> int:
    return int((ts - EPOCH) // HOUR)


def hour_start(number: int) -> datetime:
    return EPOCH + number * HOUR


def floor_hour(ts: datetime) -> datetime:
    return hour_start(hour_number(ts))


def ceil_hour(ts: datetime) -> datetime:
    start = floor_hour(ts)
    return start if start == ts else start + HOUR


@functools.lru_cache(maxsize=65_536)
def network_of(ip: str) -> str | None:
    """The /24 or /48 holding `ip`; None for what is not an address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@dataclass
class HourUsage:
    """One key's usage in one hour (or, summed, in a bucket of hours)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    recipients: int = 0
    networks: set[str] = field(default_factory=set)
    network_count: int = 0  # at least len(networks): a rollup lists a bounded number

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    def add(self, other: HourUsage) -> None:
        self.outcomes.update(other.outcomes)
        self.recipients += other.recipients
        self.networks |= other.networks
        self.network_count = max(self.network_count, other.network_count, len(self.networks))

    def distinct_networks(self) -> int:
        return max(self.network_count, len(self.networks))


# (key id, hour number) -> usage
Hours = dict[tuple[str, int], HourUsage]


def raw_hours(
    session: Session, start: datetime, end: datetime, *conditions: ColumnElement[bool]
) -> Hours:
    """Usage by key and hour from the raw events of [start, end) that have a key."""
    events = UsageEvent.__table__.c
    where = [events.ts >= start, events.ts < end, events.key_id.is_not(None), *conditions]
    hour = hour_of(events.ts)
    hours: Hours = {}
    counts = (
        select(events.key_id, hour, events.outcome, func.count(), func.sum(events.recipients))
        .where(*where)
        .group_by(events.key_id, hour, events.outcome)
    )
    for key_id, number, outcome, count, recipients in rows(session, counts):
        usage = hours.setdefault((str(key_id), int(number)), HourUsage())
        usage.outcomes[str(outcome)] += int(count)
        usage.recipients += int(recipients or 0)
    addresses = (
        select(events.key_id, hour, events.ip)
        .where(*where, events.ip.is_not(None))
        .group_by(events.key_id, hour, events.ip)
    )
    for key_id, number, ip in rows(session, addresses):
        network = network_of(str(ip))
        if network is not None:
            hours.setdefault((str(key_id), int(number)), HourUsage()).networks.add(network)
    for usage in hours.values():
        usage.network_count = len(usage.networks)
    return hours


def rows(session: Session, query: Select[Any]) -> list[tuple[Any, ...]]:
    """A query's rows as plain tuples (aggregates have no useful static type)."""
    return [tuple(row) for row in session.execute(query)]


def rolled_hours(session: Session, key_id: str, start: datetime, end: datetime) -> Hours:
    """One key's usage by hour from the rollups of [start, end)."""
    rows = session.scalars(
        select(UsageRollup).where(
            UsageRollup.key_id == key_id, UsageRollup.hour >= start, UsageRollup.hour < end
        )
    )
    return {(row.key_id, hour_number(row.hour)): usage_of(row) for row in rows}


def usage_of(row: UsageRollup) -> HourUsage:
    return HourUsage(
        outcomes=Counter(row.outcomes),
        recipients=row.recipients,
        networks=set(row.networks),
        network_count=row.network_count,
    )


def listed_networks(networks: Iterable[str]) -> list[str]:
    """What a rollup row stores of an hour's networks: sorted, at most MAX_ROLLUP_NETWORKS."""
    return sorted(networks)[:MAX_ROLLUP_NETWORKS]
