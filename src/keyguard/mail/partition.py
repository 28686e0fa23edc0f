"""Partitions: every contact, list, template, campaign and message belongs to a tenant AND an
environment, and a key only ever sees its own partition (a test key never sees live data).

The queries every partitioned CRUD module needs live here, once: a row by id (another
partition's row looks absent), a keyset page with its cursor, a new row stamped with its
partition, and the flush that turns a unique-constraint violation into `already_exists`.
None of them commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session

from keyguard.errors import InvalidInput, NotFound
from keyguard.mail.ids import new_id
from keyguard.verification import KeySnapshot

DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 500


# ClassVar[Mapped[...]]: on the class a column (for queries), on a row its value, as on the
# ORM models themselves.
class Partitioned(Protocol):
    """A row that belongs to one tenant and one environment."""

    tenant_id: ClassVar[Mapped[str]]
    env: ClassVar[Mapped[str]]


class Identified(Partitioned, Protocol):
    """A partitioned row with a public id of its own (`con_…`, `lst_…`, …)."""

    id: ClassVar[Mapped[str]]

    def __init__(self, **values: Any) -> None: ...


T = TypeVar("T")
Row = TypeVar("Row", bound=Identified)


@dataclass(frozen=True, slots=True)
class Partition:
    tenant_id: str
    env: str

    @classmethod
    def of(cls, key: KeySnapshot) -> Partition:
        return cls(key.tenant_id, key.env)

    def owns(self, model: type[Partitioned]) -> ColumnElement[bool]:
        """The WHERE clause that keeps a query of `model` inside this partition."""
        return and_(model.tenant_id == self.tenant_id, model.env == self.env)

    def holds(self, row: Partitioned) -> bool:
        return (row.tenant_id, row.env) == (self.tenant_id, self.env)


def page_size(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    return limit


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of rows; `next` is the cursor of the following page (None on the last)."""

    rows: list[T]
    next: str | None

    def to_json(self, render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
        """`{"data": [...], "next": cursor}`; pass `next` as `after` for the following page."""
        return {"data": [render(r) for r in self.rows], "next": self.next}


def keyset_page(
    session: Session,
    query: Select[T],
    cursor: InstrumentedAttribute[str],
    *,
    limit: int | None,
    after: str | None,
    where: Iterable[ColumnElement[bool]] = (),
    newest_first: bool = False,
) -> Page[T]:
    """Rows of `query` (narrowed by `where`) in `cursor` order, after the `after` cursor. A
    full page has a `next` (its last row's cursor), even when nothing follows it: the page
    after it is then empty."""
    size = page_size(limit)
    if newest_first:
        query = query.order_by(cursor.desc())
        if after:
            query = query.where(cursor < after)
    else:
        query = query.order_by(cursor)
        if after:
            query = query.where(cursor > after)
    rows = list(session.scalars(query.where(*where).limit(size)))
    last: str | None = getattr(rows[-1], cursor.key) if len(rows) == size else None
    return Page(rows, last)


class PartitionedRows(Generic[Row]):
    """The rows of one model with a public id, seen from inside a partition."""

    def __init__(self, model: type[Row], noun: str, id_prefix: str) -> None:
        self.model = model
        self.noun = noun
        self.id_prefix = id_prefix

    def new(self, session: Session, part: Partition, now: datetime, **values: Any) -> Row:
        """A row of this partition, created and updated `now`, added to the session."""
        row = self.model(
            id=new_id(self.id_prefix, now),
            tenant_id=part.tenant_id,
            env=part.env,
            **values,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        return row

    def get(self, session: Session, part: Partition, row_id: str) -> Row:
        row = session.get(self.model, row_id)
        if row is None or not part.holds(row):
            raise NotFound(f"no {self.noun} {row_id!r}")  # other partitions look like absence
        return row

    def select(self, part: Partition) -> Select[Row]:
        return select(self.model).where(part.owns(self.model))

    def page(
        self,
        session: Session,
        part: Partition,
        *,
        limit: int | None = None,
        after: str | None = None,
        where: Iterable[ColumnElement[bool]] = (),
        newest_first: bool = False,
    ) -> Page[Row]:
        """A page of the partition's rows in id order (`newest_first`: descending)."""
        return keyset_page(
            session,
            self.select(part),
            self.model.id,
            limit=limit,
            after=after,
            where=where,
            newest_first=newest_first,
        )

    def delete(self, session: Session, part: Partition, row_id: str) -> None:
        session.delete(self.get(session, part, row_id))


def flush_unique(session: Session, *, field: str, message: str) -> None:
    """Flush; a violated unique constraint becomes `already_exists` on `field`."""
    try:
        session.flush()
    except IntegrityError:  # the caller's transaction is rolled back as this propagates
        raise InvalidInput(message, code="already_exists", field=field) from None
