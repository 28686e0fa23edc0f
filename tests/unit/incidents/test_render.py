"""Investigation reports as HTML, Markdown and JSON: self-contained, escaped, key-free."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from keyguard.clock import ManualClock
from keyguard.incidents import OpenRequest, render
from keyguard.lifecycle.views import OPERATOR, CreatedKey
from keyguard.runtime import Runtime
from keyguard.usage import UsageEvent
from tests.conftest import START, create_key
from tests.unit.usage.factories import event, write

SCRIPT = "<script>alert(1)</script>"
LINK = "[click](https://evil.example/x.png)"


def _incident(runtime: Runtime, clock: ManualClock) -> tuple[CreatedKey, str]:
    """A leaked key whose attacker planted markup (and the key itself) in what it sent."""
    created = create_key(runtime, scopes=["mail:send", "contacts:read"])
    raw = created.key.reveal()
    write(runtime, [event(START + timedelta(hours=1), created, ip="10.1.2.5")])
    write(
        runtime,
        [
            event(
                START + timedelta(days=2),
                created,
                ip="203.0.113.9",
                user_agent=SCRIPT,
                path=f"/v1/contacts/{SCRIPT}",
            ),
            event(
                START + timedelta(days=2, minutes=1),
                created,
                ip="203.0.113.9",
                user_agent=f"agent {raw}",
                path=f"/v1/contacts?k={raw}",
            ),
            event(
                START + timedelta(days=2, minutes=3),
                created,
                ip="203.0.113.9",
                user_agent=f"!{LINK}",
            ),
        ],
    )
    with runtime.sessions.begin() as session:  # a row that bypassed the writer's scrubbing
        view = created.view
        session.add(
            UsageEvent(
                ts=START + timedelta(days=2, minutes=2),
                key_id=view.id,
                tenant_id=view.tenant_id,
                env=view.env,
                ip="203.0.113.9",
                user_agent=f"raw {raw}",
                method="GET",
                path="/v1/contacts",
                outcome="ok",
                status=200,
            )
        )
    clock.advance(timedelta(days=3))
    reason = f"pasted {raw} in a ticket {SCRIPT}"
    opened = runtime.incidents.open(OPERATOR, OpenRequest(view.id, reason))
    return created, opened.incident.id


@pytest.fixture
def made(runtime: Runtime, clock: ManualClock) -> tuple[CreatedKey, dict[str, str]]:
    created, incident_id = _incident(runtime, clock)
    report = runtime.incident_reports.build(OPERATOR, incident_id)
    return created, {fmt: render(report, fmt) for fmt in ("html", "md", "json")}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)


def test_html_is_one_file_with_no_external_assets(
    made: tuple[CreatedKey, dict[str, str]],
) -> None:
    page = made[1]["html"]
    parser = _Tags()
    parser.feed(page)
    assert {"style", "svg", "rect"} <= set(parser.tags)
    assert "<title>exposure window</title>" in page
    assert not {"script", "link", "img", "iframe", "object"} & set(parser.tags)
    assert not [a for a in parser.attributes if a[0] in {"src", "href", "srcset", "xlink:href"}]
    assert "url(" not in page and "@import" not in page


def test_html_escapes_markup_from_event_fields_and_the_reason(
    made: tuple[CreatedKey, dict[str, str]],
) -> None:
    page = made[1]["html"]
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "/v1/contacts/&lt;script&gt;" in page


def test_markdown_escapes_markup(made: tuple[CreatedKey, dict[str, str]]) -> None:
    text = made[1]["md"]
    assert SCRIPT not in text and "<script" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert LINK not in text and r"\!\[click\](https://evil.example/x.png)" in text
    assert text.startswith("# Incident inc_")
    assert "## Recommendations" in text


@pytest.mark.parametrize("fmt", ["html", "md", "json"])
def test_a_raw_key_never_appears_in_a_report(
    made: tuple[CreatedKey, dict[str, str]], fmt: str
) -> None:
    created, rendered = made
    raw = created.key.reveal()
    assert raw not in rendered[fmt]
    secret = raw.rsplit("_", 1)[-1]
    assert secret[-12:] not in rendered[fmt]


def test_json_has_the_documented_top_level_keys(made: tuple[CreatedKey, dict[str, str]]) -> None:
    data = json.loads(made[1]["json"])
    assert list(data) == [
        "report_version",
        "generated_at",
        "incident",
        "timeline",
        "key",
        "life",
        "deliveries",
        "window",
        "uses",
        "alerts",
        "impact",
        "recommendations",
    ]
    assert list(data["uses"]) == [
        "totals",
        "networks",
        "asns",
        "countries",
        "user_agents",
        "endpoints",
        "hours",
    ]
    assert list(data["impact"]) == ["could", "scopes_used", "data_read", "mail", "keys_created"]
    assert re.fullmatch(r"inc_\w+", data["incident"]["id"])
    # JSON is for machines: the text as it was stored; whoever displays it escapes it.
    assert SCRIPT in [s["value"] for s in data["uses"]["user_agents"]]
