"""The operator's per-tenant mail settings, one transaction each: sender domains, internal
recipients of test and dev mail, and whether mail of a revoked key is held."""

from __future__ import annotations

from keyguard.mail import domains
from keyguard.mail.transactions import Transactional


class DomainsService(Transactional):
    def add_domain(self, tenant_id: str, domain: str, actor: str) -> bool:
        """False when it was already registered."""
        return self._write(
            lambda s, now: domains.add_domain(
                s, tenant_id=tenant_id, domain=domain, actor=actor, now=now
            )
        )

    def remove_domain(self, tenant_id: str, domain: str, actor: str) -> None:
        self._write(
            lambda s, now: domains.remove_domain(
                s, tenant_id=tenant_id, domain=domain, actor=actor, now=now
            )
        )

    def list_domains(self, tenant_id: str) -> list[str]:
        return self._read(lambda s: domains.list_domains(s, tenant_id))

    def add_internal(self, tenant_id: str, address: str, actor: str) -> bool:
        """False when it was already on the list."""
        return self._write(
            lambda s, now: domains.add_internal(
                s, tenant_id=tenant_id, address=address, actor=actor, now=now
            )
        )

    def remove_internal(self, tenant_id: str, address: str, actor: str) -> None:
        self._write(
            lambda s, now: domains.remove_internal(
                s, tenant_id=tenant_id, address=address, actor=actor, now=now
            )
        )

    def list_internal(self, tenant_id: str) -> list[str]:
        return self._read(lambda s: domains.list_internal(s, tenant_id))

    def holds_revoked_mail(self, tenant_id: str) -> bool:
        return self._read(lambda s: domains.holds_revoked_mail(s, tenant_id))

    def set_hold_revoked_mail(self, tenant_id: str, hold: bool, actor: str) -> bool:
        return self._write(
            lambda s, now: domains.set_hold_revoked_mail(
                s, tenant_id=tenant_id, hold=hold, actor=actor, now=now
            )
        )
