"""CSV import of contacts: good rows are imported, bad rows are reported with their line.

The first row is the header and must have an `email` column; `first_name` and `last_name`
fill those fields and every other column becomes an attribute. A row whose email exists
updates that contact. Line numbers are those of the file (a quoted field may span lines;
a row is reported at the line where it starts).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from keyguard.errors import InvalidInput, KeyguardError
from keyguard.mail.addresses import reject_injection
from keyguard.mail.audience import contacts, lists
from keyguard.mail.limits import MAX_CSV_BYTES, MAX_CSV_ROWS
from keyguard.mail.models import Contact, ListMember
from keyguard.mail.partition import Partition

NAME_COLUMNS: Final = ("first_name", "last_name")
_COLUMN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
MAX_REPORTED_ERRORS: Final = 1_000


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    code: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "message": self.message}


@dataclass
class ImportSummary:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "failed": len(self.errors),
            "errors": [e.to_json() for e in self.errors[:MAX_REPORTED_ERRORS]],
            "errors_truncated": len(self.errors) > MAX_REPORTED_ERRORS,
        }


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    email: str
    first_name: str | None
    last_name: str | None
    attributes: dict[str, str]


def import_csv(
    session: Session, part: Partition, data: bytes, now: datetime, list_id: str | None = None
) -> ImportSummary:
    """Upsert the good rows (and add them to `list_id`), in the caller's transaction."""
    target = lists.get(session, part, list_id) if list_id else None
    summary = ImportSummary()
    rows = list(_parse(_decode(data), summary))
    existing = contacts.find_by_emails(session, part, [row.email for row in rows])
    ids = [
        _upsert(session, part, row, current=existing.get(row.email), now=now, summary=summary)
        for row in rows
    ]
    session.flush()
    if target is not None:
        _add_members(session, target.id, ids, now)
    summary.errors.sort(key=lambda e: e.line)
    return summary


def _decode(data: bytes) -> str:
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_CSV_BYTES} bytes", code="csv_too_large")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"the file is not UTF-8 (byte {exc.start})", code="invalid_csv"
        ) from None


def _parse(text: str, summary: ImportSummary) -> Iterator[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = _header(reader)
    seen: dict[str, int] = {}
    start = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the rest of the file cannot be trusted to line up
            summary.errors.append(RowError(start, "malformed_csv", str(exc)))
            return
        line, start = start, reader.line_num + 1
        if not any(f.strip() for f in fields):
            continue
        summary.rows += 1
        if summary.rows > MAX_CSV_ROWS:
            summary.errors.append(RowError(line, "too_many_rows", f"over {MAX_CSV_ROWS} rows"))
            return
        row = _row(line, header, fields, seen, summary)
        if row is not None:
            yield row


def _header(reader: Any) -> list[str]:
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error):
        raise InvalidInput("the file has no header row", code="invalid_csv") from None
    if "email" not in header:
        raise InvalidInput("the header row has no 'email' column", code="invalid_csv")
    if len(set(header)) != len(header):
        raise InvalidInput("the header row repeats a column", code="invalid_csv")
    for name in header:
        if not _COLUMN.fullmatch(name):
            raise InvalidInput(f"invalid column name {name!r}", code="invalid_csv")
    return header


def _row(
    line: int, header: list[str], fields: list[str], seen: dict[str, int], summary: ImportSummary
) -> _Row | None:
    if len(fields) != len(header):
        summary.errors.append(
            RowError(line, "wrong_field_count", f"{len(fields)} fields, expected {len(header)}")
        )
        return None
    values = {name: value.strip() for name, value in zip(header, fields, strict=True)}
    try:
        email = contacts.normalize_email(values.pop("email"))
        names = {n: values.pop(n, "") or None for n in NAME_COLUMNS}
        attributes = {k: v for k, v in values.items() if v}
        contacts.checked_attributes(attributes)
        for name, value in names.items():
            if value is not None:
                reject_injection(value, name)
    except KeyguardError as error:
        summary.errors.append(RowError(line, error.code, error.message))
        return None
    if email in seen:
        summary.errors.append(
            RowError(line, "duplicate_email", f"{email} already appears on line {seen[email]}")
        )
        return None
    seen[email] = line
    return _Row(line, email, names["first_name"], names["last_name"], attributes)


def _upsert(
    session: Session,
    part: Partition,
    row: _Row,
    *,
    current: Contact | None,
    now: datetime,
    summary: ImportSummary,
) -> str:
    if current is None:
        current = contacts.ROWS.new(
            session,
            part,
            now,
            email=row.email,
            first_name=row.first_name,
            last_name=row.last_name,
            attributes=row.attributes,
        )
        summary.created += 1
        return current.id
    current.first_name = row.first_name or current.first_name
    current.last_name = row.last_name or current.last_name
    current.attributes = {**current.attributes, **row.attributes}
    current.updated_at = now
    summary.updated += 1
    return current.id


def _add_members(session: Session, list_id: str, contact_ids: list[str], now: datetime) -> None:
    present = set(
        session.scalars(select(ListMember.contact_id).where(ListMember.list_id == list_id))
    )
    new = [cid for cid in dict.fromkeys(contact_ids) if cid not in present]
    if new:
        session.execute(
            insert(ListMember),
            [{"list_id": list_id, "contact_id": cid, "added_at": now} for cid in new],
        )
