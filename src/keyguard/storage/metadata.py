"""Imports every domain's models so that Base.metadata is complete for Alembic and tests."""

from __future__ import annotations

# Each import registers that domain's tables on Base.metadata.
from keyguard.mail import models as mail_models  # noqa: F401
from keyguard.rotation import models as rotation_models  # noqa: F401
from keyguard.secrets import models as secrets_models  # noqa: F401
from keyguard.storage import models  # noqa: F401
from keyguard.storage.base import Base
from keyguard.usage import models as usage_models  # noqa: F401

target_metadata = Base.metadata
