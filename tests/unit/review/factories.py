"""Keys and usage events for the review tests, made and written the way the service does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from keyguard.lifecycle import DEFAULT_TENANT, OPERATOR, CreatedKey, KeySpec, KeyView
from keyguard.policy import Restrictions
from keyguard.runtime import Runtime
from keyguard.usage import UsageRecord


def make_key(runtime: Runtime, **overrides: Any) -> CreatedKey:
    values: dict[str, Any] = {
        "tenant_id": DEFAULT_TENANT,
        "env": "live",
        "scopes": ["mail:send"],
        "expires_in": timedelta(days=365),
    }
    values.update(overrides)
    return runtime.keys.create(OPERATOR, KeySpec(**values))


def use(
    runtime: Runtime,
    key: CreatedKey | KeyView,
    start: datetime,
    count: int = 12,
    *,
    spacing: timedelta = timedelta(hours=1),
    **fields: Any,
) -> None:
    """`count` successful requests of `key`, one per `spacing` from `start`."""
    view = key.view if isinstance(key, CreatedKey) else key
    for n in range(count):
        values: dict[str, Any] = {
            "ts": start + n * spacing,
            "key_id": view.id,
            "tenant_id": view.tenant_id,
            "env": view.env,
            "method": "POST",
            "path": "/v1/mail/send",
            "scope": "mail:send",
            "outcome": "ok",
            "status": 202,
            "ip": "203.0.113.7",
            "user_agent": "acme-mailer/2.1",
        }
        values.update(fields)
        runtime.usage.submit(UsageRecord(**values))
    runtime.usage.flush()


def view(
    now: datetime,
    *,
    scopes: tuple[str, ...] = ("mail:send",),
    env: str = "live",
    age: timedelta = timedelta(days=40),
    expires_in: timedelta = timedelta(days=300),
    restrictions: Restrictions | None = None,
    last_used_at: datetime | None = None,
) -> KeyView:
    """A hand-built key, for the pure rules."""
    return KeyView(
        id="key_review0000000001",
        tenant_id=DEFAULT_TENANT,
        name="mailer",
        env=env,  # type: ignore[arg-type]  # tests pass valid environments
        display_prefix="kg_live_abcd",
        scopes=scopes,
        restrictions=restrictions or Restrictions(),
        state="active",
        state_reason=None,
        created_at=now - age,
        expires_at=now + expires_in,
        grace_until=None,
        last_used_at=last_used_at,
        created_by=OPERATOR.id,
        parent_id=None,
    )
