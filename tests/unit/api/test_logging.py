"""The structlog redaction processor: the second line of defence against logging a key."""

from __future__ import annotations

import io
import json

from keyguard.keys import generate_key
from keyguard.logging import make_logger, redact_secrets, scrub


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


def test_the_json_logger_writes_one_redacted_line_per_event() -> None:
    stream = io.StringIO()
    key = generate_key("dev").reveal()
    make_logger(stream).info("request", path=f"/v1/keys/{key}", authorization=f"Bearer {key}")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "request"
    assert record["authorization"] == "[redacted]"
    assert key not in line
