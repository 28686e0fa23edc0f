"""The `kg_<env>_<body><checksum>` format: generation, parsing and the checksum.

Layout (see docs/key-format.md)::

    kg_live_ 3xK9…(26 base62 chars of CSPRNG output) Ab12Cd(6 base62 chars of CRC32)

The checksum lets us reject typos and garbage before touching a cache or the
database, and lets scanners tell a real key from a look-alike without a lookup.
"""

from __future__ import annotations

import re
import secrets
import zlib
from dataclasses import dataclass
from typing import Final, Literal, get_args

from keyguard.keys.secret import RawKey

Environment = Literal["live", "test", "dev"]
ENVIRONMENTS: Final[tuple[Environment, ...]] = get_args(Environment)

ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX: Final = {c: i for i, c in enumerate(ALPHABET)}
# 26 base62 characters carry 26 * log2(62) ~= 154.8 bits; the display prefix reveals four
# of them, which still leaves ~131 secret bits, above the 128-bit floor.
BODY_LENGTH: Final = 26
CHECKSUM_LENGTH: Final = 6  # 62**6 > 2**32, so any CRC32 value fits
DISPLAY_BODY_CHARS: Final = 4

KEY_PATTERN: Final = re.compile(
    rf"\bkg_(live|test|dev)_([0-9A-Za-z]{{{BODY_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})\b"
)
_FULL_MATCH: Final = re.compile(
    rf"kg_(live|test|dev)_([0-9A-Za-z]{{{BODY_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})"
)
MAX_KEY_LENGTH: Final = len("kg_live_") + BODY_LENGTH + CHECKSUM_LENGTH


class InvalidKeyFormat(ValueError):
    """The string is not a well-formed Keyguard key (wrong shape or failed checksum)."""


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which costs
# a measurable share of a cached verification. Nothing mutates a ParsedKey.
@dataclass(slots=True)
class ParsedKey:
    """A key whose shape and checksum are valid; it may still be unknown to the server."""

    env: Environment
    raw: RawKey

    @property
    def display_prefix(self) -> str:
        return display_prefix(self.raw.reveal())


# Every two-character base62 string, so encoding takes three divisions instead of six: this
# runs on every verification.
_PAIRS: Final = tuple(a + b for a in ALPHABET for b in ALPHABET)
_PAIR_BASE: Final = 62 * 62


def encode_checksum(value: int) -> str:
    """Fixed-width base62 of a CRC32 value."""
    high, low = divmod(value, _PAIR_BASE)
    top, middle = divmod(high, _PAIR_BASE)
    return _PAIRS[top] + _PAIRS[middle] + _PAIRS[low]


def _checksum_of(prefix_and_body: str) -> str:
    return encode_checksum(zlib.crc32(prefix_and_body.encode("ascii")))


def generate_key(env: Environment) -> RawKey:
    """A new key for `env`; the body comes from the OS CSPRNG via `secrets`."""
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env!r}")
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    head = f"kg_{env}_{body}"
    return RawKey(head + _checksum_of(head))


def parse_key(text: str) -> ParsedKey:
    """Check shape and checksum; raise InvalidKeyFormat without saying which part failed."""
    # Cheap shape checks first: an oversized or foreign string costs almost nothing.
    if len(text) > MAX_KEY_LENGTH or not text.startswith("kg_"):
        raise InvalidKeyFormat("not a Keyguard key")
    match = _FULL_MATCH.fullmatch(text)
    if match is None or not checksum_valid(text):
        raise InvalidKeyFormat("not a Keyguard key")
    return ParsedKey(env=match.group(1), raw=RawKey(text))  # type: ignore[arg-type]  # the regex admits only live|test|dev


def checksum_valid(text: str) -> bool:
    """True when the last six characters are the CRC32 of the rest (shape not checked)."""
    head, tail = text[:-CHECKSUM_LENGTH], text[-CHECKSUM_LENGTH:]
    try:
        return _checksum_of(head) == tail
    except UnicodeEncodeError:
        return False


def display_prefix(text: str) -> str:
    """The non-secret head shown in listings: `kg_live_3xK9`."""
    env_end = text.index("_", 3) + 1
    return text[: env_end + DISPLAY_BODY_CHARS]
