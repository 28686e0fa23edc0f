"""Browser tests: Playwright driving Debian's Chromium against a real `keyguard serve`.

Skipped with the reason when /usr/bin/chromium (or Playwright) is missing, and failing then
instead under KEYGUARD_REQUIRE_SERVICES=1 (CI), like the other real services (tests/services.py).
axe-core is vendored (tests/browser/vendor/axe-core, MPL-2.0, from the npm registry): a clean
clone needs no network to run the accessibility checks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keyguard.lifecycle import OPERATOR, ensure_tenant
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from tests.conftest import TEST_PEPPER, create_key
from tests.functional.api.servers import ProcessServer
from tests.functional.cli import Cli
from tests.services import services_required
from tests.unit.monitoring.online import store, trace

CHROMIUM = Path(os.environ.get("KEYGUARD_TEST_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "dashboard"


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401 - only whether it imports
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# for as long as it is open, and every later test in the same worker that calls asyncio.run()
# would fail. It is closed when the browser tests' module ends.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    reason = _unavailable()
    if reason is not None:
        if services_required():
            pytest.fail(f"{reason}, and KEYGUARD_REQUIRE_SERVICES=1")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@dataclass
class Served:
    """A `keyguard serve` on loopback, its database, and its operator's CLI."""

    url: str  # http://localhost:PORT: passkeys need a host name, not an IP address
    cli: Cli
    runtime: Runtime  # the same database, from the test's side
    watched_key: str  # a key of tenant `default` whose usage raised alerts
    server: ProcessServer

    def add_user(self, email: str, role: str = "owner", tenant: str = "default") -> str:
        outcome = self.cli.run(
            "users", "add", email, "--role", role, "--tenant", tenant, "--url", self.url, "--json"
        )
        return str(json.loads(outcome.stdout)["setup_url"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    data_dir, database_url = root / "data", f"sqlite:///{root / 'keyguard.db'}"
    cli = Cli(data_dir, database_url, [])
    cli.run("init")
    settings = Settings(data_dir=data_dir, database_url=database_url, pepper=TEST_PEPPER)
    runtime = Runtime.build(settings)
    with runtime.sessions.begin() as session:
        ensure_tenant(session, runtime.clock, "other", OPERATOR.id)
    key = create_key(runtime, name="watched")
    store(runtime, trace(key.view.id, "default"))  # alerts, before the server's detector runs
    runtime.detector.drain()
    server = ProcessServer(data_dir, database_url).start().wait_ready()
    try:
        yield Served(f"http://localhost:{server.port}", cli, runtime, key.view.id, server)
    finally:
        server.stop()
        runtime.close()


def with_passkeys(page: Any) -> None:
    """A virtual authenticator (Chromium's DevTools protocol) that always says yes."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    # Evaluated over DevTools, not injected as a <script>: the page's CSP refuses inline
    # script, and the test must not weaken the policy it also checks.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]
