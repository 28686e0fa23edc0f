"""Store, read and rewrap envelope-encrypted secrets; the caller's transaction commits."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Table, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from keyguard.clock import Clock
from keyguard.errors import InvalidInput, NotFound
from keyguard.secrets.envelope import Binding, Envelope, Random, seal, unseal
from keyguard.secrets.interfaces import KeyWrapper, SecretValue, WrappedKey, validate_name
from keyguard.secrets.models import StoredSecret

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]

DEFAULT_BATCH_SIZE = 500
_PURPOSE = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass(frozen=True, slots=True)
class RewrapReport:
    """What a rewrap did: rows moved to `key_id`, and rows another kind of wrapper holds."""

    key_id: str
    rewrapped: int
    batches: int
    other_wrapper: int


def store_secret(
    session: Session,
    wrapper: KeyWrapper,
    *,
    tenant_id: str,
    purpose: str,
    name: str,
    value: SecretValue,
    clock: Clock,
    rng: Random = os.urandom,
) -> StoredSecret:
    """Add `value` as the next version of (tenant, purpose, name); does not flush or commit."""
    _validate(purpose, name)
    latest = session.scalar(
        select(func.max(StoredSecret.version)).where(*_identity(tenant_id, purpose, name))
    )
    row = sealed_row(
        wrapper,
        value,
        tenant_id=tenant_id,
        purpose=purpose,
        name=name,
        version=(latest or 0) + 1,
        now=clock(),
        rng=rng,
    )
    session.add(row)
    return row


def sealed_row(
    wrapper: KeyWrapper,
    value: SecretValue,
    *,
    tenant_id: str,
    purpose: str,
    name: str,
    version: int,
    now: datetime,
    rng: Random = os.urandom,
) -> StoredSecret:
    """A new row holding `value` sealed to the row's own identity; not validated, not added."""
    record_id = rng(16).hex()
    envelope = seal(wrapper, value, Binding(tenant_id, purpose, name, record_id), rng=rng)
    return StoredSecret(
        id=record_id,
        tenant_id=tenant_id,
        purpose=purpose,
        name=name,
        version=version,
        envelope_format=envelope.format,
        wrapper_kind=envelope.wrapper,
        wrapper_key_id=envelope.key_id,
        wrapped_key=envelope.wrapped_key,
        nonce=envelope.nonce,
        ciphertext=envelope.ciphertext,
        created_at=now,
        updated_at=now,
    )


def read_secret(
    session: Session,
    wrapper: KeyWrapper,
    *,
    tenant_id: str,
    purpose: str,
    name: str,
    version: int | None = None,
) -> SecretValue:
    """The latest (or a given) version of a stored secret, decrypted."""
    query = select(StoredSecret).where(*_identity(tenant_id, purpose, name))
    if version is not None:
        query = query.where(StoredSecret.version == version)
    row = session.scalars(query.order_by(StoredSecret.version.desc()).limit(1)).first()
    if row is None:
        raise NotFound(
            f"no stored secret {purpose}/{name}" + (f" version {version}" if version else "")
        )
    return open_stored(wrapper, row).with_version(str(row.version))


def delete_secrets(session: Session, *, tenant_id: str, purpose: str, name: str) -> int:
    """Delete every version of (tenant, purpose, name), for an owner that is going away."""
    result = session.execute(delete(StoredSecret).where(*_identity(tenant_id, purpose, name)))
    return int(getattr(result, "rowcount", 0))


def open_stored(wrapper: KeyWrapper, row: StoredSecret) -> SecretValue:
    """Decrypt one row; fails if its envelope was altered or copied from another row."""
    return unseal(wrapper, envelope_of(row), binding_of(row))


def envelope_of(row: StoredSecret) -> Envelope:
    return Envelope(
        wrapper=row.wrapper_kind,
        key_id=row.wrapper_key_id,
        wrapped_key=row.wrapped_key,
        nonce=row.nonce,
        ciphertext=row.ciphertext,
        format=row.envelope_format,
    )


def binding_of(row: StoredSecret) -> Binding:
    return Binding(row.tenant_id, row.purpose, row.name, row.id)


def rewrap_all(
    session_factory: SessionFactory,
    wrapper: KeyWrapper,
    *,
    clock: Clock,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> RewrapReport:
    """Move every stored data key to the wrapper's current key, batch by batch.

    Each batch is read in one short transaction, rewrapped outside any transaction, and
    written in another, with a condition that skips rows someone else changed meanwhile, so
    the service keeps running and a second rewrap can run at the same time. Old key versions
    must stay able to decrypt until this returns. Safe to interrupt and run again.
    """
    if batch_size < 1:
        raise InvalidInput("batch size must be at least 1", field="batch_size")
    target = wrapper.key_id
    rewrapped = batches = 0
    after = ""
    while rows := _pending(session_factory, wrapper.kind, target, after, batch_size):
        fresh = wrapper.rewrap([WrappedKey(key_id, wrapped) for _, key_id, wrapped in rows])
        rewrapped += _store_rewrapped(session_factory, rows, fresh, clock())
        batches += 1
        after = rows[-1][0]
        log.info("secrets.rewrap.batch", extra={"batch": batches, "rewrapped": rewrapped})
    report = RewrapReport(target, rewrapped, batches, _other_wrapper(session_factory, wrapper.kind))
    log.info("secrets.rewrap.done", extra={"key_id": target, "rewrapped": rewrapped})
    return report


def wrapper_key_usage(session: Session) -> dict[tuple[str, str], int]:
    """How many stored secrets each (wrapper kind, key id) wraps; a key with none may retire."""
    rows = session.execute(
        select(StoredSecret.wrapper_kind, StoredSecret.wrapper_key_id, func.count()).group_by(
            StoredSecret.wrapper_kind, StoredSecret.wrapper_key_id
        )
    ).all()
    return {(kind, key_id): count for kind, key_id, count in rows}


def _pending(
    session_factory: SessionFactory, kind: str, target: str, after: str, limit: int
) -> list[tuple[str, str, bytes]]:
    query = (
        select(StoredSecret.id, StoredSecret.wrapper_key_id, StoredSecret.wrapped_key)
        .where(
            StoredSecret.wrapper_kind == kind,
            StoredSecret.wrapper_key_id != target,
            StoredSecret.id > after,
        )
        .order_by(StoredSecret.id)
        .limit(limit)
    )
    with session_factory() as session, session.begin():
        return [(row.id, row.wrapper_key_id, row.wrapped_key) for row in session.execute(query)]


def _store_rewrapped(
    session_factory: SessionFactory,
    rows: list[tuple[str, str, bytes]],
    fresh: list[WrappedKey],
    now: datetime,
) -> int:
    table = StoredSecret.__table__
    assert isinstance(table, Table)  # noqa: S101 - a declarative model maps a Table
    statement = (
        update(table)
        .where(
            table.c.id == bindparam("row_id"),
            table.c.wrapper_key_id == bindparam("old_key_id"),
            table.c.wrapped_key == bindparam("old_wrapped"),
        )
        .values(
            wrapper_key_id=bindparam("new_key_id"),
            wrapped_key=bindparam("new_wrapped"),
            updated_at=now,
        )
    )
    parameters = [
        {
            "row_id": row_id,
            "old_key_id": key_id,
            "old_wrapped": wrapped,
            "new_key_id": new.key_id,
            "new_wrapped": new.ciphertext,
        }
        for (row_id, key_id, wrapped), new in zip(rows, fresh, strict=True)
    ]
    with session_factory() as session, session.begin():
        result = session.execute(statement, parameters)
        return int(getattr(result, "rowcount", 0))


def _other_wrapper(session_factory: SessionFactory, kind: str) -> int:
    with session_factory() as session, session.begin():
        count = session.scalar(
            select(func.count()).select_from(StoredSecret).where(StoredSecret.wrapper_kind != kind)
        )
    return int(count or 0)


def _identity(tenant_id: str, purpose: str, name: str) -> tuple[ColumnElement[bool], ...]:
    return (
        StoredSecret.tenant_id == tenant_id,
        StoredSecret.purpose == purpose,
        StoredSecret.name == name,
    )


def _validate(purpose: str, name: str) -> None:
    if not _PURPOSE.fullmatch(purpose):
        raise InvalidInput(f"invalid purpose {purpose!r}", code="invalid_purpose", field="purpose")
    validate_name(name)
