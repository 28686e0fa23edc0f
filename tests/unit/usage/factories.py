"""Usage events for the history and retention tests, written the way the service writes them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from keyguard.lifecycle.views import CreatedKey
from keyguard.runtime import Runtime
from keyguard.usage import UsageRecord


def event(ts: datetime, key: CreatedKey | None, **fields: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "ts": ts,
        "method": "GET",
        "path": "/v1/keys",
        "outcome": "ok",
        "status": 200,
        "ip": "203.0.113.7",
        "user_agent": "tests/1.0",
        "scope": "keys:read",
    }
    if key is not None:
        view = key.view
        values.update(key_id=view.id, tenant_id=view.tenant_id, env=view.env)
    values.update(fields)
    return UsageRecord(**values)


def write(runtime: Runtime, events: Iterable[UsageRecord]) -> None:
    for record in events:
        runtime.usage.submit(record)
    runtime.usage.flush()
