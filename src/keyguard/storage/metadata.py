"""Imports every domain's models so that Base.metadata is complete for Alembic and tests."""

from __future__ import annotations

from keyguard.storage import models  # noqa: F401 - imported for its table definitions
from keyguard.storage.base import Base

target_metadata = Base.metadata
