"""The HTTP API: create_app(settings | runtime) and the pieces features build routes with.

Extension points for feature packages (mail, …)::

    ROUTERS                      keyguard.api.app: the routers create_app mounts
    EnforcedRoute, require_scope keyguard.api.enforcement: declare a route's scope once
    Principal                    keyguard.api.context: key snapshot, Actor, client ip, UA
    mark_usage_recorded          keyguard.api.context: the route wrote its own usage event
    runtime.limits.consume       keyguard.ratelimit: count units against a daily quota
"""

from keyguard.api.app import ROUTERS, create_app
from keyguard.api.context import Principal, mark_usage_recorded
from keyguard.api.enforcement import EnforcedRoute, require_scope
from keyguard.api.server import GRACEFUL_SHUTDOWN_SECONDS, GracefulServer, uvicorn_config
from keyguard.api.workers import serve_workers

__all__ = [
    "GRACEFUL_SHUTDOWN_SECONDS",
    "ROUTERS",
    "EnforcedRoute",
    "GracefulServer",
    "Principal",
    "create_app",
    "mark_usage_recorded",
    "require_scope",
    "serve_workers",
    "uvicorn_config",
]
