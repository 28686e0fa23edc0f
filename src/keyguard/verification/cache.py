"""A bounded in-process cache of key snapshots by digest, with TTL and targeted invalidation."""

from __future__ import annotations

import time
from collections.abc import Callable

from keyguard.verification.snapshot import KeySnapshot

Monotonic = Callable[[], float]


class SnapshotCache:
    """digest → (snapshot, expiry). Unknown digests are cached too, for a shorter time,
    so a flood of well-formed but unknown keys cannot turn into one database query each."""

    def __init__(
        self,
        ttl: float,
        max_entries: int = 200_000,
        negative_ttl: float = 5.0,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._max = max_entries
        self._monotonic = monotonic
        self._entries: dict[str, tuple[KeySnapshot | None, float]] = {}
        self._by_key_id: dict[str, str] = {}

    def get(self, digest: str) -> tuple[bool, KeySnapshot | None]:
        """(hit, snapshot); a hit with None means 'known not to exist'."""
        entry = self._entries.get(digest)
        if entry is None:
            return False, None
        snapshot, expires = entry
        if self._monotonic() >= expires:
            self._drop(digest)
            return False, None
        return True, snapshot

    def put(self, digest: str, snapshot: KeySnapshot | None) -> None:
        if len(self._entries) >= self._max:
            self._drop(next(iter(self._entries)))  # oldest insertion first
        ttl = self._ttl if snapshot is not None else self._negative_ttl
        self._entries[digest] = (snapshot, self._monotonic() + ttl)
        if snapshot is not None:
            self._by_key_id[snapshot.id] = digest

    def invalidate_key(self, key_id: str) -> None:
        digest = self._by_key_id.pop(key_id, None)
        if digest is not None:
            self._entries.pop(digest, None)

    def clear(self) -> None:
        self._entries.clear()
        self._by_key_id.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, digest: str) -> None:
        snapshot, _ = self._entries.pop(digest, (None, 0.0))
        if snapshot is not None:
            self._by_key_id.pop(snapshot.id, None)
