"""Public ids sort by creation time and do not repeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keyguard.mail.ids import new_id

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_ids_have_a_prefix_and_a_fixed_length() -> None:
    value = new_id("msg", NOW)
    assert value.startswith("msg_") and len(value) == len("msg_") + 26


def test_later_ids_sort_after_earlier_ones() -> None:
    earlier = [new_id("msg", NOW + timedelta(milliseconds=n)) for n in range(0, 2000, 7)]
    assert earlier == sorted(earlier)


def test_ids_made_in_the_same_millisecond_differ() -> None:
    assert len({new_id("msg", NOW) for _ in range(10_000)}) == 10_000
