"""The seam where incidents tell people: webhooks and security contacts (not built yet).

Issue 11 builds webhooks (Standard Webhooks, event types `incident.opened`, `incident.resolved`,
`key.revoked` …). Until then the service calls a `Notifier` after each commit, and the
default one does nothing: no notification is sent today, and none is pretended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """One event for a tenant's webhooks and security contacts, after its commit."""

    type: str  # incident.opened, incident.contained, incident.resolved, key.revoked …
    tenant_id: str
    data: dict[str, Any]


class Notifier(Protocol):
    def notify(self, event: IncidentEvent) -> None: ...


class NoNotifier:
    """The default: nothing is delivered (webhooks and contact e-mail do not exist yet)."""

    def notify(self, event: IncidentEvent) -> None:
        return None
