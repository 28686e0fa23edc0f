"""`keyguard serve` names the dashboard at start, and how to create the first owner."""

from __future__ import annotations

from pathlib import Path

from tests.functional.api.servers import ProcessServer
from tests.functional.cli import Cli


def test_serve_prints_the_dashboard_link_and_the_first_owner_command(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'keyguard.db'}"
    cli = Cli(tmp_path / "data", database_url, [])
    assert "keyguard users add" in cli.run("init").stdout
    server = ProcessServer(tmp_path / "data", database_url).start().wait_ready()
    try:
        log = server.log()
    finally:
        server.stop()
    assert f"Dashboard: http://localhost:{server.port}/ui/" in log
    assert "No dashboard user yet" in log and "--role owner" in log


def test_the_dashboard_answers_on_the_served_port(tmp_path: Path) -> None:
    import httpx

    database_url = f"sqlite:///{tmp_path / 'keyguard.db'}"
    Cli(tmp_path / "data", database_url, []).run("init")
    server = ProcessServer(tmp_path / "data", database_url).start().wait_ready()
    try:
        answer = httpx.get(f"{server.url}/ui/login", timeout=30)
        asset = httpx.get(f"{server.url}/ui/static/app.js", timeout=30)
    finally:
        server.stop()
    assert answer.status_code == 200 and "Sign in to Keyguard" in answer.text
    assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")


def test_live_mode_sends_hsts_and_a_host_only_secure_cookie(tmp_path: Path) -> None:
    import httpx

    database_url = f"sqlite:///{tmp_path / 'keyguard.db'}"
    Cli(tmp_path / "data", database_url, []).run("init")
    server = ProcessServer(
        tmp_path / "data", database_url, env={"KEYGUARD_MODE": "live"},
        args=("--behind-proxy", "127.0.0.1/32"),
    ).start()  # fmt: skip
    try:
        answer = httpx.get(f"{server.wait_ready().url}/ui/login", timeout=30)
    finally:
        server.stop()
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("__Host-kg_session=") and "Secure" in cookie and "HttpOnly" in cookie
