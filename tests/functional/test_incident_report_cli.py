"""`keyguard incident report ID --format html|md|json [--out FILE]` end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from keyguard.lifecycle import ApiKey
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.usage import UsageRecord
from tests.conftest import START, TEST_PEPPER
from tests.functional.cli import Cli
from tests.unit.usage.factories import write


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    cli = Cli(tmp_path / "data", database_url, [])
    cli.run("init")
    return cli


@pytest.fixture
def runtime_of(cli: Cli) -> Iterator[Runtime]:
    """The service's side of the same database, to leave usage events behind."""
    settings = Settings(data_dir=cli.data_dir, database_url=cli.database_url, pepper=TEST_PEPPER)
    runtime = Runtime.build(settings)
    yield runtime
    runtime.close()


def _incident(cli: Cli, runtime: Runtime) -> str:
    key = json.loads(
        cli.run("keys", "create", "--env", "live", "--scope", "mail:send", "--json").stdout
    )

    def used(hours_ago: float, ip: str, agent: str) -> UsageRecord:
        return UsageRecord(
            ts=START - timedelta(hours=hours_ago),
            method="POST",
            path="/v1/mail/send",
            outcome="ok",
            status=202,
            key_id=key["id"],
            tenant_id="default",
            env="live",
            ip=ip,
            user_agent=agent,
            scope="mail:send",
        )

    with runtime.sessions.begin() as session:  # made three days ago, so that it has a past
        session.get(ApiKey, key["id"]).created_at = START - timedelta(hours=72)  # type: ignore[union-attr]
    write(
        runtime,
        [
            used(70, "10.1.2.5", "mailer/2"),
            used(50, "10.1.2.6", "mailer/2"),
            used(1, "203.0.113.9", "evil/1"),
        ],
    )
    opened = cli.run("incident", "open", key["id"], "--reason", "in a public gist", "--json")
    return str(json.loads(opened.stdout)["id"])


def test_the_json_report_names_the_window_the_new_network_and_recommendations(
    cli: Cli, runtime_of: Runtime
) -> None:
    incident = _incident(cli, runtime_of)
    report = json.loads(cli.run("incident", "report", incident, "--format", "json").stdout)
    assert (
        json.loads(cli.run("incident", "report", incident, "--json").stdout)["window"]
        == (report["window"])
    )
    assert report["incident"]["id"] == incident
    assert report["incident"]["reason"] == "in a public gist"
    assert report["window"]["start_basis"] == "anomaly"
    assert report["window"]["end_basis"] == "key.revoked"
    assert [(n["value"], n["usual"]) for n in report["uses"]["networks"]] == [
        ("203.0.113.0/24", False)
    ]
    assert any(r.startswith("add a CIDR allowlist") for r in report["recommendations"])


def test_html_goes_to_a_file_and_markdown_to_stdout(
    cli: Cli, runtime_of: Runtime, tmp_path: Path
) -> None:
    incident = _incident(cli, runtime_of)
    out = tmp_path / "report.html"
    cli.run("incident", "report", incident, "--format", "html", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and incident in page
    text = cli.run("incident", "report", incident, "--format", "md").stdout
    assert text.startswith(f"# Incident {incident}")


def test_an_unknown_incident_or_format_is_refused(cli: Cli) -> None:
    assert "no incident" in cli.run("incident", "report", "inc_nothing", check=2).stderr
    cli.run("incident", "report", "inc_nothing", "--format", "pdf", check=2)
    both = cli.run("incident", "report", "inc_nothing", "--json", "--format", "md", check=2)
    assert "--json means --format json" in both.stderr
