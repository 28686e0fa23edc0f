"""The audience services the doors call: contacts (with CSV import), lists, suppressions.

One transaction per state change, answers in the JSON shapes of keyguard.mail.views.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from keyguard.mail import views
from keyguard.mail.audience import contacts, csv_import, lists, suppressions
from keyguard.mail.partition import Partition
from keyguard.mail.schemas import (
    ContactIn,
    ContactPatch,
    ListIn,
    ListPatch,
    MembersIn,
    SuppressionIn,
)
from keyguard.mail.transactions import Json, Transactional


class ContactsService(Transactional):
    def create(self, part: Partition, data: ContactIn) -> Json:
        return self._write(lambda s, now: views.contact(contacts.create(s, part, data, now)))

    def get(self, part: Partition, contact_id: str) -> Json:
        return self._read(lambda s: views.contact(contacts.get(s, part, contact_id)))

    def page(
        self,
        part: Partition,
        *,
        limit: int | None = None,
        after: str | None = None,
        email: str | None = None,
    ) -> Json:
        found = self._read(lambda s: contacts.page(s, part, limit=limit, after=after, email=email))
        return found.to_json(views.contact)

    def update(self, part: Partition, contact_id: str, patch: ContactPatch) -> Json:
        return self._write(
            lambda s, now: views.contact(contacts.update(s, part, contact_id, patch, now))
        )

    def delete(self, part: Partition, contact_id: str) -> None:
        self._write(lambda s, _now: contacts.delete(s, part, contact_id))

    def import_csv(self, part: Partition, data: bytes, list_id: str | None = None) -> Json:
        """Good rows are imported (and added to `list_id`), bad rows reported by line."""
        return self._write(
            lambda s, now: csv_import.import_csv(s, part, data, now, list_id).to_json()
        )


class ListsService(Transactional):
    def create(self, part: Partition, data: ListIn) -> Json:
        return self._write(lambda s, now: views.contact_list(lists.create(s, part, data, now), 0))

    def get(self, part: Partition, list_id: str) -> Json:
        def read(session: Session) -> Json:
            row = lists.get(session, part, list_id)
            return views.contact_list(row, lists.member_count(session, row.id))

        return self._read(read)

    def page(self, part: Partition, *, limit: int | None = None, after: str | None = None) -> Json:
        found = self._read(lambda s: lists.page(s, part, limit=limit, after=after))
        return found.to_json(views.contact_list)

    def update(self, part: Partition, list_id: str, patch: ListPatch) -> Json:
        return self._write(
            lambda s, now: views.contact_list(lists.update(s, part, list_id, patch, now))
        )

    def delete(self, part: Partition, list_id: str) -> None:
        self._write(lambda s, _now: lists.delete(s, part, list_id))

    def members(
        self, part: Partition, list_id: str, *, limit: int | None = None, after: str | None = None
    ) -> Json:
        found = self._read(lambda s: lists.members(s, part, list_id, limit=limit, after=after))
        return found.to_json(views.contact)

    def add_members(self, part: Partition, list_id: str, data: MembersIn) -> Json:
        added = self._write(lambda s, now: lists.add_members(s, part, list_id, data, now))
        return {"added": added}

    def remove_member(self, part: Partition, list_id: str, contact_id: str) -> None:
        self._write(lambda s, _now: lists.remove_member(s, part, list_id, contact_id))


class SuppressionsService(Transactional):
    def add(self, part: Partition, data: SuppressionIn) -> Json:
        return self._write(
            lambda s, now: views.suppression(
                suppressions.add(s, part, data.address, data.reason, now)
            )
        )

    def remove(self, part: Partition, address: str) -> None:
        self._write(lambda s, _now: suppressions.remove(s, part, address))

    def page(self, part: Partition, *, limit: int | None = None, after: str | None = None) -> Json:
        """In address order; `next` is an address."""
        found = self._read(lambda s: suppressions.page(s, part, limit=limit, after=after))
        return found.to_json(views.suppression)
