"""Fixtures for the HTTP API: a live server over loopback on the test database, and keys."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import select

from keyguard.api import create_app
from keyguard.clock import ManualClock
from keyguard.lifecycle.views import CreatedKey
from keyguard.policy.restrictions import build_restrictions
from keyguard.policy.scopes import ALL_SCOPES
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.usage.models import UsageEvent
from tests.conftest import create_key
from tests.functional.api.servers import ThreadServer


@dataclass
class Api:
    """One running server and what a test needs around it."""

    runtime: Runtime
    server: ThreadServer
    log: io.StringIO
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, key: str | CreatedKey | None = None, **headers: str) -> httpx.Client:
        values = dict(headers)
        if key is not None:
            raw = key.key.reveal() if isinstance(key, CreatedKey) else key
            values["Authorization"] = f"Bearer {raw}"
        client = httpx.Client(base_url=self.url, headers=values, timeout=30)
        self.clients.append(client)
        return client

    def key(
        self,
        *scopes: str,
        env: str = "live",
        tenant: str = "default",
        **restrictions: Any,
    ) -> CreatedKey:
        return create_key(
            self.runtime,
            tenant_id=tenant,
            env=env,
            scopes=list(scopes or ALL_SCOPES),
            restrictions=build_restrictions(**restrictions),
        )

    def usage(self) -> list[UsageEvent]:
        """Every usage event so far, oldest first (flushes the writer's queue first)."""
        self.runtime.usage.flush()
        with self.runtime.sessions() as session:
            return list(session.scalars(select(UsageEvent).order_by(UsageEvent.id)))

    def access_log(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines() if line]

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.stop()


StartApi = Callable[..., Api]


@pytest.fixture
def start_api(runtime: Runtime, settings: Settings, clock: ManualClock) -> Iterator[StartApi]:
    """Start a server; with setting overrides it gets its own Runtime on the same database."""
    started: list[tuple[Api, Runtime | None]] = []

    def start(host: str = "127.0.0.1", routers: Sequence[APIRouter] = (), **overrides: Any) -> Api:
        own = Runtime.build(settings.model_copy(update=overrides), clock) if overrides else None
        log = io.StringIO()
        target = own or runtime
        app = create_app(target, log_stream=log, extra_routers=routers)
        api = Api(target, ThreadServer(app, host).start(), log)
        started.append((api, own))
        return api

    yield start
    for api, own in reversed(started):
        api.stop()
        if own is not None:
            own.close()


@pytest.fixture
def api(start_api: StartApi) -> Api:
    return start_api()


@pytest.fixture
def admin(api: Api) -> httpx.Client:
    """A client holding a key with every scope."""
    return api.client(api.key())
