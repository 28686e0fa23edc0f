"""mount_dashboard: the dashboard's routers and state on the API's app."""

from __future__ import annotations

from fastapi import FastAPI

from keyguard.runtime import Runtime
from keyguard.web import auth, keys, pages, static, webhooks
from keyguard.web.state import WebState


def mount_dashboard(app: FastAPI, runtime: Runtime) -> None:
    settings = runtime.settings
    app.state.dashboard = WebState(
        runtime=runtime, live=settings.mode == "live", public_url=settings.public_url
    )
    for router in (static.router, auth.router, keys.router, webhooks.router, pages.router):
        app.include_router(router)
