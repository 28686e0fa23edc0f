"""The hot path: parse → checksum → cache → digest lookup → state → scope → restrictions,
and the gate every door asks (verifier, then the key's request rate)."""

from keyguard.outcomes import Outcome
from keyguard.verification.cache import SnapshotCache
from keyguard.verification.gate import Gate
from keyguard.verification.invalidation import ChangeFeed
from keyguard.verification.rehash import Rehash, apply_rehashes
from keyguard.verification.service import Allowed, Decision, Denied, Owner, Verifier
from keyguard.verification.snapshot import KeySnapshot

__all__ = [
    "Allowed",
    "ChangeFeed",
    "Decision",
    "Denied",
    "Gate",
    "KeySnapshot",
    "Outcome",
    "Owner",
    "Rehash",
    "SnapshotCache",
    "Verifier",
    "apply_rehashes",
]
