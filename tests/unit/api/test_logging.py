"""The structlog redaction processor: the second line of defence against logging a key."""

from __future__ import annotations

import io
import json
import logging

import structlog

from keyguard.keys import generate_key
from keyguard.logging import configure_logging, make_logger, redact_secrets, scrub


def test_sensitive_fields_are_blanked_whatever_they_hold() -> None:
    event = redact_secrets(
        None, "info", {"authorization": "Bearer x", "X-API-Key": "y", "pepper": "z", "n": 1}
    )
    assert event == {
        "authorization": "[redacted]",
        "X-API-Key": "[redacted]",
        "pepper": "[redacted]",
        "n": 1,
    }


def test_keys_are_masked_anywhere_keeping_the_display_prefix() -> None:
    key = generate_key("live").reveal()
    event = redact_secrets(
        None, "info", {"event": f"saw {key}", "nested": {"headers": [f"Bearer {key}"]}}
    )
    text = json.dumps(event)
    assert key not in text
    assert key[:12] in text


def test_a_near_key_with_a_bad_checksum_is_masked_too() -> None:
    almost = generate_key("test").reveal()[:-1] + "!"
    assert almost[:-1] not in scrub(almost)


def test_credentials_after_an_auth_scheme_are_masked() -> None:
    assert scrub("Authorization: Basic dXNlcjpwYXNz") == "Authorization: Basic [redacted]"
    assert scrub("Bearer abc123def456ghi") == "Bearer [redacted]"
    assert scrub("bearer eyJhbGciOi.eyJzdWIi.c2ln") == "bearer [redacted]"


def test_a_key_glued_to_a_word_is_masked() -> None:
    key = generate_key("live").reveal()
    for text in (f"x{key}", f"_{key}", f"/v1/templates/x{key}", f"?x=_{key}", f"a{key}b"):
        assert key[12:] not in scrub(text), text
        assert key[:12] in scrub(text)


def test_prose_after_an_auth_scheme_is_left_alone() -> None:
    help_text = "send the key as `Authorization: Bearer <key>` or `X-API-Key: <key>`"
    assert scrub(help_text) == help_text
    assert scrub("Bearer token required") == "Bearer token required"


def test_the_json_logger_writes_one_redacted_line_per_event() -> None:
    stream = io.StringIO()
    key = generate_key("dev").reveal()
    make_logger(stream).info("request", path=f"/v1/keys/{key}", authorization=f"Bearer {key}")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "request"
    assert record["authorization"] == "[redacted]"
    assert key not in line


def test_stdlib_extra_fields_reach_the_json_line() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging(stream=stream)
        logging.getLogger("keyguard.rotation.service").warning(
            "rotation.delivered", extra={"key_id": "key_abc", "target": "vault:payments"}
        )
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["event"] == "rotation.delivered"
    assert (line["key_id"], line["target"]) == ("key_abc", "vault:payments")


def test_a_key_in_stdlib_extra_fields_is_redacted() -> None:
    raw = generate_key("live").reveal()
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging(stream=stream)
        logging.getLogger("keyguard.test").warning("x", extra={"reason": f"leaked {raw}"})
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()
    assert raw not in stream.getvalue()
    assert raw[:12] in json.loads(stream.getvalue().splitlines()[-1])["reason"]
