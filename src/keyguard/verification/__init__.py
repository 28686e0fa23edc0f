"""The hot path: parse → checksum → cache → digest lookup → state → scope → restrictions,
and the gate every door asks (verifier, then the key's request rate)."""

from keyguard.verification.gate import Gate
from keyguard.verification.service import Allowed, Decision, Denied, Owner, Verifier
from keyguard.verification.snapshot import KeySnapshot

__all__ = ["Allowed", "Decision", "Denied", "Gate", "KeySnapshot", "Owner", "Verifier"]
