"""Re-hash under a new pepper the keys Keyguard delivered: it reads them back from their vault."""

from __future__ import annotations

import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.errors import KeyguardError
from keyguard.keys import PepperRing, RawKey, digest_key
from keyguard.lifecycle import ApiKey
from keyguard.rotation.delivery import Targets
from keyguard.rotation.models import KeyDelivery
from keyguard.verification import Rehash, apply_rehashes


def rehash_delivered(
    sessions: sessionmaker[Session], peppers: PepperRing, targets: Targets, clock: Clock
) -> int:
    """Re-hash under the current pepper every live key still held by its delivery target.

    The only keys Keyguard can re-hash without their holder: it reads them back from the
    vault it delivered them to. A target that now holds another key (a successor), or that
    cannot be read, is skipped. Returns how many keys moved.
    """
    current, now = peppers.current, clock()
    with sessions() as session:
        rows = session.execute(
            select(ApiKey.id, ApiKey.pepper_version, ApiKey.digest, KeyDelivery.target)
            .join(KeyDelivery, KeyDelivery.key_id == ApiKey.id)
            .where(
                ApiKey.pepper_version != current.version,
                ApiKey.state.in_(("active", "rotating", "suspended")),
                ApiKey.expires_at > now,
            )
        ).all()
    batch = [
        Rehash(row.id, row.pepper_version, row.digest, current.version, digest_key(current, raw))
        for row in rows
        if (raw := _held_key(targets, peppers, row.target, row.pepper_version, row.digest))
        is not None
    ]
    return apply_rehashes(sessions, batch, now) if batch else 0


def _held_key(
    targets: Targets, peppers: PepperRing, target: str, version: str, digest: str
) -> RawKey | None:
    """The key `target` holds, if it is the one with `digest` under pepper `version`."""
    try:
        value = targets.open(target).current()
        pepper = peppers.get(version)
    except (KeyguardError, KeyError):
        return None
    if value is None:
        return None
    raw = RawKey(value.reveal())
    return raw if hmac.compare_digest(digest_key(pepper, raw), digest) else None
