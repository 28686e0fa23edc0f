"""`keyguard alerts`, `keyguard monitor policy` and `keyguard monitor detect`, end to end;
the detector killed with SIGKILL mid-stream resumes with no alert lost or repeated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from keyguard.monitoring import DetectorCursor
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from tests.conftest import TEST_PEPPER
from tests.functional.cli import Cli
from tests.unit.monitoring.online import replayed, steady_after_trace, store, stored, trace


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    cli = Cli(tmp_path / "data", database_url, [])
    cli.run("init")
    return cli


@pytest.fixture
def service(cli: Cli) -> Iterator[Runtime]:
    """The service's side of the same database, to leave usage events behind."""
    settings = Settings(data_dir=cli.data_dir, database_url=cli.database_url, pepper=TEST_PEPPER)
    runtime = Runtime.build(settings)
    yield runtime
    runtime.close()


def _created(cli: Cli) -> str:
    created = cli.run("keys", "create", "--env", "live", "--scope", "mail:send", "--json")
    return str(json.loads(created.stdout)["id"])


def test_alerts_are_listed_and_answered(cli: Cli, service: Runtime) -> None:
    store(service, trace(_created(cli), "default"))
    assert "processed" in cli.run("monitor", "detect", "--once").stdout
    listed = json.loads(cli.run("alerts", "--json").stdout)["alerts"]
    assert [a["rule"] for a in listed] == ["key_guessing", "country_change", "new_network"]
    table = cli.run("alerts", "--rule", "new_network").stdout
    assert "new_network" in table
    assert "country_change" not in table
    alert_id = str(listed[-1]["id"])
    assert "acknowledged" in cli.run("alerts", "ack", alert_id).stdout
    resolved = json.loads(cli.run("alerts", "resolve", alert_id, "--json").stdout)
    assert resolved["state"] == "resolved"
    refused = cli.run("alerts", "false-positive", alert_id, check=None)
    assert refused.returncode != 0
    assert "resolved" in refused.stderr
    missing = cli.run("alerts", "ack", "99999", check=None)
    assert missing.returncode != 0


def test_a_policy_is_shown_and_set(cli: Cli, service: Runtime) -> None:
    shown = json.loads(cli.run("monitor", "policy", "show", "default", "--json").stdout)
    assert shown["mode"] == "monitor"
    changed = cli.run(
        "monitor", "policy", "set", "default", "--mode", "enforce",
        "--rule", "new_network=quarantine", "--severity", "high=notify",
        "--throttle-rate", "3", "--throttle-for", "30m", "--json",
    )  # fmt: skip
    policy = json.loads(changed.stdout)
    assert (policy["mode"], policy["by_rule"]) == ("enforce", {"new_network": "quarantine"})
    assert (policy["throttle_per_minute"], policy["throttle_seconds"]) == (3, 1800)
    key_id = _created(cli)
    store(service, trace(key_id, "default"))
    cli.run("monitor", "detect", "--once")
    assert json.loads(cli.run("keys", "show", key_id, "--json").stdout)["state"] == "suspended"
    (alert,) = json.loads(cli.run("alerts", "--rule", "new_network", "--json").stdout)["alerts"]
    cli.run("alerts", "undo", str(alert["id"]))
    assert json.loads(cli.run("keys", "show", key_id, "--json").stdout)["state"] == "active"


def test_a_bad_policy_is_refused(cli: Cli) -> None:
    bad = cli.run("monitor", "policy", "set", "default", "--rule", "x=explode", check=None)
    assert bad.returncode != 0
    assert "unknown action" in bad.stderr
    assert cli.run("monitor", "policy", "set", "nobody", "--mode", "enforce", check=None).returncode


def _cursor(service: Runtime) -> int:
    with service.sessions() as session:
        row = session.scalars(select(DetectorCursor)).one_or_none()
        return 0 if row is None else row.last_event_id


def test_a_detector_killed_mid_stream_resumes_exactly(
    cli: Cli, service: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id = _created(cli)
    # The trace's alerts come by event 340; the steady tail after them leaves room for the
    # kill to land mid-stream even when this process is slow to see the cursor pass 340.
    events = trace(key_id, "default") + steady_after_trace(key_id, "default", 1500)
    store(service, events)
    monkeypatch.setenv("KEYGUARD_DETECTOR_LEASE_SECONDS", "1")  # the dead one's lease
    env = {
        **os.environ,
        "KEYGUARD_DATA_DIR": str(cli.data_dir),
        "KEYGUARD_DATABASE_URL": cli.database_url,
        "KEYGUARD_PEPPER": TEST_PEPPER,
    }
    command = [sys.executable, "-m", "keyguard", "monitor", "detect", "--batch", "1"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while _cursor(service) < 340 and time.monotonic() < deadline:  # past the first alerts
            time.sleep(0.01)  # waiting for the subprocess, bounded by the deadline
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    killed_at = _cursor(service)
    assert 340 <= killed_at < len(events), "the detector was not killed mid-stream"
    cli.run_process("monitor", "detect", "--once")  # waits out the dead one's lease
    assert _cursor(service) == len(events)
    assert stored(service) == replayed(service)
