"""The monitoring error: a recorded usage event that cannot be read."""

from __future__ import annotations

from keyguard.errors import InvalidInput


class InvalidEvent(InvalidInput):
    """A line of a usage-event stream is not a PRODUCT.md usage event; `line` names it."""

    default_code = "invalid_event"

    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(f"line {line}: {message}", field="events")
        self.line = line
