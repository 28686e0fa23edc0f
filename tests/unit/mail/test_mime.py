"""The MIME composer: what it writes parses back to exactly what was given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from keyguard.mail.addresses import parse_address
from keyguard.mail.content.mime import Attachment, Composition, compose

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def composition(**overrides: object) -> Composition:
    values: dict[str, object] = {
        "sender": parse_address("News <news@brand.example>"),
        "to": [parse_address("a@example.com")],
        "cc": [],
        "subject": "Hello",
        "text": "Hi there.",
        "html": None,
        "message_id": "<msg_1@brand.example>",
        "date": NOW,
    }
    values.update(overrides)
    return Composition(**values)  # type: ignore[arg-type]


def parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_headers_and_a_plain_text_body() -> None:
    data = compose(composition())
    message = parsed(data)
    assert message["From"] == "News <news@brand.example>"
    assert message["To"] == "a@example.com"
    assert message["Message-ID"] == "<msg_1@brand.example>"
    assert message.get_content().strip() == "Hi there."
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


def test_text_and_html_make_a_multipart_alternative() -> None:
    message = parsed(compose(composition(html="<p>Hi</p>")))
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(preferencelist=("html",))
    assert html is not None and html.get_content().strip() == "<p>Hi</p>"


def test_a_non_ascii_subject_and_name_are_encoded_words() -> None:
    data = compose(
        composition(subject="Grüße – ✓ " * 12, sender=parse_address("Zoë <news@brand.example>"))
    )
    message = parsed(data)
    assert message["Subject"] == "Grüße – ✓ " * 12
    assert str(message["From"]) == "Zoë <news@brand.example>"
    assert data.isascii()
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def test_attachments_survive_byte_for_byte() -> None:
    blob = bytes(range(256)) * 50
    data = compose(
        composition(attachments=[Attachment("report ü.bin", "application/octet-stream", blob)])
    )
    [attachment] = list(parsed(data).iter_attachments())
    assert attachment.get_filename() == "report ü.bin"
    assert attachment.get_content() == blob


def test_custom_headers_are_written_as_given() -> None:
    message = parsed(compose(composition(headers=[("X-Campaign", "spring-24")])))
    assert message["X-Campaign"] == "spring-24"


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=3000))
def test_any_text_body_round_trips(text: str) -> None:
    data = compose(composition(text=text))
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    body = parsed(data).get_body(preferencelist=("plain",))
    assert body is not None
    got = body.get_content().replace("\r\n", "\n")
    assert got.rstrip("\n") == expected.rstrip("\n")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def test_the_same_instant_in_two_zones_gets_each_its_own_date_header() -> None:
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    assert paris == NOW  # one instant: equal datetimes, but not one header
    assert parsed(compose(composition()))["Date"] == "Fri, 27 Nov 2026 10:00:00 +0000"
    assert parsed(compose(composition(date=paris)))["Date"] == "Fri, 27 Nov 2026 11:00:00 +0100"


def test_only_a_line_over_998_octets_makes_ascii_text_quoted_printable() -> None:
    long_line = parsed(compose(composition(text="x" * 999)))
    short_lines = parsed(compose(composition(text="x\n" * 600)))
    assert long_line["Content-Transfer-Encoding"] == "quoted-printable"
    assert short_lines["Content-Transfer-Encoding"] == "7bit"
    assert long_line.get_content().rstrip("\r\n") == "x" * 999
