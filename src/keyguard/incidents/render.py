"""Investigation reports as HTML (one self-contained file), Markdown (for tickets) or JSON.

Every renderer starts from `Report.to_json()` with each string passed through `scrub` once
more (keys are masked in storage already; a report is the last place one must not leak).
Event fields are attacker-controlled (a user agent, a path): HTML escapes every value it
prints, quotes included, and Markdown escapes what would be markup or HTML in a tracker.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Final, Literal

from keyguard.incidents.report_views import KINDS, Report
from keyguard.logging import scrub

Format = Literal["html", "md", "json"]
FORMATS: Final[tuple[str, ...]] = ("html", "md", "json")
MEDIA_TYPES: Final[dict[str, str]] = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


def render(report: Report, fmt: str) -> str:
    data = facts(report)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return markdown(data)
    if fmt == "html":
        return html_page(data)
    raise ValueError(f"unknown format {fmt!r}")


def facts(report: Report) -> dict[str, Any]:
    """The report's JSON with every string scrubbed."""
    scrubbed: dict[str, Any] = _scrub(report.to_json())
    return scrubbed


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


# -- Markdown --------------------------------------------------------------------------------

_MD_SPECIAL: Final = re.compile(r"([\\`*\[\]!|])")  # links, images, code, cells


def _md(value: Any) -> str:
    """One cell or line of text on one line: markup escaped, and HTML as entities (some
    trackers pass raw HTML through and not every one honours a backslash before `<`)."""
    text = html.escape(_text(value), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ").replace("\r", " ")


def _md_table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def markdown(data: dict[str, Any]) -> str:
    inc, key, window = data["incident"], data["key"], data["window"]
    out = [f"# Incident {_md(inc['id'])}: key {_md(key['id'])}", ""]
    out += [f"- **{_md(name)}**: {_md(value)}" for name, value in _summary(data)]
    out += ["", "## The key's life", ""]
    out += _md_table(
        ["time", "actor", "event", "key", "details"],
        [[e["ts"], e["actor"], e["action"], e["key_id"], e["data"]] for e in data["life"]],
    )
    out += ["### Deliveries", ""]
    out += _md_table(
        ["key", "target", "since", "rotate every (s)"],
        [
            [d["key_id"], d["target"], d["created_at"], d["rotate_every_seconds"]]
            for d in data["deliveries"]
        ],
    )
    out += [
        "## Exposure window",
        "",
        f"From {_md(window['start'])} ({_md(_start_basis(window))}) to "
        f"{_md(window['end'])} ({_md(window['end_basis'])}).",
        "",
    ]
    out += ["## Alerts raised", ""]
    out += _md_table(_ALERT_HEADERS, [_alert_row(a) for a in data["alerts"]])
    out += ["## Uses inside the window", ""]
    for kind in KINDS:
        out += [f"### {LABELS[kind]}", ""]
        out += _md_table(_SOURCE_HEADERS, [_source_row(s) for s in data["uses"][kind]])
    out += ["## Impact", ""] + [f"- **{_md(n)}**: {_md(v)}" for n, v in _impact(data)] + [""]
    out += ["## Recommendations", ""]
    out += [f"- {_md(r)}" for r in data["recommendations"]] or ["_none_"]
    out += ["", "## Incident timeline", ""]
    out += _md_table(
        ["time", "actor", "step", "key", "note"],
        [[s["ts"], s["actor"], s["kind"], s["key_id"], s["note"]] for s in data["timeline"]],
    )
    return "\n".join(out)


LABELS: Final = {
    "networks": "Networks (/24, /48)",
    "asns": "ASNs",
    "countries": "Countries",
    "user_agents": "User agents",
    "endpoints": "Endpoints",
}
_SOURCE_HEADERS: Final = ["value", "requests", "denied", "first seen", "last seen", "usual"]


_ALERT_HEADERS: Final = [
    "raised",
    "rule",
    "severity",
    "action",
    "first event",
    "state",
    "in the window",
    "evidence",
]


def _alert_row(a: dict[str, Any]) -> list[Any]:
    inside = "yes" if a["in_window"] else "no"
    return [
        a["ts"], a["rule"], a["severity"], a["action"], a["first_event_ts"], a["state"], inside,
        a["evidence"],
    ]  # fmt: skip


def _source_row(s: dict[str, Any]) -> list[Any]:
    usual = "usual" if s["usual"] else "NEW"
    return [s["value"], s["requests"], s["denied"], s["first_seen"], s["last_seen"], usual]


def _start_basis(window: dict[str, Any]) -> str:
    """Why the window starts where it does, in words."""
    if window["trigger_alert"] is not None:
        return f"the first event of alert {window['trigger_alert']}"
    if window["trigger_network"] is not None:
        return f"the first use from a new network, {window['trigger_network']}"
    return str(window["start_basis"])


def _summary(data: dict[str, Any]) -> list[tuple[str, Any]]:
    inc, key, totals = data["incident"], data["key"], data["uses"]["totals"]
    return [
        ("state", inc["state"]),
        ("reported", f"{inc['opened_at']} by {inc['opened_by']} ({inc['source']})"),
        ("reason", inc["reason"]),
        ("where it leaked", inc["source_url"]),
        ("key", f"{key['name'] or key['id']} ({key['env']}, {key['prefix']}…), {key['state']}"),
        ("created", f"{key['created_at']} by {key['created_by']}"),
        ("scopes", ", ".join(key["scopes"])),
        ("restrictions", key["restrictions"]),
        ("requests in the window", f"{totals['requests']} ({totals['denied']} denied)"),
        ("alerts raised", len(data["alerts"])),
    ]


def _impact(data: dict[str, Any]) -> list[tuple[str, Any]]:
    impact, mail = data["impact"], data["impact"]["mail"]
    rows: list[tuple[str, Any]] = [
        ("could (scopes)", ", ".join(impact["could"])),
        ("messages accepted", f"{mail['messages']} to {mail['recipients']} recipients"),
        ("recipient domains", _pairs(mail["recipient_domains"])),
        ("senders", _pairs(mail["senders"])),
    ]
    if "subjects" in mail:
        rows.append(("subjects", _pairs(mail["subjects"])))
    rows += [
        ("data read", ", ".join(f"{k}: {v}" for k, v in impact["data_read"].items()) or "none"),
        ("keys created", ", ".join(k["id"] for k in impact["keys_created"]) or "none"),
    ]
    return rows


def _pairs(items: list[dict[str, Any]]) -> str:
    return ", ".join(f"{i['value']} ({i['count']})" for i in items) or "none"


# -- HTML ------------------------------------------------------------------------------------

_CSS: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d1d1f}
h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top;
word-break:break-word}th{background:#f4f4f6}dt{font-weight:600}dd{margin:0 0 .4rem 1rem}
.new{color:#b00020;font-weight:600}.usual{color:#555}svg{width:100%;height:auto}
"""


def _e(value: Any) -> str:
    return html.escape(_text(value), quote=True)


def _html_table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_sources(sources: list[dict[str, Any]]) -> str:
    if not sources:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in _SOURCE_HEADERS)
    body = ""
    for s in sources:
        cells = "".join(f"<td>{_e(c)}</td>" for c in _source_row(s)[:-1])
        mark = "usual" if s["usual"] else "new"
        body += f'<tr>{cells}<td class="{mark}">{_e(mark)}</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _dl(items: list[tuple[str, Any]]) -> str:
    return "<dl>" + "".join(f"<dt>{_e(n)}</dt><dd>{_e(v)}</dd>" for n, v in items) + "</dl>"


def chart(hours: list[dict[str, Any]]) -> str:
    """Uses per hour as an inline SVG: accepted in blue, denied in red, the window shaded."""
    width, height, pad = 960, 200, 20
    if not hours:
        return "<p><em>no uses</em></p>"
    top = max(h["accepted"] + h["denied"] for h in hours) or 1
    step = (width - 2 * pad) / len(hours)
    parts = [f'<svg viewBox="0 0 {width} {height + 30}" role="img" aria-label="uses per hour">']
    inside = [i for i, h in enumerate(hours) if h["in_window"]]
    if inside:
        x0, x1 = pad + inside[0] * step, pad + (inside[-1] + 1) * step
        parts.append(
            f'<rect x="{x0:.1f}" y="0" width="{x1 - x0:.1f}" height="{height}" '
            'fill="#fde8e8"><title>exposure window</title></rect>'
        )
    for i, h in enumerate(hours):
        x = pad + i * step
        for value, color, base in (
            (h["accepted"], "#2f6fdb", 0),
            (h["denied"], "#c62828", h["accepted"]),
        ):
            if not value:
                continue
            bar = (height - pad) * value / top
            y = height - (height - pad) * base / top - bar
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 1, 1):.1f}" '
                f'height="{bar:.1f}" fill="{color}"><title>{_e(h["start"])}: '
                f"{value}</title></rect>"
            )
    parts.append(
        f'<text x="{pad}" y="{height + 20}" font-size="12">{_e(hours[0]["start"])}'
        f'</text><text x="{width - pad}" y="{height + 20}" font-size="12" '
        f'text-anchor="end">{_e(hours[-1]["start"])}</text></svg>'
    )
    return "".join(parts)


def html_page(data: dict[str, Any]) -> str:
    inc, key, window = data["incident"], data["key"], data["window"]
    title = f"Incident {inc['id']}: key {key['id']}"
    body = [f"<h1>{_e(title)}</h1>", _dl(_summary(data))]
    body += [
        "<h2>The key's life</h2>",
        _html_table(
            ["time", "actor", "event", "key", "details"],
            [[e["ts"], e["actor"], e["action"], e["key_id"], e["data"]] for e in data["life"]],
        ),
        "<h3>Deliveries</h3>",
        _html_table(
            ["key", "target", "since", "rotate every (s)"],
            [
                [d["key_id"], d["target"], d["created_at"], d["rotate_every_seconds"]]
                for d in data["deliveries"]
            ],
        ),
    ]
    body += [
        "<h2>Exposure window</h2>",
        f"<p>From {_e(window['start'])} ({_e(_start_basis(window))}) to "
        f"{_e(window['end'])} ({_e(window['end_basis'])}).</p>",
        chart(data["uses"]["hours"]),
    ]
    body += [
        "<h2>Alerts raised</h2>",
        _html_table(_ALERT_HEADERS, [_alert_row(a) for a in data["alerts"]]),
    ]
    body.append("<h2>Uses inside the window</h2>")
    for kind in KINDS:
        body += [
            f"<h3>{_e(kind.replace('_', ' ').capitalize())}</h3>",
            _html_sources(data["uses"][kind]),
        ]
    body += ["<h2>Impact</h2>", _dl(_impact(data)), "<h2>Recommendations</h2>"]
    recs = "".join(f"<li>{_e(r)}</li>" for r in data["recommendations"])
    body.append(f"<ul>{recs}</ul>" if recs else "<p><em>none</em></p>")
    body += [
        "<h2>Incident timeline</h2>",
        _html_table(
            ["time", "actor", "step", "key", "note"],
            [[s["ts"], s["actor"], s["kind"], s["key_id"], s["note"]] for s in data["timeline"]],
        ),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )
