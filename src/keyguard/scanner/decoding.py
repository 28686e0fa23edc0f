"""One level of decoding where keys hide: base64 blobs and percent-encoded strings.

Only candidates in places where encoded credentials live are decoded: `Basic`
authorization headers in any file; in configuration files (YAML, JSON, .env, TOML, INI,
XML, Terraform… and stdin), also values after `:` or `=` (Kubernetes secrets); and runs
of URL characters with `%XX` escapes. Watching every `x = value` of source code for base64
would cost more than all the rules together. Decoded text is scanned once more, never
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
# `Basic abc…`, and in code `"Basic " + "abc…"`.
_BASIC: Final = rb"""Basic(?:[ \t]+|[ \t]*["'][ \t]*\+[ \t]*["'])"""
_LEAD: Final = rb"""(?:""" + _BASIC + rb"""|[:=][ \t]*["']?)"""
_END: Final = rb"(?:[^0-9A-Za-z+/=]|\z)"
# Hyperscan triggers: each matches wherever the Python candidate pattern below does. The
# base64 ones consume their terminator, so they report exactly one end offset per blob.
BASE64_TRIGGER: Final = _LEAD + _BLOB + _END
BASIC_TRIGGER: Final = _BASIC + _BLOB + _END
# Only escapes of characters that keys contain (`+ / = - . _ : @`); `%20`, `%22`, `%3C`…
# fill encoded text and HTML, and no key needs them.
_KEY_ESCAPE: Final = rb"%(?:2[BbFfDdEe]|3[AaDd]|40|5[Ff])"
PERCENT_TRIGGER: Final = rb"[0-9A-Za-z=]" + _KEY_ESCAPE

_BASE64: Final = re.compile(_LEAD + b"(" + _BLOB + rb")(?![0-9A-Za-z+/=])")
_BASE64_BASIC: Final = re.compile(_BASIC + b"(" + _BLOB + rb")(?![0-9A-Za-z+/=])")
CONFIG_SUFFIXES: Final = (
    ".yaml", ".yml", ".json", ".toml", ".ini", ".cfg", ".conf", ".properties", ".xml",
    ".tf", ".tfvars", ".env", ".hcl", ".plist",
)  # fmt: skip
_PERCENT: Final = re.compile(rb"(?<=[0-9A-Za-z=])" + _KEY_ESCAPE)
_URL_RUN: Final = re.compile(rb"[0-9A-Za-z._~+/=:@%-]+")
MIN_DECODED: Final = 16
# Lines kept before a decoded blob: its key name, and a Kubernetes Secret's name.
CONTEXT_LINES: Final = 5
MIN_PRINTABLE: Final = 0.95
_PRINTABLE: Final = bytes([9, 10, 13, *range(32, 127)])


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text and the offset of the encoded blob it came from."""

    offset: int
    text: bytes
    encoding: str
    prefix: int = 0  # bytes of context (the lines before the blob) at the start of `text`
    length: int = 0  # length of the encoded blob in the buffer


def _mostly_printable(data: bytes) -> bool:
    unprintable = len(data.translate(None, _PRINTABLE))
    return unprintable <= (1 - MIN_PRINTABLE) * len(data)


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


def is_config(path: str) -> bool:
    """Configuration files (and stdin) get every `key: base64` value decoded."""
    name = path.rsplit("/", 1)[-1].lower()
    return path == "-" or name.startswith(".env") or name.endswith(CONFIG_SUFFIXES)


def base64_candidates(
    buffer: bytes, lines: Sequence[tuple[int, int]] | None, *, config: bool
) -> Iterator[Decoded]:
    """Decodable blobs in the whole buffer, or only in `lines` (blobs never span lines)."""
    pattern = _BASE64 if config else _BASE64_BASIC
    for start, end in [(0, len(buffer))] if lines is None else lines:
        for match in pattern.finditer(buffer, start, end):
            text = decode_base64(match.group(1))
            if text is not None:
                begin = _lines_before(buffer, match.start(1), CONTEXT_LINES)
                context = buffer[begin : match.start(1)]
                yield Decoded(
                    match.start(1), context + text, "base64", len(context), len(match.group(1))
                )


def _lines_before(buffer: bytes, offset: int, lines: int) -> int:
    start = buffer.rfind(b"\n", 0, offset) + 1
    for _ in range(lines):
        if start == 0:
            break
        start = buffer.rfind(b"\n", 0, start - 1) + 1
    return start


def percent_candidates(buffer: bytes) -> Iterator[Decoded]:
    """Runs of URL characters holding `%XX`, decoded; each line is tokenised once."""
    line_end = -1
    for match in _PERCENT.finditer(buffer):
        if match.start() < line_end:
            continue
        line_start = buffer.rfind(b"\n", 0, match.start()) + 1
        found = buffer.find(b"\n", match.start())
        line_end = len(buffer) if found < 0 else found
        for token in _URL_RUN.finditer(buffer, line_start, line_end):
            raw = token.group()
            if b"%" not in raw:
                continue
            text = unquote_to_bytes(raw)
            if len(text) >= MIN_DECODED and text != raw:
                context = buffer[
                    _lines_before(buffer, token.start(), CONTEXT_LINES) : token.start()
                ]
                yield Decoded(token.start(), context + text, "percent", len(context), len(raw))
