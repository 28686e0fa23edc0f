"""Webhooks and security contacts: per-tenant endpoints, a durable outbox, signed delivery.

Public surface::

    emit(session, now, tenant_id, event_type, data)   # outbox rows, in the caller's transaction
    Notifier(mail)      emit + plain-text mail to the security contacts (the lifecycle's events)
    WebhookService      endpoints (create / list / set_enabled / remove / rotate_secret /
                        deliveries), contacts
    WebhookDeliverer    the delivery worker's round (run), its outcomes counter
    ExpiryScan          key.expiring, once per key, N days before expiry
    Backoff             the retry schedule
"""

from keyguard.webhooks.backoff import Backoff
from keyguard.webhooks.delivery import WebhookDeliverer, body_of, signed_headers
from keyguard.webhooks.endpoints import (
    AttemptView,
    ContactView,
    CreatedEndpoint,
    DeliveryView,
    EndpointView,
    WebhookService,
    new_signing_secret,
)
from keyguard.webhooks.events import EVENT_TYPES, emit
from keyguard.webhooks.expiring import ExpiryScan
from keyguard.webhooks.notifier import NoticeOutbox, Notifier, render_notice
from keyguard.webhooks.urls import check_url

__all__ = [
    "EVENT_TYPES",
    "AttemptView",
    "Backoff",
    "ContactView",
    "CreatedEndpoint",
    "DeliveryView",
    "EndpointView",
    "ExpiryScan",
    "NoticeOutbox",
    "Notifier",
    "WebhookDeliverer",
    "WebhookService",
    "body_of",
    "check_url",
    "emit",
    "new_signing_secret",
    "render_notice",
    "signed_headers",
]
