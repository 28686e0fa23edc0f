"""keyguard_client: a typed client for the Keyguard API.

::

    from keyguard_client import Keyguard

    with Keyguard() as client:                  # KEYGUARD_API_KEY, KEYGUARD_BASE_URL
        client.mail.send({"from": "news@brand.example", "to": ["a@example.com"],
                          "subject": "Hello", "text": "Hi!"})

`AsyncKeyguard` is the same with `await`. Errors are `keyguard_client.errors.*` (the tree is
drawn there); keys are loaded, cached and refreshed by `keyguard_client.credentials`.
"""

from keyguard_client import errors
from keyguard_client._async_client import AsyncKeyguard
from keyguard_client._sync_client import Keyguard
from keyguard_client._version import __version__
from keyguard_client.credentials import ClientKey, load_key
from keyguard_client.errors import (
    APIError,
    AuthenticationFailed,
    BadRequest,
    Conflict,
    InvalidRequest,
    KeyguardError,
    KeyRotated,
    KeySourceError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TransportError,
)
from keyguard_client.models import Attachment, Message, Page, Restrictions
from keyguard_client.retries import Retries

__all__ = [
    "APIError",
    "AsyncKeyguard",
    "Attachment",
    "AuthenticationFailed",
    "BadRequest",
    "ClientKey",
    "Conflict",
    "InvalidRequest",
    "KeyRotated",
    "KeySourceError",
    "Keyguard",
    "KeyguardError",
    "Message",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "Restrictions",
    "Retries",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "__version__",
    "errors",
    "load_key",
]
