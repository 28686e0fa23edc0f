"""Structured JSON logs through structlog, with secret redaction as the last processor before
rendering.

Code should never hand a secret to a logger: keys are `RawKey` objects whose `str` is masked,
and the access log names the key's public id. The redaction processor is the second line of
defence for the day someone logs a header dict or an exception message carrying a key.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Final, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED: Final = "[redacted]"

# Field names whose values are secrets whatever they look like (compared lower-case).
SENSITIVE_FIELDS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api_key",
        "apikey",
        "key",
        "raw_key",
        "password",
        "passwd",
        "secret",
        "token",
        "access_token",
        "pepper",
        "cookie",
        "set-cookie",
    }
)

# Anything shaped like one of our keys, even with a wrong checksum: a typo'd key is still
# almost all of a real key. The first four body characters (the display prefix) are kept.
# No leading word boundary: a key glued to a word ("x<key>", "_<key>") is still a key.
_KEYLIKE: Final = re.compile(r"(kg_(?:live|test|dev)_[0-9A-Za-z]{4})[0-9A-Za-z]{4,}")
# A credential after an auth scheme: at least 8 characters that are not space, quotes or
# angle brackets, and not a plain lower-case word, so that prose such as "Bearer <key>" or
# "Bearer token" is left alone while "Bearer abc123…" and "Basic dXNlcjpwYXNz" are masked.
_BEARER: Final = re.compile(
    r"(?i)\b(bearer|basic)(\s+)(?-i:(?![a-z]+(?:[\s\"',;`<>]|$))[^\s\"',;`<>]{8,})"
)


def scrub(text: str) -> str:
    """Mask key-shaped substrings and credentials after an auth scheme name."""
    if "kg_" in text:
        text = _KEYLIKE.sub(r"\1…" + REDACTED, text)
    if "earer" in text or "asic" in text:
        text = _BEARER.sub(r"\1\2" + REDACTED, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: _redact_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def _redact_field(name: str, value: Any) -> Any:
    if value is not None and name.lower() in SENSITIVE_FIELDS:
        return REDACTED
    return _redact_value(value)


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: blank sensitive fields, mask key-shaped strings anywhere."""
    for name, value in list(event_dict.items()):
        event_dict[name] = _redact_field(name, value)
    return event_dict


def processors() -> list[Processor]:
    """The pipeline every Keyguard JSON log line goes through."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
        structlog.processors.JSONRenderer(sort_keys=False),
    ]


def make_logger(stream: TextIO | None = None, **initial: Any) -> Any:
    """A JSON logger writing to `stream` (stdout by default), independent of global config."""
    return structlog.wrap_logger(
        structlog.WriteLogger(stream or sys.stdout),
        processors=processors(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        **initial,
    )


def configure_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Process-wide setup for `keyguard serve`: structlog and stdlib logs become JSON lines."""
    structlog.configure(
        processors=processors(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *processors()[1:],
            ],
            # ExtraAdder: the fields of `log.info("event", extra={...})` (rotation, secrets,
            # rehash log this way) are the point of the line; without it only the event is left.
            foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder()],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
