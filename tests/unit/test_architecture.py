"""The package faces: another package imports only what a package's `__init__` names in `__all__`.

import-linter (`make lint`) checks which packages may import which; this checks *what* they
import. A newcomer reads a package's `__init__.py` to learn its surface, so the surface must be
the whole truth: no reaching into a sibling's modules, never into a private (`_name`) one.
"""

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGES = sorted(p.name for p in (SRC / "keyguard").iterdir() if (p / "__init__.py").exists())
# `keyguard.cli` is the console entry point: only `keyguard.__main__` imports it, and its face
# stays empty so that `keyguard scan` does not import every other command at start-up.
ENTRY_POINTS = {"cli"}
# `keyguard.tables` collects every package's `models` module for Alembic: that is its one job.
METADATA_COLLECTOR = "keyguard.tables"


def _collects_tables(i: "CrossImport") -> bool:
    return i.importer == METADATA_COLLECTOR and i.name == "models"


@dataclass(frozen=True)
class CrossImport:
    importer: str
    line: int
    module: str
    name: str

    @property
    def target(self) -> str:
        return self.module.split(".")[1]

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} from {self.module} import {self.name}"


def cross_imports(src: Path = SRC) -> Iterator[CrossImport]:
    """Every `from keyguard.<package>… import name` written outside that package."""
    packages = {p.name for p in (src / "keyguard").iterdir() if (p / "__init__.py").exists()}
    for path in sorted((src / "keyguard").rglob("*.py")):
        importer = ".".join(path.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        own = importer.split(".")[1] if importer.count(".") else None  # None: keyguard.settings…
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module):
                continue
            parts = node.module.split(".")
            if parts[0] != "keyguard" or len(parts) < 2 or parts[1] not in packages:
                continue
            if parts[1] == own:
                continue
            for alias in node.names:
                yield CrossImport(importer, node.lineno, node.module, alias.name)


def test_the_scan_finds_cross_package_imports() -> None:
    # Guards the check below against vacuity: the code base does import across packages.
    found = list(cross_imports())
    assert len(found) > 100
    assert any(i.importer == "keyguard.api.routes.keys" and i.target == "lifecycle" for i in found)


def test_other_packages_import_a_package_through_its_face() -> None:
    deep = [
        str(i)
        for i in cross_imports()
        if i.target not in ENTRY_POINTS and i.module != f"keyguard.{i.target}"
    ]
    assert deep == [], "import these from the package itself (add the name to its __all__)"


def test_faces_export_only_what_they_name() -> None:
    missing = [
        str(i)
        for i in cross_imports()
        if i.module == f"keyguard.{i.target}"
        and i.name not in importlib.import_module(i.module).__all__
        and not _collects_tables(i)
    ]
    assert missing == []


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_a_face_resolves(package: str) -> None:
    face = importlib.import_module(f"keyguard.{package}")
    for name in getattr(face, "__all__", []):
        assert getattr(face, name) is not None, f"keyguard.{package}.{name}"


def test_no_module_outside_a_package_imports_its_private_modules() -> None:
    private = [
        str(i)
        for i in cross_imports()
        if any(part.startswith("_") for part in i.module.split(".")[2:])
    ]
    assert private == []


def test_the_check_catches_a_deep_import(tmp_path: Path) -> None:
    # The same scan over a planted file: proof the check above can fail.
    for package in ("api", "lifecycle"):
        (tmp_path / "keyguard" / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / "keyguard" / package / "__init__.py").write_text("")
    (tmp_path / "keyguard" / "api" / "bad.py").write_text(
        "from keyguard.lifecycle.service import KeyService\n"
    )
    assert [str(i) for i in cross_imports(tmp_path)] == [
        "keyguard.api.bad:1 from keyguard.lifecycle.service import KeyService"
    ]
