"""The email service: what the HTTP API and SMTP submission accept, and what leaves by SMTP.

Sub-packages, by job::

    audience/     contacts, lists, CSV import, suppressions — who mail may go to
    content/      templates, rendering, the MIME composer, prepared and raw messages
    sending/      acceptance (service.py: validate → policy → quota → outbox + usage event, one
                  transaction), the sending policy, quota, idempotency, campaigns, the outbox
    transport/    the delivery worker (outbox → relay over SMTP) and the relay's config

Shared here: models (ORM only), schemas, addresses, domains, ids, limits, the partition of
data by tenant and environment (partition.py: the partitioned-row queries every CRUD module
uses), usage events, views, metrics.

The doors call services, one per subject, each opening one transaction per state change
(transactions.py): audience/service.py (contacts, lists, suppressions), content/service.py
(templates), sending/campaign_service.py, sending/messages.py (messages, the sandbox),
sending/service.py (acceptance), domains_service.py. service.py builds them once, as the
attributes of MailService (`runtime.mail.contacts.create(...)`). SMTP submission, a door of
its own, is keyguard.smtp.
"""

from keyguard.mail.addresses import Address, parse_address
from keyguard.mail.limits import (
    MAX_CSV_BYTES,
    MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_RECIPIENTS_PER_MESSAGE,
    MAX_REQUEST_BYTES,
)
from keyguard.mail.metrics import MailCollector
from keyguard.mail.partition import Partition
from keyguard.mail.schemas import (
    BatchIn,
    CampaignIn,
    CampaignPatch,
    ContactIn,
    ContactPatch,
    ListIn,
    ListPatch,
    MembersIn,
    MessageIn,
    SuppressionIn,
    TemplateIn,
    TemplatePatch,
)
from keyguard.mail.sending.notices import enqueue_notice
from keyguard.mail.sending.outbox import RetryPolicy
from keyguard.mail.sending.policy import TenantMailPolicy, check_recipient, check_sender
from keyguard.mail.sending.service import SendingService, SendOutcome
from keyguard.mail.service import MailService
from keyguard.mail.transport.delivery import DeliveryWorker, WorkerConfig
from keyguard.mail.transport.relay import RelayConfig
from keyguard.mail.usage import Caller

__all__ = [
    "MAX_CSV_BYTES",
    "MAX_IDEMPOTENCY_KEY_CHARS",
    "MAX_MESSAGE_BYTES",
    "MAX_RECIPIENTS_PER_MESSAGE",
    "MAX_REQUEST_BYTES",
    "Address",
    "BatchIn",
    "Caller",
    "CampaignIn",
    "CampaignPatch",
    "ContactIn",
    "ContactPatch",
    "DeliveryWorker",
    "ListIn",
    "ListPatch",
    "MailCollector",
    "MailService",
    "MembersIn",
    "MessageIn",
    "Partition",
    "RelayConfig",
    "RetryPolicy",
    "SendOutcome",
    "SendingService",
    "SuppressionIn",
    "TemplateIn",
    "TemplatePatch",
    "TenantMailPolicy",
    "WorkerConfig",
    "check_recipient",
    "check_sender",
    "enqueue_notice",
    "parse_address",
]
