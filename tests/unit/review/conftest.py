"""Fixtures of the review tests: the vault targets of the rotation tests, for delivered keys."""

from tests.unit.rotation.conftest import address, backend, service, targets  # noqa: F401
from tests.unit.secrets.conftest import (  # noqa: F401 - fixtures are found by name
    aws_env,
    bao,
    moto_server,
    openbao_server,
)
