"""Pepper rotation: write a new current version, count the keys on each version, retire unused.

A key's digest is an HMAC under the pepper version recorded beside it, and only the raw key can
produce a digest under another version. So a new version never moves keys by itself: each key
moves when it is next verified (keyguard.verification.rehash), or — for a key Keyguard delivered
into a vault — when `keyguard secrets rotate-pepper --rehash` reads it back from there
(keyguard.rotation.service.rehash_delivered). A version is retired once no live key uses it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from keyguard.errors import ConfigurationError, NotFound
from keyguard.keys import PepperRing
from keyguard.lifecycle import ApiKey
from keyguard.secrets.interfaces import SecretProvider
from keyguard.secrets.pepper import format_pepper, parse_pepper

_NUMBERED = re.compile(r"v(\d+)")
# AWS keeps only AWSCURRENT and AWSPREVIOUS labelled; older pepper versions get a label of
# their own so that they stay readable until they are retired.
AWS_PIN_PREFIX = "keyguard-pepper-"


@dataclass(frozen=True, slots=True)
class PepperVersion:
    """One pepper version: its label (what api_keys.pepper_version holds) and provider id."""

    label: str
    version_id: str
    current: bool


@dataclass(frozen=True, slots=True)
class PepperUsage:
    """How many keys a pepper version still hashes.

    Live keys can still authenticate (active, suspended, or rotating within their grace);
    dead ones cannot (revoked, expired, past their grace) and only tell their holder so.
    """

    label: str
    current: bool
    in_provider: bool
    live_keys: int
    dead_keys: int

    @property
    def retirable(self) -> bool:
        return self.in_provider and not self.current and self.live_keys == 0


def pepper_versions(provider: SecretProvider, name: str) -> list[PepperVersion]:
    """Every readable version of the pepper secret, oldest first; NotFound if there is none."""
    found = []
    for version in provider.versions(name):
        pepper = parse_pepper(provider.get(name, version.id), default_label=version.id)
        found.append(PepperVersion(pepper.version, version.id, version.current))
    return found


def ring_versions(ring: PepperRing) -> list[PepperVersion]:
    """The versions of a ring read from the environment (labels are the version ids)."""
    return [PepperVersion(p.version, p.version, p.version == ring.current.version) for p in ring]


def next_label(labels: Iterable[str]) -> str:
    """`v<n+1>` after the highest `v<n>` in use (v1 when there is none)."""
    taken = set(labels)
    numbers = [int(m[1]) for label in taken if (m := _NUMBERED.fullmatch(label))]
    number = max(numbers, default=0) + 1
    while f"v{number}" in taken:
        number += 1
    return f"v{number}"


def rotate_pepper(
    provider: SecretProvider,
    name: str,
    *,
    label: str | None = None,
    token: Callable[[int], str] = secrets.token_hex,
) -> PepperVersion:
    """Write a new pepper version (32 random bytes, hex) and make it current."""
    try:
        # `get` first: on a secret that does not exist yet it says NotFound everywhere, where
        # moto 5.2's ListSecretVersionIds answers 500 (AWS: ResourceNotFoundException).
        provider.get(name)
        existing = pepper_versions(provider, name)
    except NotFound:
        existing = []
    label = label or next_label(v.label for v in existing)
    if any(v.label == label for v in existing):
        raise ConfigurationError(f"pepper label {label!r} is taken; choose another")
    _pin_aws(provider, name, existing)
    version_id = provider.put(name, format_pepper(label, token(32)))
    return PepperVersion(label, version_id, current=True)


def _pin_aws(provider: SecretProvider, name: str, existing: list[PepperVersion]) -> None:
    label_version = getattr(provider, "label", None)
    if provider.kind != "aws" or label_version is None:
        return
    for version in existing:
        label_version(name, version.version_id, AWS_PIN_PREFIX + version.label)


def key_counts(session: Session, now: datetime) -> dict[str, tuple[int, int]]:
    """pepper version → (live keys, dead keys)."""
    dead = or_(
        ApiKey.state == "revoked",
        ApiKey.expires_at <= now,
        and_(ApiKey.state == "rotating", ApiKey.grace_until <= now),
    )
    is_dead = case((dead, 1), else_=0).label("dead")
    count = func.count().label("n")
    rows = session.execute(
        select(ApiKey.pepper_version, is_dead, count).group_by(ApiKey.pepper_version, is_dead)
    ).all()
    counts: dict[str, tuple[int, int]] = {}
    for row in rows:
        version, n = str(row.pepper_version), int(row.n)
        live, gone = counts.get(version, (0, 0))
        counts[version] = (live, gone + n) if row.dead else (live + n, gone)
    return counts


def usage(versions: list[PepperVersion], counts: dict[str, tuple[int, int]]) -> list[PepperUsage]:
    """Each provider version with its key counts, then versions only the database still names
    (keys hashed under a pepper no process can load: they can no longer verify)."""
    result = [PepperUsage(v.label, v.current, True, *counts.get(v.label, (0, 0))) for v in versions]
    known = {v.label for v in versions}
    result += [
        PepperUsage(label, False, False, live, dead)
        for label, (live, dead) in sorted(counts.items())
        if label not in known
    ]
    return result


def retire_unused(
    provider: SecretProvider, name: str, versions: list[PepperVersion], usages: list[PepperUsage]
) -> list[str]:
    """Retire every version no live key uses; returns the labels retired."""
    ids = {v.label: v.version_id for v in versions}
    retired = []
    for item in usages:
        if item.retirable:
            provider.retire(name, ids[item.label])
            retired.append(item.label)
    return retired
