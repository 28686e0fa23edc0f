"""The one error tree. Every error carries a stable `code` that HTTP and the CLI expose.

::

    KeyguardError
    ├── InvalidInput            code varies: invalid_input, unknown_scope, invalid_cidr,
    │                           invalid_duration, expiry_too_long, invalid_environment …
    ├── NotFound                not_found
    ├── IllegalTransition       illegal_transition
    ├── PermissionDenied        privilege_escalation, forbidden …
    ├── AuthenticationFailed    the verification outcome (invalid_key, revoked, key_rotated …)
    ├── RateLimited             rate_limited, quota_exceeded
    └── ConfigurationError      configuration

HTTP status codes are mapped in keyguard.api.problems, CLI exit codes in keyguard.cli.output;
nowhere else.
"""

from __future__ import annotations

from typing import ClassVar


class KeyguardError(Exception):
    """Root of every error Keyguard raises on purpose."""

    default_code: ClassVar[str] = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class InvalidInput(KeyguardError):
    """The caller sent something malformed or outside policy limits."""

    default_code = "invalid_input"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class NotFound(KeyguardError):
    """No such object in the caller's tenant (other tenants' objects look identical)."""

    default_code = "not_found"


class IllegalTransition(KeyguardError):
    """The key's state does not allow this lifecycle action."""

    default_code = "illegal_transition"


class PermissionDenied(KeyguardError):
    """The caller is authenticated but may not do this."""

    default_code = "forbidden"


class AuthenticationFailed(KeyguardError):
    """The presented key does not authenticate; `code` is what the holder may learn."""

    default_code = "invalid_key"


class RateLimited(KeyguardError):
    """Too many requests or recipients; `retry_after` is in seconds."""

    default_code = "rate_limited"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float = 1.0) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ConfigurationError(KeyguardError):
    """Settings are missing, insecure for the mode, or a backend is unreachable."""

    default_code = "configuration"
