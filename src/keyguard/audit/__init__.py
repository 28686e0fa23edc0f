"""The append-only, hash-chained audit log."""

from keyguard.audit.models import AuditEvent
from keyguard.audit.query import AuditFilter, list_events
from keyguard.audit.service import ChainReport, append, export, record, verify_chain

__all__ = [
    "AuditEvent",
    "AuditFilter",
    "ChainReport",
    "append",
    "export",
    "list_events",
    "record",
    "verify_chain",
]
