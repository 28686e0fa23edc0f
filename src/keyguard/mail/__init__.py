"""The email service: send, contacts, lists, templates, campaigns, outbox, delivery, submission.

Modules::

    models        ORM only (tables listed in its docstring)
    addresses     strict address parsing, pure
    mime          the MIME composer, pure
    rendering     {{variable}} templates, pure
    policy        per-key sending policy, pure
    sending       acceptance: validate → policy → quota → outbox + usage event, one transaction
    contacts, lists, templates, campaigns, suppressions, domains, messages   CRUD services
    outbox        claims with leases, completion, backoff, dead letters
    delivery      the worker: outbox → relay over SMTP (aiosmtplib)
    submission    the SMTP submission server (aiosmtpd)
"""
