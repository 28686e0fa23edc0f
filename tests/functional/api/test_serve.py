"""`keyguard serve`: plain HTTP refused in live mode unless behind named proxies, TLS with HSTS."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from keyguard.api.limits import MAX_HEAD_BYTES, MAX_HEADER_BYTES
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.storage import migrate
from tests.certificates import make_certificate
from tests.conftest import TEST_PEPPER
from tests.functional.api.servers import ProcessServer, RawAnswer, send_raw

LIVE = {"KEYGUARD_MODE": "live"}


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A migrated SQLite database (the server's transport does not depend on the backend)."""
    url = f"sqlite:///{tmp_path / 'keyguard.db'}"
    runtime = Runtime.build(
        Settings(data_dir=tmp_path / "data", database_url=url, pepper=TEST_PEPPER)
    )
    migrate.upgrade(runtime.engine)
    runtime.close()
    return url


def test_live_mode_refuses_plain_http_without_a_trusted_proxy(
    tmp_path: Path, database: str
) -> None:
    env = {**os.environ, **LIVE, "KEYGUARD_DATABASE_URL": database, "KEYGUARD_PEPPER": TEST_PEPPER}
    result = subprocess.run(
        [sys.executable, "-m", "keyguard", "serve", "--port", "0"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "live mode refuses plain HTTP" in result.stderr


def test_live_mode_behind_a_proxy_believes_only_that_proxy(tmp_path: Path, database: str) -> None:
    server = ProcessServer(
        tmp_path / "data", database, env=LIVE, args=("--behind-proxy", "127.0.0.1/32")
    ).start()
    try:
        server.wait_ready()
        answer = httpx.get(f"{server.url}/healthz")
        assert "strict-transport-security" not in answer.headers  # TLS ends at the proxy
    finally:
        server.stop()
    assert "Trusting X-Forwarded-For from: 127.0.0.1/32" in server.log()


def test_tls_serves_https_with_hsts(tmp_path: Path, database: str) -> None:
    certificate = make_certificate(tmp_path)
    cert, key = certificate.cert, certificate.key
    server = ProcessServer(
        tmp_path / "data",
        database,
        env=LIVE,
        args=("--tls-cert", str(cert), "--tls-key", str(key)),
        scheme="https",
    ).start()
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        server.wait_ready(verify=trust)
        answer = httpx.get(f"{server.url}/healthz", verify=trust)
        assert answer.headers["strict-transport-security"].startswith("max-age=")
    finally:
        server.stop()
    assert f"on https://127.0.0.1:{server.port}" in server.log()


def test_serve_refuses_a_database_without_the_schema(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KEYGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        "KEYGUARD_PEPPER": TEST_PEPPER,
    }
    result = subprocess.run(
        [sys.executable, "-m", "keyguard", "serve", "--port", "0"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "keyguard init" in result.stderr


def test_the_startup_banner_says_where_the_admin_key_is(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "KEYGUARD_DATA_DIR": str(data), "KEYGUARD_PEPPER": TEST_PEPPER}
    subprocess.run(
        [sys.executable, "-m", "keyguard", "init", "--if-needed"],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = ProcessServer(data, f"sqlite:///{data / 'keyguard.db'}").start()
    try:
        server.wait_ready()
        admin = (data / "admin.key").read_text().strip()
        listing = httpx.get(f"{server.url}/v1/keys", headers={"Authorization": f"Bearer {admin}"})
        assert listing.status_code == 200
    finally:
        server.stop()
    assert f"First admin key: {data / 'admin.key'}" in server.log()
    assert admin not in server.log()


def test_every_line_the_served_process_writes_is_one_json_object(
    tmp_path: Path, database: str
) -> None:
    server = ProcessServer(
        tmp_path / "data", database, args=("--behind-proxy", "127.0.0.1/32")
    ).start()
    try:
        server.wait_ready()
        answer = httpx.get(f"{server.url}/v1/keys", headers={"X-Request-ID": "probe-1"})
        assert answer.status_code == 401
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log().splitlines()]
    assert all(isinstance(line, dict) and line["event"] for line in lines)
    banner = next(line for line in lines if "url" in line)
    assert banner["url"] == server.url
    assert any("Uvicorn running" in line["event"] for line in lines)  # uvicorn's own lines
    access = [line for line in lines if line.get("request_id") == "probe-1"]
    assert [(line["path"], line["status"]) for line in access] == [("/v1/keys", 401)]


def _problem_of(answer: RawAnswer, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/problem+json"
    assert json.loads(answer.body)["code"] == code


def test_the_served_process_refuses_oversized_and_malformed_heads_with_problems(
    tmp_path: Path, database: str
) -> None:
    server = ProcessServer(tmp_path / "data", database).start()
    try:
        server.wait_ready()
        head = b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        one_big = head + b"X-Big: " + b"a" * MAX_HEADER_BYTES + b"\r\n\r\n"
        _problem_of(send_raw(server.url, one_big), 431, "headers_too_large")
        many = b"".join(b"X-H%d: %s\r\n" % (i, b"a" * 4000) for i in range(MAX_HEAD_BYTES // 3000))
        _problem_of(send_raw(server.url, head + many + b"\r\n"), 431, "headers_too_large")
        _problem_of(send_raw(server.url, head + b"X-A: a\x00b\r\n\r\n"), 400, "malformed_request")
        _problem_of(send_raw(server.url, head + b"X-A: a\r\n b\r\n\r\n"), 400, "malformed_request")
        assert httpx.get(f"{server.url}/healthz").status_code == 200  # the server is unharmed
    finally:
        server.stop()
