"""`keyguard scan --check`: our keys found by a scan are checked against a real server.

The server is the real API over loopback (the API tests' fixtures); the scan holds a key
with `keys:verify`, read from KEYGUARD_API_KEY, never from argv.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from keyguard.keys import generate_key
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from tests.functional.api.conftest import Api, api, start_api  # noqa: F401 - fixtures
from tests.functional.test_scan_cli import keyguard


def test_check_says_live_revoked_or_unknown(api: Api, runtime: Runtime, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    gateway = api.key("keys:verify")
    live, revoked = api.key("mail:send"), api.key("mail:send")
    runtime.keys.revoke(OPERATOR, revoked.view.id, reason="leaked")
    unknown = generate_key("live").reveal()
    (tmp_path / "live.py").write_text(f'K = "{live.key.reveal()}"\n')
    (tmp_path / "revoked.py").write_text(f'K = "{revoked.key.reveal()}"\n')
    (tmp_path / "unknown.py").write_text(f'K = "{unknown}"\n')
    env = {"KEYGUARD_API_KEY": gateway.key.reveal(), "KEYGUARD_BASE_URL": api.url}
    done = keyguard("--check", "--format", "json", cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stderr
    findings = _report(done.stdout)["findings"]
    assert {f["path"]: f["check"] for f in findings} == {
        "live.py": "live", "revoked.py": "revoked", "unknown.py": "unknown",
    }  # fmt: skip
    assert gateway.key.reveal() not in done.stdout + done.stderr


def _report(stdout: str) -> dict[str, Any]:
    """The scan's JSON report. The test's API server runs in this process, so a line it logs
    while the scan runs (its detector's, say) lands in the same captured stdout."""
    start = 0 if stdout.startswith("{") else stdout.index("\n{") + 1
    report, _ = json.JSONDecoder().raw_decode(stdout[start:])
    return cast(dict[str, Any], report)


def test_check_without_a_verify_key_is_an_error(tmp_path: Path) -> None:
    done = keyguard("--check", cwd=tmp_path, env={"KEYGUARD_API_KEY": ""})
    assert done.returncode == 2
    assert done.stderr.startswith("error: --check needs a key with keys:verify")
