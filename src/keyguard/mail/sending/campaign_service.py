"""The campaign service the doors call: drafts one transaction per change, and the send."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock
from keyguard.errors import KeyguardError
from keyguard.mail import views
from keyguard.mail.partition import Partition
from keyguard.mail.schemas import CampaignIn, CampaignPatch
from keyguard.mail.sending import campaigns
from keyguard.mail.sending.service import SendingService
from keyguard.mail.transactions import Json, Transactional
from keyguard.mail.usage import Caller


class CampaignsService(Transactional):
    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, sending: SendingService
    ) -> None:
        super().__init__(sessions, clock)
        self._sending = sending  # a send's denials and the worker's wake-up go through it

    def create(self, part: Partition, data: CampaignIn) -> Json:
        return self._write(lambda s, now: views.campaign(campaigns.create(s, part, data, now)))

    def get(self, part: Partition, campaign_id: str) -> Json:
        return self._read(lambda s: views.campaign(campaigns.get(s, part, campaign_id)))

    def page(self, part: Partition, *, limit: int | None = None, after: str | None = None) -> Json:
        found = self._read(lambda s: campaigns.page(s, part, limit=limit, after=after))
        return found.to_json(views.campaign)

    def update(self, part: Partition, campaign_id: str, patch: CampaignPatch) -> Json:
        return self._write(
            lambda s, now: views.campaign(campaigns.update_draft(s, part, campaign_id, patch, now))
        )

    def delete(self, part: Partition, campaign_id: str) -> None:
        self._write(lambda s, _now: campaigns.delete(s, part, campaign_id))

    def send(self, caller: Caller, campaign_id: str) -> Json:
        """Queue the campaign; its usage event (ok or denial) is written here."""
        try:
            result = self._write(
                lambda s, now: views.campaign(campaigns.send(s, caller, campaign_id, now))
            )
        except KeyguardError as error:
            self._sending.record_denial(caller, error)
            raise
        self._sending.notify()
        return result
