"""Usage events: one record per authenticated (or failed) request, the PRODUCT.md schema."""

from keyguard.usage.models import UsageEvent
from keyguard.usage.records import UsageRecord, key_columns, logged_path
from keyguard.usage.writer import UsageWriter

__all__ = ["UsageEvent", "UsageRecord", "UsageWriter", "key_columns", "logged_path"]
