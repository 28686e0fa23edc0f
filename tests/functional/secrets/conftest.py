"""The secrets tests' fixtures, shared with tests/unit/secrets."""

from tests.unit.secrets.conftest import (  # noqa: F401 - fixtures are found by name
    aws_env,
    bao,
    local_wrapper,
    moto_server,
    openbao_server,
    sessions,
)
