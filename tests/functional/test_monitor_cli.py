"""`keyguard monitor replay` end to end: a file of recorded events in, alerts out.

In-process through Typer's runner for the behaviours; the real entry point in a subprocess
for stdin and for what a user sees on bad input (one line, exit 2, no traceback).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import msgspec
import pytest

from keyguard.monitoring import Event
from tests.functional.cli import Cli
from tests.unit.monitoring.factory import event, invalid
from tests.unit.monitoring.schema import ALERT_SCHEMA


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    # The replay touches no database; one SQLite URL keeps the settings valid.
    return Cli(tmp_path / "data", f"sqlite:///{tmp_path / 'kg.db'}", [])


def _events() -> list[Event]:
    """A week of one key's steady use, then a leaked copy used elsewhere, then guessing."""
    history = [event(h / 2) for h in range(7 * 48)]
    leak = [
        event(7 * 24 + i / 60, ip="203.0.113.9", asn=64999, user_agent="curl/8") for i in range(5)
    ]
    guessing = [invalid(7 * 24 + 1 + i / 600, "192.0.2.66") for i in range(25)]
    return history + leak + guessing


def _jsonl(events: list[Event]) -> str:
    return "".join(msgspec.json.encode(e).decode() + "\n" for e in events)


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text(_jsonl(_events()))
    return path


def _alerts(text: str) -> list[dict[str, object]]:
    alerts = [json.loads(line) for line in text.splitlines()]
    for alert in alerts:
        jsonschema.validate(alert, ALERT_SCHEMA)
    return alerts


def test_replay_writes_valid_alerts_to_the_out_file_and_a_summary_to_stderr(
    cli: Cli, events_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "alerts.jsonl"
    result = cli.run("monitor", "replay", str(events_file), "--out", str(out))
    alerts = _alerts(out.read_text())
    assert [(a["rule"], a["key_id"]) for a in alerts] == [
        ("new_network", "key_a"),
        ("key_guessing", None),
    ]
    assert alerts[0]["ts"] == "2026-11-09T00:00:00.000Z"  # the first request of the leak
    assert result.stdout == ""
    assert f"{7 * 48 + 30} events, 2 alerts" in result.stderr
    assert "events/s" in result.stderr
    assert "high 2" in result.stderr
    assert "key_guessing" in result.stderr


def test_replay_with_json_writes_the_summary_as_one_json_object(
    cli: Cli, events_file: Path
) -> None:
    result = cli.run("monitor", "replay", str(events_file), "--json")
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    summary = json.loads(line)
    assert (summary["events"], summary["alerts"]) == (7 * 48 + 30, 2)
    assert summary["by_severity"] == {"high": 2}
    assert summary["by_rule"] == {"key_guessing": 1, "new_network": 1}
    assert [a["rule"] for a in _alerts(result.stdout)] == ["new_network", "key_guessing"]


def test_replay_without_out_writes_alerts_to_stdout(cli: Cli, events_file: Path) -> None:
    result = cli.run("monitor", "replay", str(events_file))
    assert [a["rule"] for a in _alerts(result.stdout)] == ["new_network", "key_guessing"]


def test_replay_reads_stdin_given_a_dash(cli: Cli, events_file: Path) -> None:
    result = cli.run_process("monitor", "replay", "-", stdin=events_file.read_text())
    assert [a["rule"] for a in _alerts(result.stdout)] == ["new_network", "key_guessing"]


def test_a_bad_line_is_one_error_naming_it_and_exit_2(cli: Cli) -> None:
    text = _jsonl(_events()[:3]) + '{"ts": "yesterday", "outcome": "ok"}\n'
    result = cli.run_process("monitor", "replay", "-", stdin=text, check=2)
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: line 4: not a usage event")
    assert "Traceback" not in result.stderr


def test_a_missing_events_file_is_one_error_and_exit_2(cli: Cli, tmp_path: Path) -> None:
    result = cli.run("monitor", "replay", str(tmp_path / "nope.jsonl"), check=2)
    assert result.stderr.startswith("error: cannot open")


def test_an_empty_stream_is_zero_events(cli: Cli) -> None:
    result = cli.run("monitor", "replay", "-", stdin="")
    assert result.stdout == ""
    assert "0 events, 0 alerts" in result.stderr
