"""`keyguard usage KEY_ID`: the time series and the sources of a key, as a chart or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.usage import UsageRecord
from tests.conftest import START, TEST_PEPPER
from tests.functional.cli import Cli
from tests.unit.usage.factories import write

H = timedelta(hours=1)


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


def _used_key(cli: Cli, runtime: Runtime) -> str:
    created = json.loads(
        cli.run("keys", "create", "--env", "live", "--scope", "keys:read", "--json").stdout
    )
    key_id = str(created["id"])

    def event(ts: object, **fields: object) -> UsageRecord:
        values: dict[str, object] = {
            "ts": ts, "method": "GET", "path": "/v1/keys", "outcome": "ok", "status": 200,
            "key_id": key_id, "tenant_id": "default", "env": "live", "ip": "203.0.113.7",
            "user_agent": "billing-cron/2.1",
        }  # fmt: skip
        values.update(fields)
        return UsageRecord(**values)  # type: ignore[arg-type]

    write(
        runtime,
        [
            event(START - 2 * H),
            event(START - 2 * H, ip="203.0.113.9", recipients=4),
            event(START - H, ip="198.51.100.1", outcome="denied_ip", status=403),
        ],
    )
    return key_id


def test_usage_as_json_has_the_series_and_the_sources(cli: Cli, runtime_of: Runtime) -> None:
    key_id = _used_key(cli, runtime_of)
    data = json.loads(cli.run("usage", key_id, "--since", "2d", "--json").stdout)
    assert (data["key_id"], data["bucket"]) == (key_id, "hour")
    assert data["totals"] == {
        "requests": 3,
        "outcomes": {"denied_ip": 1, "ok": 2},
        "recipients": 4,
        "networks": 2,
    }
    assert len(data["buckets"]) in (48, 49)
    networks = {s["value"]: s["requests"] for s in data["sources"]["networks"]}
    assert networks == {"203.0.113.0/24": 2, "198.51.100.0/24": 1}
    assert data["sources"]["user_agents"][0]["value"] == "billing-cron/2.1"


def test_usage_prints_a_chart_and_where_the_key_was_used_from(
    cli: Cli, runtime_of: Runtime
) -> None:
    key_id = _used_key(cli, runtime_of)
    out = cli.run("usage", key_id, "--since", "7d").stdout
    assert f"{key_id}: 3 requests (1 refused), 4 recipients, 2 networks" in out
    assert "by day" in out
    assert "█" in out
    assert "203.0.113.0/24" in out
    assert "billing-cron/2.1" in out


def test_an_unknown_key_or_a_bad_duration_is_a_usage_error(cli: Cli) -> None:
    missing = cli.run("usage", "key_doesnotexist", check=2)
    assert "no key" in missing.stderr
    bad = cli.run("usage", "key_doesnotexist", "--since", "forever", check=2)
    assert "invalid_duration" in bad.stderr
