"""The email service: what the HTTP API and SMTP submission accept, and what leaves by SMTP.

Sub-packages, by job::

    audience/     contacts, lists, CSV import, suppressions — who mail may go to
    content/      templates, rendering, the MIME composer, prepared and raw messages
    sending/      acceptance (service.py: validate → policy → quota → outbox + usage event, one
                  transaction), the sending policy, quota, idempotency, campaigns, the outbox
    transport/    the delivery worker (outbox → relay over SMTP) and the relay's config

Shared here: models (ORM only), schemas, addresses, domains, ids, limits, the partition of
data by tenant and environment, usage events, views, metrics; service.py is the facade the
doors use. SMTP submission, a door of its own, is keyguard.smtp.
"""
