"""Key lifecycle: create, list, show, rotate, revoke, suspend, resume and expiry."""

from keyguard.lifecycle.models import ApiKey, Tenant
from keyguard.lifecycle.service import (
    DEFAULT_GRACE,
    EventSink,
    KeyService,
    KeySpec,
    Narrowing,
    new_key_id,
)
from keyguard.lifecycle.states import ROTATED_REASON, State, effective_state
from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant, get_tenant
from keyguard.lifecycle.views import OPERATOR, Actor, CreatedKey, KeyView

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_TENANT",
    "OPERATOR",
    "ROTATED_REASON",
    "Actor",
    "ApiKey",
    "CreatedKey",
    "EventSink",
    "KeyService",
    "KeySpec",
    "KeyView",
    "Narrowing",
    "State",
    "Tenant",
    "effective_state",
    "ensure_tenant",
    "get_tenant",
    "new_key_id",
]
