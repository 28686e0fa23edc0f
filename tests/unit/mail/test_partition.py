"""The partitioned-row helpers every mail CRUD module stands on: lookup, keyset pages, conflicts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from keyguard.clock import ManualClock
from keyguard.errors import InvalidInput, NotFound
from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.mail.models import Contact, Suppression
from keyguard.mail.partition import Partition, PartitionedRows, flush_unique, keyset_page
from keyguard.runtime import Runtime

LIVE = Partition(DEFAULT_TENANT, "live")
TEST = Partition(DEFAULT_TENANT, "test")
OTHER_TENANT = Partition("other", "live")
CONTACTS = PartitionedRows(Contact, "contact", id_prefix="con")


def add_contacts(session: Session, clock: ManualClock, part: Partition, count: int) -> list[str]:
    """`count` contacts a millisecond apart, so their ids sort in creation order."""
    ids = []
    for n in range(count):
        clock.advance(timedelta(milliseconds=1))
        row = CONTACTS.new(session, part, clock(), email=f"c{n}@example.com", attributes={})
        ids.append(row.id)
    session.flush()
    return ids


def test_a_new_row_carries_its_partition_an_id_with_the_prefix_and_both_timestamps(
    runtime: Runtime, clock: ManualClock
) -> None:
    with runtime.sessions.begin() as session:
        row = CONTACTS.new(session, TEST, clock(), email="a@example.com", attributes={})
        assert (row.tenant_id, row.env) == (DEFAULT_TENANT, "test")
        assert row.id.startswith("con_")
        assert row.created_at == row.updated_at == clock()


@pytest.mark.parametrize("elsewhere", [TEST, OTHER_TENANT], ids=["other env", "other tenant"])
def test_a_row_of_another_partition_looks_absent(
    runtime: Runtime, clock: ManualClock, elsewhere: Partition
) -> None:
    with runtime.sessions.begin() as session:
        [contact_id] = add_contacts(session, clock, LIVE, 1)
        assert CONTACTS.get(session, LIVE, contact_id).id == contact_id
        with pytest.raises(NotFound, match=f"no contact '{contact_id}'"):
            CONTACTS.get(session, elsewhere, contact_id)
        with pytest.raises(NotFound):
            CONTACTS.delete(session, elsewhere, contact_id)
        assert CONTACTS.page(session, elsewhere).rows == []


def test_pages_walk_the_partition_in_id_order_and_a_full_page_names_the_next_cursor(
    runtime: Runtime, clock: ManualClock
) -> None:
    with runtime.sessions.begin() as session:
        ids = add_contacts(session, clock, LIVE, 4)
        add_contacts(session, clock, TEST, 2)
        first = CONTACTS.page(session, LIVE, limit=2)
        second = CONTACTS.page(session, LIVE, limit=2, after=first.next)
        last = CONTACTS.page(session, LIVE, limit=2, after=second.next)
        short = CONTACTS.page(session, LIVE, limit=3, after=ids[1])
    assert ([r.id for r in first.rows], first.next) == (ids[:2], ids[1])
    assert ([r.id for r in second.rows], second.next) == (ids[2:], ids[3])  # full, so a cursor
    assert (last.rows, last.next) == ([], None)
    assert ([r.id for r in short.rows], short.next) == (ids[2:], None)


def test_newest_first_pages_walk_ids_downwards(runtime: Runtime, clock: ManualClock) -> None:
    with runtime.sessions.begin() as session:
        ids = add_contacts(session, clock, LIVE, 3)
        first = CONTACTS.page(session, LIVE, limit=2, newest_first=True)
        rest = CONTACTS.page(session, LIVE, limit=2, after=first.next, newest_first=True)
    assert [r.id for r in first.rows] == [ids[2], ids[1]]
    assert ([r.id for r in rest.rows], rest.next) == ([ids[0]], None)


def test_filters_narrow_a_page_without_leaving_the_partition(
    runtime: Runtime, clock: ManualClock
) -> None:
    with runtime.sessions.begin() as session:
        add_contacts(session, clock, LIVE, 2)
        [test_id, _] = add_contacts(session, clock, TEST, 2)
        found = CONTACTS.page(session, TEST, where=[Contact.email == "c0@example.com"])
    assert [r.id for r in found.rows] == [test_id]


def test_a_page_can_be_keyed_by_a_column_other_than_the_id(
    runtime: Runtime, clock: ManualClock
) -> None:
    with runtime.sessions.begin() as session:
        for part, address in [(LIVE, "c@x.example"), (LIVE, "a@x.example"), (TEST, "b@x.example")]:
            session.add(
                Suppression(
                    tenant_id=part.tenant_id,
                    env=part.env,
                    address=address,
                    reason="manual",
                    created_at=clock(),
                )
            )
        session.flush()
        query = select(Suppression).where(LIVE.owns(Suppression))
        first = keyset_page(session, query, Suppression.address, limit=1, after=None)
        rest = keyset_page(session, query, Suppression.address, limit=2, after=first.next)
    assert ([r.address for r in first.rows], first.next) == (["a@x.example"], "a@x.example")
    assert ([r.address for r in rest.rows], rest.next) == (["c@x.example"], None)


@pytest.mark.parametrize("limit", [0, 501])
def test_a_page_size_outside_1_to_500_is_refused(runtime: Runtime, limit: int) -> None:
    with runtime.sessions() as session, pytest.raises(InvalidInput, match="limit"):
        CONTACTS.page(session, LIVE, limit=limit)


def test_a_unique_conflict_is_already_exists_on_the_named_field(
    runtime: Runtime, clock: ManualClock
) -> None:
    def add_ada() -> None:
        with runtime.sessions.begin() as session:
            CONTACTS.new(session, LIVE, clock(), email="ada@example.com", attributes={})
            flush_unique(session, field="email", message="taken")

    add_ada()
    with pytest.raises(InvalidInput) as raised:
        add_ada()
    error = raised.value
    assert (error.code, error.field, error.message) == ("already_exists", "email", "taken")
