"""The periodic review digest: each tenant's review, in Markdown, once a week, to its
security contacts (interfaces.ContactMail, wired by the Runtime).

The worker's housekeeping calls `ReviewDigest.run` every hour; a tenant whose last digest
(the `review.digest` audit event) is a week old or more gets a new one. The audit log is the
schedule's memory, so a restarted worker neither skips a week nor sends twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from keyguard import audit
from keyguard.audit import AuditEvent
from keyguard.clock import Clock
from keyguard.lifecycle import Actor, Tenant
from keyguard.review.interfaces import DigestSink, NoDigestSink
from keyguard.review.render import markdown
from keyguard.review.service import Review, ReviewService

DIGEST_EVERY: Final = timedelta(days=7)
SYSTEM: Final = Actor(id="system:review")


def digest_text(review: Review) -> tuple[str, str]:
    """The subject and Markdown body of one tenant's digest."""
    counts: Counter[str] = Counter(f.severity for f in review.findings)
    tenant = ", ".join(review.tenants)
    subject = (
        f"Keyguard access review for {tenant}: {counts['high']} high, "
        f"{counts['medium']} medium, {counts['low']} low"
    )
    return subject, markdown(review)


class ReviewDigest:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        reviews: ReviewService,
        clock: Clock,
        sink: DigestSink | None = None,
        every: timedelta = DIGEST_EVERY,
    ) -> None:
        self._sessions = sessions
        self._reviews = reviews
        self._clock = clock
        self.sink: DigestSink = NoDigestSink() if sink is None else sink
        self._every = every

    def run(self) -> list[str]:
        """Build (and hand to the sink) the digest of every tenant that is due; their ids."""
        sent = []
        for tenant_id in self._due():
            review = self._reviews.review(SYSTEM, tenant_id)
            subject, body = digest_text(review)
            now = self._clock()
            with self._sessions.begin() as session:
                recipients = self.sink.deliver(session, tenant_id, subject, body, now)
                audit.record(
                    session,
                    now,
                    SYSTEM.id,
                    "review.digest",
                    tenant_id=tenant_id,
                    target=tenant_id,
                    findings=len(review.findings),
                    sink=self.sink.name,
                    recipients=recipients,
                )
            sent.append(tenant_id)
        return sent

    def _due(self) -> list[str]:
        since = self._clock() - self._every
        with self._sessions() as session:
            last = dict(
                session.execute(
                    select(AuditEvent.tenant_id, func.max(AuditEvent.ts))
                    .where(AuditEvent.action == "review.digest")
                    .group_by(AuditEvent.tenant_id)
                ).all()
            )
            tenants = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
        return [t for t in tenants if last.get(t) is None or last[t] <= since]
