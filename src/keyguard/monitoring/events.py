"""The usage event as detection reads it: the PRODUCT.md schema, decoded by msgspec."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Annotated, Final

import msgspec

from keyguard.monitoring.errors import InvalidEvent
from keyguard.outcomes import Outcome

OUTCOMES: Final[frozenset[str]] = frozenset(Outcome.__args__)  # type: ignore[attr-defined]

# Detection needs absolute times: a timestamp without a zone is refused, not guessed.
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class Event(msgspec.Struct, kw_only=True, gc=False):
    """One usage event. Extra fields are ignored; `code` is the holder's problem code
    (`key_rotated` for a rotated-out key, whose outcome is `revoked`)."""

    ts: AwareDatetime
    outcome: Outcome
    method: str
    path: str
    status: int
    key_id: str | None = None
    tenant: str | None = None
    env: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    scope: str | None = None
    recipients: int | None = None
    recipient_domains: list[str] | None = None
    sender: str | None = None
    geo: str | None = None
    asn: int | None = None
    key_last_used_at: AwareDatetime | None = None
    request_id: str | None = None
    code: str | None = None


_decoder: Final = msgspec.json.Decoder(Event)


def decode_event(data: bytes | str) -> Event:
    """One event from its JSON text; msgspec errors pass through."""
    return _decoder.decode(data)


def read_events(lines: Iterable[bytes]) -> Iterator[Event]:
    """Events from JSON lines (blank lines skipped); InvalidEvent names the first bad line."""
    decode = _decoder.decode
    for number, line in enumerate(lines, 1):
        try:
            yield decode(line)
        except msgspec.DecodeError as error:
            if line.strip():
                raise InvalidEvent(_reason(error), line=number) from None


def _reason(error: msgspec.DecodeError) -> str:
    text = str(error)
    if isinstance(error, msgspec.ValidationError):
        return f"not a usage event: {text}"
    return f"not valid JSON: {text}"
