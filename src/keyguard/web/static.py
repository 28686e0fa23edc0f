"""The dashboard's own CSS and JavaScript, served by Keyguard (no CDN, CSP `'self'`)."""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Annotated, Final

from fastapi import APIRouter, Path
from starlette.responses import Response

from keyguard.errors import NotFound
from keyguard.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)
TYPES: Final = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@functools.cache
def _asset(name: str) -> bytes | None:
    resource = files("keyguard.web").joinpath("static", name)
    return resource.read_bytes() if resource.is_file() else None


@router.get("/ui/static/{name}")
def static(name: Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,40}\.(css|js|svg)$")]) -> Response:
    body = _asset(name)
    if body is None:
        raise NotFound(f"no asset {name!r}")
    kind = TYPES[name[name.rindex(".") :]]
    return Response(body, media_type=kind, headers={"Cache-Control": "public, max-age=3600"})
