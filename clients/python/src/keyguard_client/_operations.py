"""Every API operation the client calls: its OpenAPI operationId, method and path.

Each resource method is tagged with the operation it calls (`@calls(...)`); a test checks
that every operation of the server's /openapi.json has one here, with the same method and
path, and that every one of them is reachable through a method of both clients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar
from urllib.parse import quote

F = TypeVar("F", bound=Callable[..., object])

TAG: Final = "__keyguard_operation__"


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    method: str
    path: str

    def url(self, **params: str) -> str:
        """The path with its parameters filled in, each one percent-encoded whole."""
        return self.path.format(**{name: quote(value, safe="") for name, value in params.items()})


OPERATIONS: Final[dict[str, Operation]] = {}


def _op(operation_id: str, method: str, path: str) -> Operation:
    operation = Operation(operation_id, method, path)
    OPERATIONS[operation_id] = operation
    return operation


def calls(operation: Operation) -> Callable[[F], F]:
    """Tag a method with the operation it calls."""

    def tag(function: F) -> F:
        setattr(function, TAG, operation.id)
        return function

    return tag


HEALTH_GET = _op("health_get", "GET", "/healthz")
READINESS_GET = _op("readiness_get", "GET", "/readyz")
METRICS_GET = _op("metrics_get", "GET", "/metrics")

KEYS_VERIFY = _op("keys_verify", "POST", "/v1/keys/verify")
KEYS_CREATE = _op("keys_create", "POST", "/v1/keys")
KEYS_LIST = _op("keys_list", "GET", "/v1/keys")
KEYS_GET = _op("keys_get", "GET", "/v1/keys/{key_id}")
KEYS_ROTATE = _op("keys_rotate", "POST", "/v1/keys/{key_id}/rotate")
KEYS_REVOKE = _op("keys_revoke", "POST", "/v1/keys/{key_id}/revoke")
KEYS_SUSPEND = _op("keys_suspend", "POST", "/v1/keys/{key_id}/suspend")
KEYS_RESUME = _op("keys_resume", "POST", "/v1/keys/{key_id}/resume")
KEYS_USAGE = _op("keys_usage", "GET", "/v1/keys/{key_id}/usage")
KEYS_USAGE_SOURCES = _op("keys_usage_sources", "GET", "/v1/keys/{key_id}/usage/sources")

USAGE_EVENTS_LIST = _op("usage_events_list", "GET", "/v1/usage/events")

ALERTS_LIST = _op("alerts_list", "GET", "/v1/alerts")
ALERTS_GET = _op("alerts_get", "GET", "/v1/alerts/{alert_id}")
ALERTS_ACK = _op("alerts_ack", "POST", "/v1/alerts/{alert_id}/ack")
ALERTS_RESOLVE = _op("alerts_resolve", "POST", "/v1/alerts/{alert_id}/resolve")
ALERTS_FALSE_POSITIVE = _op("alerts_false_positive", "POST", "/v1/alerts/{alert_id}/false-positive")
ALERTS_UNDO = _op("alerts_undo", "POST", "/v1/alerts/{alert_id}/undo")

AUDIT_LIST = _op("audit_list", "GET", "/v1/audit")

REVIEW_GET = _op("review_get", "GET", "/v1/review")
REVIEW_APPLY = _op("review_apply", "POST", "/v1/review/{finding_id}/apply")

MAIL_SEND = _op("mail_send", "POST", "/v1/mail/send")
MESSAGES_LIST = _op("messages_list", "GET", "/v1/mail/messages")
MESSAGES_GET = _op("messages_get", "GET", "/v1/mail/messages/{message_id}")
MESSAGES_EVENTS = _op("messages_events", "GET", "/v1/mail/messages/{message_id}/events")
SANDBOX_LIST = _op("sandbox_list", "GET", "/v1/sandbox/messages")
SANDBOX_GET = _op("sandbox_get", "GET", "/v1/sandbox/messages/{message_id}")

CONTACTS_LIST = _op("contacts_list", "GET", "/v1/contacts")
CONTACTS_CREATE = _op("contacts_create", "POST", "/v1/contacts")
CONTACTS_IMPORT = _op("contacts_import", "POST", "/v1/contacts/import")
CONTACTS_GET = _op("contacts_get", "GET", "/v1/contacts/{contact_id}")
CONTACTS_UPDATE = _op("contacts_update", "PATCH", "/v1/contacts/{contact_id}")
CONTACTS_DELETE = _op("contacts_delete", "DELETE", "/v1/contacts/{contact_id}")

LISTS_LIST = _op("lists_list", "GET", "/v1/lists")
LISTS_CREATE = _op("lists_create", "POST", "/v1/lists")
LISTS_GET = _op("lists_get", "GET", "/v1/lists/{list_id}")
LISTS_UPDATE = _op("lists_update", "PATCH", "/v1/lists/{list_id}")
LISTS_DELETE = _op("lists_delete", "DELETE", "/v1/lists/{list_id}")
LISTS_MEMBERS_LIST = _op("lists_members_list", "GET", "/v1/lists/{list_id}/members")
LISTS_MEMBERS_ADD = _op("lists_members_add", "POST", "/v1/lists/{list_id}/members")
LISTS_MEMBERS_REMOVE = _op(
    "lists_members_remove", "DELETE", "/v1/lists/{list_id}/members/{contact_id}"
)

TEMPLATES_LIST = _op("templates_list", "GET", "/v1/templates")
TEMPLATES_CREATE = _op("templates_create", "POST", "/v1/templates")
TEMPLATES_GET = _op("templates_get", "GET", "/v1/templates/{ref}")
TEMPLATES_UPDATE = _op("templates_update", "PATCH", "/v1/templates/{ref}")
TEMPLATES_DELETE = _op("templates_delete", "DELETE", "/v1/templates/{ref}")

CAMPAIGNS_LIST = _op("campaigns_list", "GET", "/v1/campaigns")
CAMPAIGNS_CREATE = _op("campaigns_create", "POST", "/v1/campaigns")
CAMPAIGNS_GET = _op("campaigns_get", "GET", "/v1/campaigns/{campaign_id}")
CAMPAIGNS_UPDATE = _op("campaigns_update", "PATCH", "/v1/campaigns/{campaign_id}")
CAMPAIGNS_DELETE = _op("campaigns_delete", "DELETE", "/v1/campaigns/{campaign_id}")
CAMPAIGNS_SEND = _op("campaigns_send", "POST", "/v1/campaigns/{campaign_id}/send")

INCIDENTS_REPORT = _op("incidents_report", "GET", "/v1/incidents/{incident_id}/report")

SUPPRESSIONS_LIST = _op("suppressions_list", "GET", "/v1/suppressions")
SUPPRESSIONS_CREATE = _op("suppressions_create", "POST", "/v1/suppressions")
SUPPRESSIONS_DELETE = _op("suppressions_delete", "DELETE", "/v1/suppressions/{address}")

INCIDENTS_OPEN = _op("incidents_open", "POST", "/v1/incidents")
INCIDENTS_LIST = _op("incidents_list", "GET", "/v1/incidents")
INCIDENTS_GET = _op("incidents_get", "GET", "/v1/incidents/{incident_id}")
INCIDENTS_CONTAIN = _op("incidents_contain", "POST", "/v1/incidents/{incident_id}/contain")
INCIDENTS_RESOLVE = _op("incidents_resolve", "POST", "/v1/incidents/{incident_id}/resolve")
INCIDENTS_NOTE = _op("incidents_note", "POST", "/v1/incidents/{incident_id}/notes")
INCIDENTS_ASSIGN = _op("incidents_assign", "PUT", "/v1/incidents/{incident_id}/owner")
TENANT_KEYS_REVOKE = _op("tenant_keys_revoke", "POST", "/v1/tenant/keys/revoke")
TENANT_KEYS_ROTATE = _op("tenant_keys_rotate", "POST", "/v1/tenant/keys/rotate")

LEAKS_GITHUB = _op("leaks_github", "POST", "/v1/leaks/github")
LEAKS_REPORT = _op("leaks_report", "POST", "/v1/leaks/report")
LEAKS_REVOKE = _op("leaks_revoke", "POST", "/v1/leaks/revoke")
WEBHOOKS_CREATE = _op("webhooks_create", "POST", "/v1/webhooks")
WEBHOOKS_LIST = _op("webhooks_list", "GET", "/v1/webhooks")
WEBHOOKS_DELETE = _op("webhooks_delete", "DELETE", "/v1/webhooks/{webhook_id}")
WEBHOOKS_ROTATE_SECRET = _op(
    "webhooks_rotate_secret", "POST", "/v1/webhooks/{webhook_id}/rotate-secret"
)
WEBHOOKS_DELIVERIES = _op("webhooks_deliveries", "GET", "/v1/webhooks/{webhook_id}/deliveries")
