"""Usage events: one record per authenticated (or failed) request, the PRODUCT.md schema;
their history (time series, raw events, sources) and retention (rollups, purge)."""

from keyguard.usage.geo import NOWHERE, IpLocator, Location
from keyguard.usage.history import (
    BUCKET_HOURS,
    MAX_PAGE,
    Bucket,
    EventFilter,
    Seen,
    Series,
    Sources,
    UsageHistory,
)
from keyguard.usage.hours import hour_of, network_of
from keyguard.usage.models import UsageEvent, UsageRollup, UsageRollupState, iso
from keyguard.usage.records import UsageRecord, key_columns, logged_path
from keyguard.usage.retention import RetentionReport, UsageRetention
from keyguard.usage.writer import UsageWriter

__all__ = [
    "BUCKET_HOURS",
    "MAX_PAGE",
    "NOWHERE",
    "Bucket",
    "EventFilter",
    "IpLocator",
    "Location",
    "RetentionReport",
    "Seen",
    "Series",
    "Sources",
    "UsageEvent",
    "UsageHistory",
    "UsageRecord",
    "UsageRetention",
    "UsageRollup",
    "UsageRollupState",
    "UsageWriter",
    "hour_of",
    "iso",
    "key_columns",
    "logged_path",
    "network_of",
]
