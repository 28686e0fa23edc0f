"""Key format, generation and hashing: pure functions, no I/O.

Public surface::

    generate_key(env) -> RawKey          # a new key, from the OS CSPRNG
    parse_key(text) -> ParsedKey         # raises InvalidKeyFormat before any lookup
    KEY_PATTERN                          # the regex scanners use (docs/key-format.md)
"""

from keyguard.keys.format import (
    ALPHABET,
    BODY_LENGTH,
    CHECKSUM_LENGTH,
    ENVIRONMENTS,
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    Environment,
    InvalidKeyFormat,
    ParsedKey,
    checksum_valid,
    display_prefix,
    generate_key,
    parse_key,
)
from keyguard.keys.hashing import MIN_PEPPER_BYTES, Pepper, PepperRing, digest_key
from keyguard.keys.secret import RawKey

__all__ = [
    "ALPHABET",
    "BODY_LENGTH",
    "CHECKSUM_LENGTH",
    "ENVIRONMENTS",
    "KEY_PATTERN",
    "MAX_KEY_LENGTH",
    "MIN_PEPPER_BYTES",
    "Environment",
    "InvalidKeyFormat",
    "ParsedKey",
    "Pepper",
    "PepperRing",
    "RawKey",
    "checksum_valid",
    "digest_key",
    "display_prefix",
    "generate_key",
    "parse_key",
]
