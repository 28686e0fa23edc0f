"""The dashboard's small decisions: cookies' Secure flag, open redirects, the CSRF check, the
chart's escaping, and the headers of live mode."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from starlette.requests import Request

from keyguard.errors import PermissionDenied
from keyguard.usage import Series
from keyguard.users import SessionView
from keyguard.web.auth import _local
from keyguard.web.deps import check_csrf
from keyguard.web.render import usage_chart
from keyguard.web.state import WebState

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)


def _request(url: str, *, origin: str | None = None, public_url: str | None = None) -> Request:
    scheme, rest = url.split("://", 1)
    host = rest.split("/", 1)[0]
    headers = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin else [])
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "server": None,
            "path": "/ui/",
            "headers": headers,
            "query_string": b"",
            "app": _App(WebState(runtime=None, live=False, public_url=public_url)),  # type: ignore[arg-type]  # not read
        }
    )


class _App:
    """What web_state() reads of the app: app.state.dashboard."""

    def __init__(self, dashboard: WebState) -> None:
        self.state = SimpleNamespace(dashboard=dashboard)


def _view(csrf: str = "c" * 64) -> SessionView:
    return SessionView(
        "id",
        "usr_1",
        "a@example.com",
        "default",
        "owner",
        "live",
        {"default": "owner"},
        NOW,
        NOW,
        csrf,
    )


@pytest.mark.parametrize(
    ("live", "url", "secure"),
    [
        (False, "http://localhost:8080/ui/", False),
        (False, "http://127.0.0.1:8080/ui/", False),
        (False, "http://keyguard.example/ui/", True),  # dev mode off loopback: Secure anyway
        (False, "https://keyguard.example/ui/", True),
        (True, "http://localhost:8080/ui/", True),
    ],
)
def test_cookies_are_secure_except_in_dev_mode_on_loopback(
    live: bool, url: str, secure: bool
) -> None:
    state = WebState(runtime=None, live=live)  # type: ignore[arg-type]  # the runtime is not read
    assert state.secure_cookies(_request(url)) is secure


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/ui/", "/ui/\\evil", "javascript:alert(1)", "/other"],
)
def test_redirect_targets_stay_on_the_dashboard(target: str) -> None:
    assert _local(target) == "/ui/"


def test_a_dashboard_path_is_kept() -> None:
    assert _local("/ui/keys/new") == "/ui/keys/new"


def test_the_csrf_check_refuses_a_wrong_token_and_a_foreign_origin() -> None:
    view = _view()
    check_csrf(_request("http://localhost:8080/ui/"), view, {"csrf": view.csrf})
    with pytest.raises(PermissionDenied):
        check_csrf(_request("http://localhost:8080/ui/"), view, {"csrf": "x" * 64})
    with pytest.raises(PermissionDenied):
        check_csrf(
            _request("http://localhost:8080/ui/", origin="https://evil.example"),
            view,
            {"csrf": view.csrf},
        )
    with pytest.raises(PermissionDenied):
        check_csrf(_request("http://localhost:8080/ui/"), None, {"csrf": ""})


def test_with_a_public_url_forms_must_come_from_it_whatever_the_request_says() -> None:
    view = _view()
    public = "https://keys.example.test"
    behind = _request("http://127.0.0.1:8080/ui/", origin=public, public_url=public)
    check_csrf(behind, view, {"csrf": view.csrf})
    with pytest.raises(PermissionDenied):
        check_csrf(
            _request(
                "http://127.0.0.1:8080/ui/", origin="http://127.0.0.1:8080", public_url=public
            ),
            view,
            {"csrf": view.csrf},
        )


def test_a_public_url_names_the_passkey_host_and_makes_cookies_secure() -> None:
    state = WebState(runtime=None, live=False, public_url="https://keys.example.test")  # type: ignore[arg-type]  # not read
    request = _request("http://127.0.0.1:8080/ui/")
    assert (state.host(request), state.origin(request)) == (
        "keys.example.test",
        "https://keys.example.test",
    )
    assert state.secure_cookies(request) is True
    plain = WebState(runtime=None, live=False)  # type: ignore[arg-type]  # not read
    assert (plain.host(request), plain.origin(request)) == ("127.0.0.1", "http://127.0.0.1:8080")


def test_the_chart_is_svg_with_a_text_alternative() -> None:
    series = Series(
        key_id="key_a", start=NOW, end=NOW, bucket="hour", buckets=[], rollups_until=NOW
    )
    svg = str(usage_chart(series))
    assert svg.startswith('<svg class="chart" role="img" aria-label="0 requests, 0 refused')
    assert "<script" not in svg
