"""Jinja2 pages (autoescaped), error pages, and the usage chart drawn as inline SVG."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Final

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from keyguard.errors import KeyguardError
from keyguard.usage import Series

NOTICE: Final = (
    "Keyguard staff will never ask you for a key, a password or a code — not by e-mail, "
    "chat or phone. Anyone who asks is not us."
)
NAV: Final = (
    ("/ui/", "Overview", "keys:read"),
    ("/ui/keys", "Keys", "keys:read"),
    ("/ui/alerts", "Alerts", "alerts:read"),
    ("/ui/key-policy", "Key policy", "keys:read"),
    ("/ui/incidents", "Incidents", "keys:read"),
    ("/ui/review", "Access review", "keys:read"),
    ("/ui/audit", "Audit log", "audit:read"),
    ("/ui/webhooks", "Webhooks & contacts", "webhooks:write"),
    ("/ui/users", "Users", "keys:read"),
)


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("keyguard.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    return env


def when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value.replace("T", " ")[:19]
    return value.strftime("%Y-%m-%d %H:%M UTC")


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    session = getattr(request.state, "web_session", None)
    nav = [
        (href, label) for href, label, scope in NAV if session is not None and session.may(scope)
    ]
    body = (
        environment()
        .get_template(template)
        .render(
            request=request,
            session=session,
            nav=nav,
            notice=NOTICE,
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(body, status_code=status)


def error_page(request: Request, error: KeyguardError, status: int) -> HTMLResponse:
    return page(request, "error.html", status=status, message=error.message, code=error.code)


OUTCOME_COLOURS: Final = {"ok": "#1a7f37"}
DENIED_COLOUR: Final = "#b42318"


def usage_chart(series: Series, *, width: int = 720, height: int = 180) -> Markup:
    """Requests per bucket, stacked ok / refused, with a text alternative for screen readers."""
    buckets = series.buckets
    peak = max((b.usage.requests for b in buckets), default=0) or 1
    step = width / max(len(buckets), 1)
    bars = []
    for index, bucket in enumerate(buckets):
        ok = bucket.usage.outcomes.get("ok", 0)
        refused = bucket.usage.requests - ok
        x = index * step
        for value, offset, colour, label in (
            (ok, 0, OUTCOME_COLOURS["ok"], "ok"),
            (refused, ok, DENIED_COLOUR, "refused"),
        ):
            if value <= 0:
                continue
            h = value / peak * (height - 20)
            y = height - (offset / peak * (height - 20)) - h
            bars.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(when(bucket.start))}: '
                f"{value} {label}</title></rect>"
            )
    total = series.totals
    refused_total = total.requests - total.outcomes.get("ok", 0)
    summary = (
        f"{total.requests} requests, {refused_total} refused, "
        f"from {when(series.start)} to {when(series.end)}"
    )
    # Markup is safe here: every interpolated value is a number or went through escape().
    return Markup(  # noqa: S704
        f'<svg class="chart" role="img" aria-label="{escape(summary)}" '
        f'viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="#555"/>'
        f"{''.join(bars)}</svg>"
    )
