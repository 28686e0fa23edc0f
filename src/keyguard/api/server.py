"""How Keyguard runs under uvicorn: the same options for `keyguard serve`, tests and benches.

Uvicorn's own proxy-header handling and access log are off on purpose: the client IP is
decided by keyguard.api.auth against the configured trusted proxies only, and uvicorn's
access log would print query strings, where a careless client may have put a key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import uvicorn


def uvicorn_config(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    log_level: str = "info",
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        proxy_headers=False,
        access_log=False,
        server_header=False,
        log_config=None,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=30,
    )
