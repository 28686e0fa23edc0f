"""The deployment artifacts: Dockerfile, compose.yaml and the systemd units name commands and
settings that exist, and the image's entry points work as the image runs them.

Containers cannot run on the machines this suite runs on (docs/deploy.md, "Building the image
here"), so the entry points are run as the image would run them, as real processes on
loopback: the compose `init` command, the Dockerfile's ENTRYPOINT + CMD, its HEALTHCHECK
command, and compose's `smtp` and `worker` commands, each stopped with SIGTERM. The image
itself is built and started by test_image_builds_and_serves when KEYGUARD_TEST_CONTAINERS=1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from keyguard.cli.main import _register, app
from keyguard.secrets.settings import ENVIRONMENT
from keyguard.settings import Settings
from tests.conftest import TEST_PEPPER
from tests.functional.api.servers import free_port
from tests.services import REDIS

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0
KEYGUARD_SERVICES = ("init", "serve", "smtp", "worker")
# Variables the deployment files may set besides Keyguard's settings.
OTHER_VARIABLES = {"HOME", "PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}


@dataclass(frozen=True)
class Image:
    """What the Dockerfile declares for the final stage."""

    base: str
    user: str
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]
    volumes: list[str]
    env: dict[str, str]


def dockerfile() -> Image:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]

    def last(instruction: str) -> str:
        found = [line for line in lines if line.startswith(instruction + " ")]
        assert found, f"the Dockerfile has no {instruction}"
        return found[-1][len(instruction) + 1 :].strip()

    base = re.search(r"ARG BASE=(\S+)", text)
    healthcheck = last("HEALTHCHECK")
    env_line = last("ENV")
    env = dict(re.findall(r"(\w+)=(\S+)", env_line))
    return Image(
        base=base.group(1) if base else "",
        user=last("USER"),
        entrypoint=json.loads(last("ENTRYPOINT")),
        cmd=json.loads(last("CMD")),
        healthcheck=json.loads(healthcheck[healthcheck.index("CMD ") + 4 :]),
        volumes=json.loads(last("VOLUME")),
        env=env,
    )


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return document


def _settings_variables() -> set[str]:
    names = {f"KEYGUARD_{name.upper()}" for name in Settings.model_fields if name != "secrets"}
    return names | {v for variables in ENVIRONMENT.values() for v in variables}


def _cli(*args: str, env: dict[str, str]) -> int:
    _register()
    return CliRunner().invoke(app, list(args), env=env).exit_code


def _on_port(args: list[str], port: int) -> list[str]:
    """The same command on a free loopback port (8080/2525 may be taken on a shared machine)."""
    swapped = [a.replace("0.0.0.0", "127.0.0.1") for a in args]  # noqa: S104 - replaced, not bound
    return [re.sub(r"\b(8080|2525)\b", str(port), a) for a in swapped]


# --- static checks ----------------------------------------------------------------------------


def test_the_image_is_slim_unprivileged_and_writes_only_to_its_volumes() -> None:
    image = dockerfile()
    assert image.base.endswith("python:3.11-slim")
    assert image.user.split(":")[0] not in {"0", "root"}
    assert image.entrypoint == ["keyguard"]
    assert image.cmd[0] == "serve"
    assert image.env["KEYGUARD_DATA_DIR"] in image.volumes and "/tmp" in image.volumes
    assert image.env["PYTHONDONTWRITEBYTECODE"] == "1"  # no writes beside the volumes
    assert image.healthcheck[0] == "python3" and "/readyz" in image.healthcheck[-1]
    assert set(image.env) - OTHER_VARIABLES <= _settings_variables()


def test_compose_runs_postgres_redis_openbao_and_keyguard_commands_that_exist(
    tmp_path: Path,
) -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "openbao", *KEYGUARD_SERVICES} <= set(services)
    assert "-dev" in services["openbao"]["command"]  # labelled dev mode, see the file's head
    env = {"KEYGUARD_DATA_DIR": str(tmp_path), "KEYGUARD_PEPPER": TEST_PEPPER}
    for name in KEYGUARD_SERVICES:
        service = services[name]
        assert service["read_only"] is True and service["image"] == "localhost/keyguard:dev"
        assert set(service["environment"]) - OTHER_VARIABLES <= _settings_variables(), name
        # The options parse: an unknown one would exit 2 before the help.
        assert _cli(*service["command"], "--help", env=env) == 0, service["command"]
    assert services["init"]["command"] == ["init", "--if-needed"]
    serve = services["serve"]
    assert serve["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert int(serve["stop_grace_period"].rstrip("s")) > 30  # above the 30 s drain


def _units() -> list[Path]:
    return sorted((ROOT / "deploy" / "systemd").glob("keyguard-*.service"))


def test_the_systemd_units_run_existing_commands_hardened() -> None:
    assert [unit.name for unit in _units()] == [
        "keyguard-serve.service",
        "keyguard-smtp.service",
        "keyguard-worker.service",
    ]
    for unit in _units():
        text = unit.read_text()
        for option in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes"):
            assert option in text, (unit.name, option)
        assert "ReadWritePaths=/var/lib/keyguard" in text
        command = re.search(r"^ExecStart=/opt/keyguard/bin/keyguard (\w+)", text, re.M)
        assert command is not None and command.group(1) in unit.name
        variables = re.findall(r"(\w+)=", " ".join(re.findall(r"^Environment=(.*)$", text, re.M)))
        assert set(variables) - OTHER_VARIABLES <= _settings_variables(), unit.name


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    keyguard = shutil.which("keyguard", path=str(Path(sys.executable).parent))
    assert keyguard is not None
    for unit in _units():  # verify checks that ExecStart's program exists: point it here
        text = unit.read_text().replace("/opt/keyguard/bin/keyguard", keyguard)
        (tmp_path / unit.name).write_text(text)
    done = subprocess.run(
        [analyze, "verify", *(str(tmp_path / unit.name) for unit in _units())],
        capture_output=True, text=True, timeout=DEADLINE, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


# --- the entry points, run as the image runs them ---------------------------------------------


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, line: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and self.process.poll() is None:
            if line in self.text():
                return
            time.sleep(0.05)  # reading a log file: nothing to block on
        pytest.fail(f"{line!r} not in the output:\n{self.text()}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


@pytest.fixture
def image_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The image's environment (its ENV lines), on the test database and a fresh data dir."""
    data = tmp_path / "data"
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("KEYGUARD_", "BAO_", "VAULT_", "AWS_"))
        },
        **{k: v for k, v in dockerfile().env.items() if k != "PATH"},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(data),
        "KEYGUARD_DATA_DIR": str(data),
        "KEYGUARD_DATABASE_URL": database_url,
        "KEYGUARD_PEPPER": TEST_PEPPER,
        "KEYGUARD_SMTP_RELAY": f"smtp://127.0.0.1:{free_port()}",
        "KEYGUARD_MAIL_WORKER_IN_SERVE": "false",
    }
    if os.environ.get(REDIS):
        env["KEYGUARD_REDIS_URL"] = os.environ[REDIS]  # compose runs with Redis
    return env


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Started]]:
    running: list[Started] = []
    yield running
    for item in running:
        if item.process.poll() is None:
            item.process.kill()
            item.process.wait()


def _start(args: list[str], env: dict[str, str], output: Path, into: list[Started]) -> Started:
    with output.open("wb") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, env=env)
    into.append(Started(process, output))
    return into[-1]


def _healthy(command: list[str], env: dict[str, str]) -> int:
    done = subprocess.run(command, env=env, capture_output=True, timeout=DEADLINE, check=False)
    return done.returncode


def test_the_images_entry_points_start_report_ready_and_stop_cleanly(
    image_env: dict[str, str], tmp_path: Path, started: list[Started]
) -> None:
    image, services = dockerfile(), compose()["services"]
    keyguard = [shutil.which(image.entrypoint[0], path=image_env["PATH"]) or "keyguard"]
    init = subprocess.run(
        keyguard + services["init"]["command"],
        env=image_env, capture_output=True, text=True, timeout=DEADLINE, check=False,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    assert (Path(image_env["KEYGUARD_DATA_DIR"]) / "admin.key").exists()

    port = free_port()
    health = _on_port(image.healthcheck, port)
    assert _healthy(health, image_env) != 0  # nothing listens yet: unhealthy
    serve = _start(keyguard + _on_port(image.cmd, port), image_env, tmp_path / "serve.log", started)
    deadline = time.monotonic() + DEADLINE
    while _healthy(health, image_env) != 0:  # what the container runtime does, every 15 s
        assert serve.process.poll() is None, serve.text()
        assert time.monotonic() < deadline, serve.text()
        time.sleep(0.1)

    smtp_port = free_port()
    smtp_args = keyguard + _on_port(services["smtp"]["command"], smtp_port)
    smtp = _start(smtp_args, image_env, tmp_path / "smtp.log", started)
    smtp.wait_for(f"listening on port {smtp_port}")
    worker = _start(
        keyguard + services["worker"]["command"], image_env, tmp_path / "worker.log", started
    )
    worker.wait_for("mail worker delivering to")

    assert [item.stop() for item in (serve, smtp, worker)] == [0, 0, 0]
    assert _healthy(health, image_env) != 0  # stopped: unhealthy again


# --- the image itself, where containers can be built ------------------------------------------


def test_image_builds_and_serves(tmp_path: Path) -> None:
    """Build the image with podman and run its command and healthcheck in it (buildah's
    chroot isolation: the OCI runtime cannot start containers on this kind of machine)."""
    if os.environ.get("KEYGUARD_TEST_CONTAINERS", "").lower() not in {"1", "true", "yes"}:
        pytest.skip("KEYGUARD_TEST_CONTAINERS is not set (minutes of build; docs/deploy.md)")
    podman, buildah = shutil.which("podman"), shutil.which("buildah")
    if podman is None or buildah is None:
        pytest.fail("KEYGUARD_TEST_CONTAINERS=1 needs podman and buildah (apt-get install)")
    base = os.environ.get("KEYGUARD_TEST_CONTAINER_BASE", dockerfile().base)
    tag = "localhost/keyguard:test"
    build = [podman, "build", "--format", "docker", "--isolation", "chroot", "--network", "host"]
    certificate = os.environ.get("PIP_CERT")
    if certificate:
        build += ["--secret", f"id=pip_cert,src={certificate}"]
    build += ["--build-arg", f"BASE={base}", "-t", tag, str(ROOT)]
    done = subprocess.run(build, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    inspected = subprocess.run(
        [podman, "image", "inspect", tag], capture_output=True, text=True, check=True
    )
    found = json.loads(inspected.stdout)[0]
    config = found["Config"]
    assert config["User"] == "10001:10001"
    healthcheck = found["Healthcheck"]["Test"][1:]  # podman lists it beside the OCI config
    assert healthcheck == dockerfile().healthcheck

    container = subprocess.run(
        [buildah, "from", tag], capture_output=True, text=True, check=True
    ).stdout.strip()
    run = [buildah, "run", "--isolation", "chroot", "--network", "host", "--user", config["User"]]
    port = free_port()
    try:
        init = subprocess.run(
            [*run, container, "--", *config["Entrypoint"], "init", "--if-needed"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert init.returncode == 0, init.stderr
        log = tmp_path / "serve.log"
        command = [*run, container, "--", *config["Entrypoint"], *_on_port(config["Cmd"], port)]
        with log.open("wb") as sink:
            serve = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        health = [*run, container, "--", *_on_port(healthcheck, port)]
        deadline = time.monotonic() + 300
        while subprocess.run(health, capture_output=True, check=False).returncode != 0:
            assert serve.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        # buildah run does not forward signals: SIGTERM the server process itself.
        pid = int(re.findall(r"Started server process \[(\d+)\]", log.read_text())[0])
        os.kill(pid, signal.SIGTERM)
        serve.wait(timeout=DEADLINE)
        assert "Application shutdown complete" in log.read_text()
    finally:
        subprocess.run([buildah, "rm", container], capture_output=True, check=False)
