"""Fixtures of the end-to-end email tests (the unit tests' fixtures, plus certificates)."""

from __future__ import annotations

import pytest

from tests.certificates import Certificate, make_certificate
from tests.unit.mail.conftest import mail, make_caller  # noqa: F401 - shared fixtures


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))
