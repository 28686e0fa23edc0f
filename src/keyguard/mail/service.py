"""MailService: the email domain as the doors see it, one service per subject, built once.

Routes, CLI commands and SMTP submission call the service of their subject directly
(`mail.contacts.create(...)`, `mail.campaigns.send(...)`) and render what it returns. Each
service opens one transaction per state change; the domain helpers it runs take the session
and never commit.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.mail.audience.service import ContactsService, ListsService, SuppressionsService
from keyguard.mail.content.service import TemplatesService
from keyguard.mail.domains_service import DomainsService
from keyguard.mail.sending.campaign_service import CampaignsService
from keyguard.mail.sending.messages import MessagesService, SandboxService
from keyguard.mail.sending.service import Notify, SendingService


class MailService:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, on_accepted: Notify | None = None
    ) -> None:
        self.sending = SendingService(sessions, clock, on_accepted)
        self.domains = DomainsService(sessions, clock)
        self.contacts = ContactsService(sessions, clock)
        self.lists = ListsService(sessions, clock)
        self.suppressions = SuppressionsService(sessions, clock)
        self.templates = TemplatesService(sessions, clock)
        self.campaigns = CampaignsService(sessions, clock, self.sending)
        self.messages = MessagesService(sessions, clock)
        self.sandbox = SandboxService(sessions, clock)
        self.deliveries: Counter[str] = Counter()  # filled by this process's delivery worker
