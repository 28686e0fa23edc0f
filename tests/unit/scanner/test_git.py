"""Git history and staged changes: added lines, their commit, author date and line number."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from keyguard.errors import InvalidInput
from keyguard.scanner import git
from keyguard.scanner.service import ScanRequest, run_scan
from tests.unit.scanner.vectors import Maker

DATE = "2024-03-01T12:00:00+00:00"


def _git(repo: Path, *args: str, date: str = DATE) -> str:
    env = {
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    command = [
        "git",
        "-C",
        str(repo),
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@example.test",
        *args,
    ]
    return subprocess.run(
        command, check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def test_a_key_added_then_deleted_is_found_with_its_commit(repo: Path) -> None:
    key = Maker(31).sendgrid()
    (repo / "app.py").write_text(f'import os\nKEY = "{key}"\n')
    _git(repo, "add", "app.py")
    _git(repo, "commit", "-qm", "add key")
    added = _git(repo, "rev-parse", "HEAD")
    (repo / "app.py").write_text("import os\nKEY = os.environ['KEY']\n")
    _git(repo, "commit", "-qam", "remove key", date="2024-03-02T12:00:00+00:00")
    result = run_scan(ScanRequest(paths=(str(repo),), source="git", jobs=1))
    (finding,) = result.findings
    assert (finding.commit, finding.path, finding.line) == (added, "app.py", 2)
    assert finding.author_date == DATE
    assert finding.rule == "sendgrid-api-key"


def test_staged_scan_sees_only_the_index(repo: Path) -> None:
    (repo / "README").write_text("hi\n")
    _git(repo, "add", "README")
    _git(repo, "commit", "-qm", "init")
    (repo / "staged.py").write_text(f'K = "{Maker(32).sendgrid()}"\n')
    (repo / "unstaged.py").write_text(f'K = "{Maker(33).sendgrid()}"\n')
    _git(repo, "add", "staged.py")
    result = run_scan(ScanRequest(paths=(str(repo),), source="staged", jobs=1))
    assert [(f.path, f.commit) for f in result.findings] == [("staged.py", None)]


def test_history_scan_in_parallel_matches_inline(repo: Path) -> None:
    for n in range(6):
        (repo / f"f{n}.py").write_text(f'K{n} = "{Maker(40 + n).sendgrid()}"\n')
        _git(repo, "add", ".")
        _git(repo, "commit", "-qm", f"c{n}")
    inline = run_scan(ScanRequest(paths=(str(repo),), source="git", jobs=1))
    pooled = run_scan(ScanRequest(paths=(str(repo),), source="git", jobs=2, parallel_commits=1))
    assert len(inline.findings) == 6
    assert pooled.findings == inline.findings


def test_not_a_repository_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as raised:
        run_scan(ScanRequest(paths=(str(tmp_path),), source="git", jobs=1))
    assert raised.value.code == "not_a_git_repository"


def test_parser_keeps_line_numbers_and_ignores_fake_headers() -> None:
    diff = (
        b"\x1eabc\x1f2024-01-01T00:00:00+00:00\n"
        b"diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n"
        b"@@ -1,0 +10,2 @@\n+first\n++++ not a header\n"
        b"@@ -20 +30 @@\n+third\n"
    )
    (blob,) = git.parse_diff(io.BytesIO(diff))
    assert blob.where.path == "x.py"
    assert blob.lines == [b"first", b"+++ not a header", b"third"]
    assert list(blob.where.line_numbers or []) == [10, 11, 30]


def _commit_key(repo: Path, name: str, seed: int, day: int) -> str:
    (repo / name).write_text(f'K = "{Maker(seed).sendgrid()}"\n')
    _git(repo, "add", name)
    _git(repo, "commit", "-qm", f"add {name}", date=f"2024-03-{day:02d}T12:00:00+00:00")
    return _git(repo, "rev-parse", "HEAD")


def test_since_commit_scans_only_the_newer_commits(repo: Path) -> None:
    old = _commit_key(repo, "old.py", 61, 1)
    new = _commit_key(repo, "new.py", 62, 2)
    result = run_scan(ScanRequest(paths=(str(repo),), source="git", jobs=1, since_commit=old))
    assert [(f.path, f.commit) for f in result.findings] == [("new.py", new)]


def test_log_opts_choose_the_range(repo: Path) -> None:
    first = _commit_key(repo, "a.py", 63, 1)
    _commit_key(repo, "b.py", 64, 2)
    request = ScanRequest(paths=(str(repo),), source="git", jobs=1, log_opts=f"{first}")
    assert [f.path for f in run_scan(request).findings] == ["a.py"]


def test_log_opts_that_would_break_parsing_are_refused(repo: Path) -> None:
    _commit_key(repo, "a.py", 65, 1)
    request = ScanRequest(paths=(str(repo),), source="git", jobs=1, log_opts="--output=/tmp/x")
    with pytest.raises(InvalidInput) as raised:
        run_scan(request)
    assert raised.value.code == "invalid_log_opts"


def test_unknown_since_commit_is_an_input_error(repo: Path) -> None:
    _commit_key(repo, "a.py", 66, 1)
    request = ScanRequest(paths=(str(repo),), source="git", jobs=1, since_commit="no-such-rev")
    with pytest.raises(InvalidInput) as raised:
        run_scan(request)
    assert raised.value.code == "invalid_revision"


def test_history_says_whether_the_key_is_still_at_head(repo: Path) -> None:
    _commit_key(repo, "gone.py", 67, 1)
    _commit_key(repo, "kept.py", 68, 2)
    _git(repo, "rm", "-q", "gone.py")
    _git(repo, "commit", "-qm", "remove", date="2024-03-03T12:00:00+00:00")
    result = run_scan(ScanRequest(paths=(str(repo),), source="git", jobs=1))
    assert {f.path: f.at_head for f in result.findings} == {"gone.py": False, "kept.py": True}


def test_history_covers_every_branch_and_honours_keyguardignore(repo: Path) -> None:
    _commit_key(repo, "main.py", 69, 1)
    _git(repo, "checkout", "-qb", "feature")
    _commit_key(repo, "feature.py", 70, 2)
    (repo / "fixtures").mkdir()
    _commit_key(repo, "fixtures/fake.py", 71, 3)
    _git(repo, "checkout", "-q", "main")
    (repo / ".keyguardignore").write_text("fixtures/\n")
    result = run_scan(ScanRequest(paths=(str(repo),), source="git", jobs=1))
    assert sorted(f.path for f in result.findings) == ["feature.py", "main.py"]
