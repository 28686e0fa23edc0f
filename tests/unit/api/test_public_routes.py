"""A /v1 route runs without a key only when it says so (`x-public`), never by omission."""

from __future__ import annotations

import pytest
from fastapi import APIRouter

from keyguard.api import create_app
from keyguard.api.enforcement import PUBLIC_EXTRA, EnforcedRoute
from keyguard.errors import ConfigurationError
from keyguard.runtime import Runtime


def _router(**extra: str) -> APIRouter:
    router = APIRouter(route_class=EnforcedRoute)

    @router.post("/v1/things", openapi_extra=extra or None)
    def things() -> dict[str, str]:
        return {}

    return router


def test_a_v1_route_without_a_scope_refuses_to_start(runtime: Runtime) -> None:
    with pytest.raises(ConfigurationError):
        create_app(runtime, routers=[_router()])


def test_a_v1_route_marked_public_starts(runtime: Runtime) -> None:
    create_app(runtime, routers=[_router(**{PUBLIC_EXTRA: "signed by its sender"})])
