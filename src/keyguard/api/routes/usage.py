"""/v1/keys/{id}/usage, /v1/keys/{id}/usage/sources and /v1/usage/events (stats:read).

Thin routes over keyguard.usage.UsageHistory, within the caller's tenant and environment: a
key of another partition is `not_found`, its events are never listed. Times are ISO 8601
(naive ones are UTC); `from` is inclusive, `to` exclusive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from keyguard.api.context import Principal, RuntimeDep
from keyguard.api.enforcement import EnforcedRoute, require_scope
from keyguard.api.routes.keys import KeyId
from keyguard.errors import InvalidInput
from keyguard.usage import MAX_PAGE, EventFilter, Series, Sources, UsageEvent
from keyguard.verification import Outcome, Owner

router = APIRouter(route_class=EnforcedRoute, tags=["usage"])

Reader = Annotated[Principal, require_scope("stats:read")]
KEY_ID_PATTERN = r"^key_[0-9A-Za-z]{1,36}$"


class _Window(BaseModel):
    """Query parameters; unknown ones are refused like unknown JSON fields."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: datetime | None = Field(
        default=None, alias="from", description="Inclusive, ISO 8601 (naive: UTC)."
    )
    end: datetime | None = Field(
        default=None, alias="to", description="Exclusive, ISO 8601 (default: now)."
    )


class SeriesQuery(_Window):
    bucket: Literal["hour", "day"] = Field(
        default="day", description="UTC hours or days; the range is widened to whole buckets."
    )


class EventsQuery(_Window):
    key_id: str | None = Field(default=None, pattern=KEY_ID_PATTERN)
    outcome: Outcome | None = None
    ip: str | None = Field(
        default=None, max_length=64, description="An address, or a CIDR such as 203.0.113.0/24."
    )
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, pattern=r"^[0-9]{1,18}$")


class UsageCounts(BaseModel):
    requests: int
    outcomes: dict[str, int] = Field(description="Requests by outcome (PRODUCT.md values).")
    recipients: int
    networks: int = Field(description="Distinct client networks (/24 for IPv4, /48 for IPv6).")


class BucketOut(UsageCounts):
    start: str


class SeriesOut(BaseModel):
    key_id: str
    from_: str = Field(alias="from")
    to: str
    bucket: Literal["hour", "day"]
    totals: UsageCounts
    buckets: list[BucketOut]

    @classmethod
    def of(cls, series: Series) -> SeriesOut:
        return cls.model_validate(series.to_json())


class SeenOut(BaseModel):
    value: str | int
    requests: int
    denied: int = Field(description="Of which refused (any outcome but ok).")
    first_seen: str
    last_seen: str


class SourcesOut(BaseModel):
    key_id: str
    from_: str = Field(alias="from")
    to: str
    networks: list[SeenOut]
    countries: list[SeenOut] = Field(description="ISO country codes (needs KEYGUARD_GEOIP_DB).")
    asns: list[SeenOut] = Field(description="Autonomous systems (needs KEYGUARD_ASN_DB).")
    user_agents: list[SeenOut]
    endpoints: list[SeenOut] = Field(description='"METHOD path", e.g. "POST /v1/mail/send".')

    @classmethod
    def of(cls, sources: Sources) -> SourcesOut:
        return cls.model_validate(sources.to_json())


class EventOut(BaseModel):
    """A usage event in the PRODUCT.md schema, with its `id` (the cursor's unit)."""

    model_config = ConfigDict(extra="allow")

    id: int
    ts: str
    key_id: str | None
    tenant: str | None
    env: str | None
    ip: str | None
    user_agent: str | None
    method: str
    path: str
    scope: str | None
    outcome: str
    status: int
    recipients: int | None
    recipient_domains: list[str] | None
    sender: str | None

    @classmethod
    def of(cls, event: UsageEvent) -> EventOut:
        return cls.model_validate({"id": event.id, **event.to_json()})


class EventPage(BaseModel):
    events: list[EventOut]
    next_cursor: str | None


@router.get("/v1/keys/{key_id}/usage", operation_id="keys_usage", response_model_by_alias=True)
def key_usage(
    key_id: KeyId,
    principal: Reader,
    runtime: RuntimeDep,
    query: Annotated[SeriesQuery, Query()],
) -> SeriesOut:
    """One key's requests by outcome, recipients and distinct networks, per hour or day."""
    series = runtime.history.series(
        key_id,
        owner=_owner(principal),
        start=_utc(query.start, "from"),
        end=_utc(query.end, "to"),
        bucket=query.bucket,
    )
    return SeriesOut.of(series)


@router.get(
    "/v1/keys/{key_id}/usage/sources",
    operation_id="keys_usage_sources",
    response_model_by_alias=True,
)
def key_sources(
    key_id: KeyId,
    principal: Reader,
    runtime: RuntimeDep,
    query: Annotated[_Window, Query()],
) -> SourcesOut:
    """Networks, countries, autonomous systems, user agents and endpoints the key was used
    from, the most used first, with first and last seen (default: the raw retention)."""
    sources = runtime.history.sources(
        key_id, owner=_owner(principal), start=_utc(query.start, "from"), end=_utc(query.end, "to")
    )
    return SourcesOut.of(sources)


@router.get("/v1/usage/events", operation_id="usage_events_list")
def usage_events(
    principal: Reader,
    runtime: RuntimeDep,
    query: Annotated[EventsQuery, Query()],
) -> EventPage:
    """Raw usage events of the caller's partition, newest first; follow `next_cursor`."""
    where = EventFilter(
        key_id=query.key_id,
        outcome=query.outcome,
        ip=query.ip,
        start=_utc(query.start, "from"),
        end=_utc(query.end, "to"),
    )
    events = runtime.history.events(
        owner=_owner(principal),
        where=where,
        limit=query.limit + 1,
        before=int(query.cursor) if query.cursor else None,
    )
    page = events[: query.limit]
    more = len(events) > query.limit
    return EventPage(
        events=[EventOut.of(e) for e in page], next_cursor=str(page[-1].id) if more else None
    )


def _owner(principal: Principal) -> Owner:
    return Owner(principal.key.tenant_id, principal.key.env)


def _utc(value: datetime | None, field: str) -> datetime | None:
    """Naive times are read as UTC; times that cannot be expressed in UTC are refused."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(f"{field} is out of range", code="invalid_time", field=field) from None
