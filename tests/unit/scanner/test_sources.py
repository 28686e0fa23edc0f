"""Walking directories: .gitignore respected, binaries and oversized files skipped and counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyguard.errors import InvalidInput
from keyguard.scanner.service import ScanRequest, run_scan
from keyguard.scanner.sources import iter_files, parse_size
from tests.unit.scanner.vectors import Maker


def _tree(root: Path) -> str:
    key = Maker(51).sendgrid()
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(f'K = "{key}"\n')
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text(f'K = "{key}"\n')
    (root / "keep.log").write_text(f'K = "{key}"\n')
    (root / "other.log").write_text(f'K = "{key}"\n')
    (root / ".gitignore").write_text("build/\n*.log\n!keep.log\n")
    return key


def test_gitignore_is_respected_with_negation(tmp_path: Path) -> None:
    _tree(tmp_path)
    files = iter_files([str(tmp_path)], gitignore=True)
    names = sorted(Path(f.fs_path).relative_to(tmp_path).as_posix() for f in files)
    assert names == [".gitignore", "keep.log", "src/app.py"]


def test_no_gitignore_scans_everything(tmp_path: Path) -> None:
    _tree(tmp_path)
    result = run_scan(ScanRequest(paths=(str(tmp_path),), gitignore=False, jobs=1))
    assert len(result.findings) == 4


def test_binary_and_oversized_files_are_skipped_and_counted(tmp_path: Path) -> None:
    key = Maker(52).sendgrid()
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2" + key.encode())
    (tmp_path / "big.txt").write_text(key + "\n" + "x" * 5000)
    (tmp_path / "small.txt").write_text(key)
    result = run_scan(ScanRequest(paths=(str(tmp_path),), max_file_size=1000, jobs=1))
    assert result.stats.skipped == {"binary": 1, "size": 1}
    assert [Path(f.path).name for f in result.findings] == ["small.txt"]


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        run_scan(ScanRequest(paths=(str(tmp_path / "nope"),), jobs=1))


def test_parallel_scan_equals_inline_scan(tmp_path: Path) -> None:
    for n in range(40):
        (tmp_path / f"f{n}.py").write_text(f'K = "{Maker(60 + n).sendgrid()}"\n' + "x = 1\n" * 50)
    inline = run_scan(ScanRequest(paths=(str(tmp_path),), jobs=1))
    pooled = run_scan(ScanRequest(paths=(str(tmp_path),), jobs=2, parallel_files=1))
    assert len(inline.findings) == 40
    assert pooled.findings == inline.findings


@pytest.mark.parametrize(("text", "size"), [("10M", 10 << 20), ("512K", 512 << 10), ("2048", 2048)])
def test_sizes_parse(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_bad_size_is_an_input_error() -> None:
    with pytest.raises(InvalidInput):
        parse_size("ten")


def test_keyguardignore_and_info_exclude_are_honoured(tmp_path: Path) -> None:
    key = Maker(52).sendgrid()
    for name in ("app.py", "excluded.py", "fixtures/fake.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(f'K = "{key}"\n')
    (tmp_path / ".git" / "info").mkdir(parents=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("excluded.py\n")
    (tmp_path / ".keyguardignore").write_text("fixtures/\n")
    names = sorted(
        Path(f.fs_path).relative_to(tmp_path).as_posix()
        for f in iter_files([str(tmp_path)], gitignore=True)
    )
    assert names == [".keyguardignore", "app.py"]


def test_keyguardignore_applies_even_without_gitignore(tmp_path: Path) -> None:
    (tmp_path / "fake.py").write_text("x\n")
    (tmp_path / ".gitignore").write_text("*.py\n")
    (tmp_path / ".keyguardignore").write_text("fake.py\n")
    names = [Path(f.fs_path).name for f in iter_files([str(tmp_path)], gitignore=False)]
    assert sorted(names) == [".gitignore", ".keyguardignore"]
