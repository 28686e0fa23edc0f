"""`keyguard scan` end to end: real files, a real git repository, real HTTP.

Exit codes and error output go through the real entry point in a subprocess; the other
behaviours call the same command in-process (Typer's runner), which keeps the suite fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import typer
from typer.testing import CliRunner

from keyguard.cli.scan import scan
from keyguard.keys import generate_key
from tests.unit.scanner.sarif_checks import github_problems, validate_schema
from tests.unit.scanner.vectors import Maker

FINDING_TYPES = {
    "path": str, "line": int, "column": int, "rule": str, "provider": str,
    "fingerprint": str, "redacted": str,
}  # fmt: skip


def process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`keyguard scan ARGS` through the console-script entry point."""
    command = [sys.executable, "-c", "from keyguard.cli.main import run; run()", "scan", *args]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


class Done:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def keyguard(*args: str, cwd: Path, stdin: bytes = b"", env: dict[str, str] | None = None) -> Done:
    """The scan command in-process, from `cwd`."""
    app = typer.Typer()
    app.command()(scan)
    previous = Path.cwd()
    try:
        os.chdir(cwd)
        result = CliRunner().invoke(app, list(args), input=stdin, env=env)
    finally:
        os.chdir(previous)
    return Done(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def leaky(tmp_path: Path) -> tuple[Path, str]:
    key = Maker(81).sendgrid()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(f'import os\nSENDGRID_API_KEY = "{key}"\n')
    (tmp_path / "src" / "clean.py").write_text("x = 1\n")
    return tmp_path, key


def test_clean_tree_exits_0_with_empty_findings(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("print('hello')\n")
    done = keyguard(".", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["findings"] == []


def test_findings_exit_1_in_the_product_json_schema(leaky: tuple[Path, str]) -> None:
    root, key = leaky
    done = process("--format", "json", cwd=root)
    assert done.returncode == 1, done.stderr
    (finding,) = json.loads(done.stdout)["findings"]
    assert all(isinstance(finding[name], kind) for name, kind in FINDING_TYPES.items())
    assert (finding["path"], finding["line"], finding["column"]) == ("src/app.py", 2, 21)
    assert (finding["commit"], finding["checksum_valid"]) == (None, None)
    assert key not in done.stdout + done.stderr


def test_text_report_has_findings_and_summary(leaky: tuple[Path, str]) -> None:
    root, key = leaky
    done = keyguard(cwd=root)
    assert done.returncode == 1
    assert "sendgrid-api-key" in done.stdout and "Summary" in done.stdout
    assert key[:7] + "…" in done.stdout and key not in done.stdout


def test_an_error_exits_2_through_the_real_entry_point(tmp_path: Path) -> None:
    done = process("missing-dir", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "error: no such file or directory: missing-dir\n"


@pytest.mark.parametrize(
    "args",
    [("missing-dir",), ("--baseline", "no-such-baseline.json"), ("--git", "--staged"),
     ("--max-file-size", "lots"), ("--git",), ("--report-to", "ftp://x", "-")],
)  # fmt: skip
def test_errors_exit_2_with_one_line_and_no_traceback(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    done = keyguard(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_sarif_output_validates(leaky: tuple[Path, str]) -> None:
    root, _ = leaky
    done = keyguard("--format", "sarif", cwd=root)
    assert done.returncode == 1
    validate_schema(json.loads(done.stdout))


def test_written_baseline_accepts_current_findings(leaky: tuple[Path, str]) -> None:
    root, _ = leaky
    assert keyguard("--write-baseline", "baseline.json", cwd=root).returncode == 0
    done = keyguard("src", "--baseline", "baseline.json", "--format", "json", cwd=root)
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["stats"]["baselined"] == 1


def test_stdin_is_scanned(tmp_path: Path) -> None:
    done = keyguard(
        "-", "--format", "json", cwd=tmp_path, stdin=f"k={Maker(82).sendgrid()}\n".encode()
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["findings"][0]["path"] == "-"


def test_git_history_reports_a_deleted_key_with_its_commit(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        command = ["git", "-c", "user.name=T", "-c", "user.email=t@example.test", *args]
        return subprocess.run(
            command, cwd=tmp_path, check=True, capture_output=True, text=True
        ).stdout

    git("init", "-q")
    (tmp_path / "settings.py").write_text(f'MC = "{Maker(83).body(32, "0123456789abcdef")}-us7"\n')
    git("add", ".")
    git("commit", "-qm", "add")
    sha = git("rev-parse", "HEAD").strip()
    git("rm", "-q", "settings.py")
    git("commit", "-qm", "remove")
    done = keyguard("--git", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (finding,) = json.loads(done.stdout)["findings"]
    assert (finding["rule"], finding["commit"], finding["path"]) == (
        "mailchimp-api-key",
        sha,
        "settings.py",
    )
    assert finding["author_date"]


class _Collector(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Collector.bodies.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/leaks"
    server.shutdown()
    server.server_close()


def test_report_to_posts_redacted_findings(leaky: tuple[Path, str], collector: str) -> None:
    root, key = leaky
    _Collector.bodies.clear()
    done = keyguard("--format", "json", "--report-to", collector, cwd=root)
    assert done.returncode == 1, done.stderr
    (body,) = _Collector.bodies
    assert key.encode() not in body
    payload = json.loads(body)
    assert [f["rule"] for f in payload["findings"]] == ["sendgrid-api-key"]


def test_text_report_outside_a_terminal_names_the_full_location(tmp_path: Path) -> None:
    deep = tmp_path / "services" / "billing" / "configuration" / "production" / "environment"
    deep.mkdir(parents=True)
    (deep / "settings_for_the_billing_service.py").write_text(f'K = "{Maker(84).sendgrid()}"\n')
    done = process(cwd=tmp_path)  # stdout is a pipe, as in pre-commit and CI logs
    assert done.returncode == 1, done.stderr
    where = (
        "services/billing/configuration/production/environment/settings_for_the_billing_service.py"
    )
    assert f"{where}:1:6: sendgrid-api-key (sendgrid)" in done.stdout.splitlines()[0]
    assert "…" not in done.stdout.split(where)[0]


def _failed_checksum(key: str) -> str:
    last = "A" if key[-1] != "A" else "B"
    return key[:-1] + last


def test_our_key_with_a_failed_checksum_is_reported_only_with_include_invalid(
    tmp_path: Path,
) -> None:
    key = _failed_checksum(generate_key("live").reveal())
    (tmp_path / "app.py").write_text(f'KEYGUARD_KEY = "{key}"\n')
    done = keyguard("--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["stats"]["suppressed"] == {"invalid-checksum": 1}
    done = keyguard("--format", "json", "--include-invalid", cwd=tmp_path)
    assert done.returncode == 1
    (finding,) = json.loads(done.stdout)["findings"]
    assert (finding["rule"], finding["checksum_valid"]) == ("keyguard-api-key", False)


def test_sarif_of_an_absolute_path_has_uris_relative_to_it(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    (root / "src").mkdir(parents=True)
    (root / "src" / "my file \u00fc#1.py").write_text(f'K = "{Maker(85).sendgrid()}"\n')
    done = keyguard(str(root), "--format", "sarif", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    validate_schema(document)
    assert github_problems(document) == []
    (result,) = document["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "src/my%20file%20%C3%BC%231.py"


def test_since_commit_in_ci_reports_only_the_pushed_commit_with_its_state(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        command = ["git", "-c", "user.name=T", "-c", "user.email=t@example.test", *args]
        return subprocess.run(
            command, cwd=tmp_path, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    (tmp_path / "old.py").write_text(f'K = "{Maker(86).sendgrid()}"\n')
    git("add", ".")
    git("commit", "-qm", "old")
    base = git("rev-parse", "HEAD")
    (tmp_path / "new.py").write_text(f'K = "{Maker(87).sendgrid()}"\n')
    git("add", ".")
    git("commit", "-qm", "new")
    done = process("--git", "--since-commit", base, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if "sendgrid-api-key" in line]
    assert line.startswith("new.py:1:6: sendgrid-api-key (sendgrid)")
    assert f"commit={git('rev-parse', 'HEAD')}" in line and "at_head=yes" in line


def test_since_commit_without_git_is_an_error(tmp_path: Path) -> None:
    done = keyguard("--since-commit", "HEAD", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "error: --since-commit and --log-opts need --git\n"
