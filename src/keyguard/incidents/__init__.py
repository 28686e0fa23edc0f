"""Compromise response: incidents (revoke, reissue, blast radius, timeline) and leak intake."""

from keyguard.incidents.bulk import BulkResult, Planned, Selector, TenantResponse
from keyguard.incidents.errors import BadSignature, IncidentClosed
from keyguard.incidents.interfaces import IncidentEvent, NoNotifier, Notifier
from keyguard.incidents.service import IncidentService, OpenRequest
from keyguard.incidents.views import IncidentView, Opened, StepView, Successor

__all__ = [
    "BadSignature",
    "BulkResult",
    "IncidentClosed",
    "IncidentEvent",
    "IncidentService",
    "IncidentView",
    "NoNotifier",
    "Notifier",
    "OpenRequest",
    "Opened",
    "Planned",
    "Selector",
    "StepView",
    "Successor",
    "TenantResponse",
]
