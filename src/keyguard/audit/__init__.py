"""The append-only, hash-chained audit log."""

from keyguard.audit.service import ChainReport, append, export, record, verify_chain

__all__ = ["ChainReport", "append", "export", "record", "verify_chain"]
