"""One level of decoding where keys hide: base64 blobs and percent-encoded strings.

Only candidates in places where encoded credentials live are decoded: values after `:`
or `=` (Kubernetes secrets, config files, JSON) and `Basic` authorization headers; and
runs of URL characters with `%XX` escapes. Decoded text is scanned once more, never
decoded again.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_to_bytes

# A blob is whole groups of four base64 characters (padding included) after `:`, `=` or
# `Basic`, ending at a non-base64 character: identifiers of other lengths are not decoded.
_BLOB: Final = rb"(?:[0-9A-Za-z+/]{4}){6,}(?:[0-9A-Za-z+/]{2}==|[0-9A-Za-z+/]{3}=)?"
_LEAD: Final = rb"""(?:Basic[ \t]+|[:=][ \t]*["']?)"""
# Hyperscan triggers: each matches wherever the Python candidate pattern below does. The
# base64 one consumes its terminator, so it reports exactly one end offset per blob.
BASE64_TRIGGER: Final = _LEAD + _BLOB + rb"(?:[^0-9A-Za-z+/=]|\z)"
PERCENT_TRIGGER: Final = rb"[0-9A-Za-z=]%[0-9A-Fa-f]{2}"

_BASE64: Final = re.compile(_LEAD + b"(" + _BLOB + rb")(?![0-9A-Za-z+/=])")
_PERCENT: Final = re.compile(rb"(?<=[0-9A-Za-z=])%[0-9A-Fa-f]{2}")
_URL_CHARS: Final = frozenset(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._~+/=:@%-"
)
MIN_DECODED: Final = 16
MIN_PRINTABLE: Final = 0.95
_PRINTABLE: Final = frozenset(range(32, 127)) | {9, 10, 13}


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text and the offset of the encoded blob it came from."""

    offset: int
    text: bytes
    encoding: str


def _mostly_printable(data: bytes) -> bool:
    printable = sum(1 for b in data if b in _PRINTABLE)
    return printable >= MIN_PRINTABLE * len(data)


def decode_base64(blob: bytes) -> bytes | None:
    """Decoded text, or None when the blob is not base64 of something textual."""
    padded = blob.rstrip(b"=")
    padded += b"=" * (-len(padded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < MIN_DECODED or not _mostly_printable(raw):
        return None
    return raw


def base64_candidates(buffer: bytes, lines: Sequence[tuple[int, int]] | None) -> Iterator[Decoded]:
    """Decodable blobs in the whole buffer, or only in `lines` (blobs never span lines)."""
    for start, end in [(0, len(buffer))] if lines is None else lines:
        for match in _BASE64.finditer(buffer, start, end):
            text = decode_base64(match.group(1))
            if text is not None:
                yield Decoded(match.start(1), text, "base64")


def _token_around(buffer: bytes, position: int) -> tuple[int, int]:
    """The run of URL characters that contains `position`."""
    start, end = position, position
    while start > 0 and buffer[start - 1] in _URL_CHARS:
        start -= 1
    while end < len(buffer) and buffer[end] in _URL_CHARS:
        end += 1
    return start, end


def percent_candidates(buffer: bytes) -> Iterator[Decoded]:
    covered = -1
    for match in _PERCENT.finditer(buffer):
        if match.start() < covered:
            continue
        start, end = _token_around(buffer, match.start())
        covered = end
        token = buffer[start:end]
        text = unquote_to_bytes(token)
        if len(text) >= MIN_DECODED and text != token:
            yield Decoded(start, text, "percent")
