"""GET /v1/incidents/{id}/report over real HTTP: formats, headers, scope and partition."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from keyguard.clock import ManualClock
from tests.conftest import START
from tests.functional.api.conftest import Api
from tests.unit.usage.factories import event, write


def _incident(api: Api, admin: httpx.Client, clock: ManualClock) -> str:
    victim = api.key("mail:send")
    write(
        api.runtime,
        [
            event(START + timedelta(hours=1), victim, ip="10.1.2.5", user_agent="<b>mailer</b>"),
            event(START + timedelta(days=2), victim, ip="203.0.113.9"),
        ],
    )
    clock.advance(timedelta(days=3))
    opened = admin.post("/v1/incidents", json={"key_id": victim.view.id, "reason": "leaked"})
    assert opened.status_code == 201, opened.text
    return str(opened.json()["id"])


def test_the_json_report_is_the_default(api: Api, admin: httpx.Client, clock: ManualClock) -> None:
    incident = _incident(api, admin, clock)
    answer = admin.get(f"/v1/incidents/{incident}/report")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    report = answer.json()
    assert report["incident"]["id"] == incident
    assert report["window"]["start"] == (START + timedelta(days=2)).isoformat().replace(
        "+00:00", "Z"
    )


@pytest.mark.parametrize(("fmt", "media"), [("html", "text/html"), ("md", "text/markdown")])
def test_html_and_markdown_come_with_a_policy_that_runs_nothing(
    api: Api, admin: httpx.Client, clock: ManualClock, fmt: str, media: str
) -> None:
    incident = _incident(api, admin, clock)
    answer = admin.get(f"/v1/incidents/{incident}/report", params={"format": fmt})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(media)
    assert (
        answer.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    )
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert incident in answer.text and "<b>mailer</b>" not in answer.text


def test_a_report_needs_keys_read_and_another_tenant_sees_none(
    api: Api, admin: httpx.Client, clock: ManualClock
) -> None:
    incident = _incident(api, admin, clock)
    sender = api.client(api.key("mail:send")).get(f"/v1/incidents/{incident}/report")
    assert sender.status_code == 403
    stranger = api.client(api.key("keys:read", tenant="other"))
    missing = stranger.get(f"/v1/incidents/{incident}/report")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    bad = admin.get(f"/v1/incidents/{incident}/report", params={"format": "pdf"})
    assert bad.status_code == 422
