"""Every table of Keyguard on one metadata, for Alembic and for tests that create the schema.

Each domain package owns its tables in its own `models.py`; this root-level module imports
them all, so that no package below has to import the others (or storage reach up to them).
"""

from __future__ import annotations

# Each import registers that package's tables on Base.metadata.
from keyguard.audit import models as audit_models  # noqa: F401 - registers the tables
from keyguard.incidents import models as incident_models  # noqa: F401 - registers the tables
from keyguard.lifecycle import models as lifecycle_models  # noqa: F401 - registers the tables
from keyguard.mail import models as mail_models  # noqa: F401 - registers the tables
from keyguard.monitoring import models as monitoring_models  # noqa: F401 - registers the tables
from keyguard.ratelimit import models as ratelimit_models  # noqa: F401 - registers the tables
from keyguard.rotation import models as rotation_models  # noqa: F401 - registers the tables
from keyguard.secrets import models as secrets_models  # noqa: F401 - registers the tables
from keyguard.storage import Base
from keyguard.usage import models as usage_models  # noqa: F401 - registers the tables
from keyguard.users import models as users_models  # noqa: F401 - registers the tables
from keyguard.webhooks import models as webhooks_models  # noqa: F401 - registers the tables

target_metadata = Base.metadata
