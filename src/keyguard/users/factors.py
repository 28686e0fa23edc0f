"""The sign-in factors as pure functions: Argon2id passwords, TOTP codes, recovery codes and
the digests of random tokens. No I/O; the service stores and looks up what these return."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Final

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from keyguard.errors import InvalidInput

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # Argon2 takes any length; a megabyte "password" is a denial of service
RECOVERY_CODES = 10
TOTP_WINDOW = 1  # one 30-second step either side, for clocks that drift

_HASHER: Final = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106 low-memory
# Verified against when the account is unknown, so that an unknown address costs the same
# Argon2 work as a known one: the answer's timing does not tell which addresses exist.
_DUMMY_HASH: Final = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters",
            code="weak_password",
            field="password",
        )
    return _HASHER.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; with no stored hash, the same work, False."""
    if len(password) > MAX_PASSWORD:
        password = password[:MAX_PASSWORD]
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Keyguard")


def totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step `code` belongs to (within the window), or None. The caller refuses a
    step at or before the last one accepted, so that a code seen over a shoulder is spent."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in range(step - TOTP_WINDOW, step + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def totp_code(secret: str, now: datetime) -> str:
    """The code of `now` (what an authenticator app shows; tests and set-up use it)."""
    return pyotp.TOTP(secret).at(now)


def new_recovery_codes() -> list[str]:
    """Ten codes of 80 bits, in groups of four for reading aloud: `xxxx-xxxx-xxxx-xxxx`."""
    return [
        "-".join(secrets.token_hex(8)[i : i + 4] for i in range(0, 16, 4))
        for _ in range(RECOVERY_CODES)
    ]


def normalize_recovery_code(code: str) -> str:
    return code.strip().lower().replace(" ", "").replace("-", "")


def digest(token: str) -> str:
    """SHA-256 of a high-entropy token (session, set-up, recovery): enough, no salt needed,
    because such a token cannot be guessed from a dictionary."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)
