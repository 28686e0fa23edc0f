"""`keyguard usage KEY_ID`: a key's usage history, as the local operator (every partition).

The same query service as `GET /v1/keys/{id}/usage` and `…/usage/sources`: a small chart of
requests per bucket (refusals in red), then where the key was used from.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer
from rich.table import Table
from rich.text import Text

from keyguard.cli.context import state
from keyguard.cli.output import errors_as_exit, print_json, stdout
from keyguard.policy import parse_duration

BAR_WIDTH = 40
SOURCES_SHOWN = 5
# Up to two days the chart is by the hour, beyond by the day.
HOURLY_UP_TO_HOURS = 48


def usage(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key's public id (key_…).")],
    since: Annotated[str, typer.Option(help="How far back: 24h, 7d, 90d…")] = "7d",
    bucket: Annotated[
        Literal["hour", "day"] | None,
        typer.Option(help="Chart by hour or day (default: by the hour up to 48h)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a key's usage: requests by outcome over time, and where it was used from."""
    runtime = state(ctx).runtime
    with errors_as_exit():
        span = parse_duration(since, field="since")
        chosen = bucket or ("hour" if span.total_seconds() <= HOURLY_UP_TO_HOURS * 3600 else "day")
        end = runtime.clock()
        history = runtime.history
        series = history.series(key_id, owner=None, start=end - span, end=end, bucket=chosen)
        sources = history.sources(key_id, owner=None, start=end - span, end=end)
    if json_output:
        print_json({**series.to_json(), "sources": _without_header(sources.to_json())})
        return
    data = series.to_json()
    stdout.print(_headline(data), markup=False)
    stdout.print(_chart(data))
    for kind, title in (
        ("networks", "network"),
        ("countries", "country"),
        ("asns", "ASN"),
        ("user_agents", "user agent"),
        ("endpoints", "endpoint"),
    ):
        seen = sources.to_json()[kind]
        if seen:
            stdout.print(_sources_table(title, seen))


def _without_header(data: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in data.items() if k not in ("key_id", "from", "to")}


def _headline(data: dict[str, object]) -> str:
    totals = data["totals"]
    assert isinstance(totals, dict)  # noqa: S101 - Series.to_json's shape
    denied = totals["requests"] - totals["outcomes"].get("ok", 0)
    return (
        f"{data['key_id']}: {totals['requests']} requests ({denied} refused), "
        f"{totals['recipients']} recipients, {totals['networks']} networks "
        f"from {data['from']} to {data['to']}, by {data['bucket']}"
    )


def _chart(data: dict[str, object]) -> Table:
    buckets = data["buckets"]
    assert isinstance(buckets, list)  # noqa: S101 - Series.to_json's shape
    peak = max((b["requests"] for b in buckets), default=0) or 1
    table = Table("bucket", "requests", "", "refused", "recipients", "networks", box=None)
    hourly = data["bucket"] == "hour"
    for b in buckets:
        refused = b["requests"] - b["outcomes"].get("ok", 0)
        table.add_row(
            b["start"][: 16 if hourly else 10].replace("T", " "),
            str(b["requests"]),
            _bar(b["requests"] - refused, refused, peak),
            str(refused) if refused else "",
            str(b["recipients"]) if b["recipients"] else "",
            str(b["networks"]) if b["networks"] else "",
        )
    return table


def _bar(ok: int, refused: int, peak: int) -> Text:
    """█ per share of the busiest bucket: green for ok, red for refusals (at least one cell
    for any non-zero count, so a single request shows)."""
    cells_ok = max(1, round(ok / peak * BAR_WIDTH)) if ok else 0
    cells_refused = max(1, round(refused / peak * BAR_WIDTH)) if refused else 0
    bar = Text("█" * cells_ok, style="green")
    bar.append("█" * cells_refused, style="red")
    return bar


def _sources_table(title: str, seen: list[dict[str, object]]) -> Table:
    table = Table(title, "requests", "refused", "first seen", "last seen", box=None)
    for s in seen[:SOURCES_SHOWN]:
        table.add_row(
            str(s["value"]),
            str(s["requests"]),
            str(s["denied"]) if s["denied"] else "",
            str(s["first_seen"])[:16].replace("T", " "),
            str(s["last_seen"])[:16].replace("T", " "),
        )
    if len(seen) > SOURCES_SHOWN:
        table.caption = f"{len(seen) - SOURCES_SHOWN} more in --json"
    return table
