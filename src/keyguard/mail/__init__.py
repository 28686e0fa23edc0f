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
