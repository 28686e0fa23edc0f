"""Writing a new key to a private file: created exclusively, mode 0600, removed on failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from keyguard.errors import InvalidInput


@contextmanager
def write_secret_file(path: Path) -> Iterator[TextIO]:
    """Open `path` for writing only if it does not exist yet; delete it if the block fails."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(
            f"{path} already exists; refusing to overwrite it", code="file_exists"
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot create {path}: {exc.strerror}", code="file_error") from None
    try:
        with os.fdopen(fd, "w") as handle:
            yield handle
    except BaseException:
        path.unlink(missing_ok=True)
        raise
