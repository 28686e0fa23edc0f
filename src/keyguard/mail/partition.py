"""Partitions: every contact, list, template, campaign and message belongs to a tenant AND an
environment, and a key only ever sees its own partition (a test key never sees live data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from keyguard.errors import InvalidInput
from keyguard.verification import KeySnapshot

DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 500


@dataclass(frozen=True, slots=True)
class Partition:
    tenant_id: str
    env: str

    @classmethod
    def of(cls, key: KeySnapshot) -> Partition:
        return cls(key.tenant_id, key.env)


def page_size(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    return limit
