"""The key state machine (docs/lifecycle.md) and the state a key is in at a given time.

::

    active ──rotate──▶ rotating ──grace ends──▶ revoked (reason: rotated)
      │  ▲                 │
    suspend resume       revoke
      ▼  │                 ▼
    suspended ──revoke──▶ revoked          any state ──expires_at──▶ expired
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from keyguard.errors import IllegalTransition

State = Literal["active", "rotating", "suspended", "revoked", "expired"]
Action = Literal["rotate", "revoke", "suspend", "resume"]

ROTATED_REASON: Final = "rotated"

# Which stored states each action may start from. Expiry and the end of a grace window are
# not actions: they follow from the clock, so the effective state is computed, not stored.
ALLOWED_FROM: Final[dict[Action, frozenset[State]]] = {
    "rotate": frozenset({"active"}),
    "revoke": frozenset({"active", "rotating", "suspended", "expired"}),
    "suspend": frozenset({"active"}),
    "resume": frozenset({"suspended"}),
}


def effective_state(
    stored: str, *, expires_at: datetime, grace_until: datetime | None, now: datetime
) -> State:
    """The state a key is really in at `now`, taking expiry and grace windows into account."""
    if stored == "revoked":
        return "revoked"
    if now >= expires_at:
        return "expired"
    if stored == "rotating" and grace_until is not None and now >= grace_until:
        return "revoked"
    return stored  # type: ignore[return-value]  # the remaining stored states are States


def check_transition(action: Action, state: State, key_id: str) -> None:
    """Raise IllegalTransition with a message that says what is possible instead."""
    if state not in ALLOWED_FROM[action]:
        allowed = ", ".join(sorted(ALLOWED_FROM[action]))
        raise IllegalTransition(
            f"cannot {action} key {key_id}: it is {state} (allowed from: {allowed})"
        )
