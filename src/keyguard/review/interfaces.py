"""Where a review digest goes: a Protocol, and the default that sends nothing."""

from __future__ import annotations

from typing import Protocol


class DigestSink(Protocol):
    """Delivers a tenant's review digest to its security contacts.

    The webhooks and security contacts that deliver it are built elsewhere; until a sink is
    wired into the Runtime, the digest is built, audited as not delivered, and dropped.
    """

    name: str

    def deliver(self, tenant_id: str, subject: str, body: str) -> None: ...


class NoDigestSink:
    """The default: delivers nothing (and says so in the audit event)."""

    name: str = "none"

    def deliver(self, tenant_id: str, subject: str, body: str) -> None:
        return None
