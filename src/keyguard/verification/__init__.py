"""The hot path: parse → checksum → cache → digest lookup → state → scope → restrictions."""

from keyguard.verification.service import Allowed, Decision, Denied, Owner, Verifier
from keyguard.verification.snapshot import KeySnapshot

__all__ = ["Allowed", "Decision", "Denied", "KeySnapshot", "Owner", "Verifier"]
