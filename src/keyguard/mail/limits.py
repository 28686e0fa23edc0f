"""Size and count caps of the email API, in one place so docs and checks agree."""

from __future__ import annotations

from typing import Final

MAX_BATCH: Final = 1_000
MAX_RECIPIENTS_PER_MESSAGE: Final = 50
MAX_MESSAGE_BYTES: Final = 10 * 1024 * 1024  # the composed MIME message
MAX_ATTACHMENTS: Final = 20
MAX_SUBJECT_CHARS: Final = 998
MAX_CUSTOM_HEADERS: Final = 50
MAX_HEADER_VALUE_CHARS: Final = 2_000
MAX_DISPLAY_NAME_CHARS: Final = 200
MAX_REQUEST_BYTES: Final = 32 * 1024 * 1024  # one HTTP request, batches included
MAX_CSV_BYTES: Final = 10 * 1024 * 1024
MAX_CSV_ROWS: Final = 100_000
MAX_IDEMPOTENCY_KEY_CHARS: Final = 255
# A campaign is queued in one transaction; past this, split the list.
MAX_CAMPAIGN_MEMBERS: Final = 50_000
