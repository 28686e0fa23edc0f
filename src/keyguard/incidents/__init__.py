"""Compromise response: incidents (revoke, reissue, blast radius, timeline) and leak intake."""

from keyguard.incidents.bulk import BulkResult, Planned, Selector, TenantResponse
from keyguard.incidents.errors import BadSignature, IncidentClosed
from keyguard.incidents.github import (
    GITHUB_KEY_ID_HEADER,
    GITHUB_KEYS_URL,
    GITHUB_SIGNATURE_HEADER,
    GitHubKeys,
    from_file,
    from_url,
)
from keyguard.incidents.interfaces import IncidentEvent, NoNotifier, Notifier
from keyguard.incidents.leaks import MAX_BATCH, Leak, LeakIntake, Verdict, token_hash
from keyguard.incidents.render import FORMATS, MEDIA_TYPES, render
from keyguard.incidents.report import IncidentReports
from keyguard.incidents.report_views import Report
from keyguard.incidents.service import IncidentService, OpenRequest
from keyguard.incidents.views import IncidentView, Opened, StepView, Successor

__all__ = [
    "FORMATS",
    "GITHUB_KEYS_URL",
    "GITHUB_KEY_ID_HEADER",
    "GITHUB_SIGNATURE_HEADER",
    "MAX_BATCH",
    "MEDIA_TYPES",
    "BadSignature",
    "BulkResult",
    "GitHubKeys",
    "IncidentClosed",
    "IncidentEvent",
    "IncidentReports",
    "IncidentService",
    "IncidentView",
    "Leak",
    "LeakIntake",
    "NoNotifier",
    "Notifier",
    "OpenRequest",
    "Opened",
    "Planned",
    "Report",
    "Selector",
    "StepView",
    "Successor",
    "TenantResponse",
    "Verdict",
    "from_file",
    "from_url",
    "render",
    "token_hash",
]
