"""Property-based requests from the served OpenAPI document (schemathesis), valid and invalid,
a bounded number per operation: never a 5xx, and every error is problem JSON with a code.

The operations are driven from the test body (`as_strategy`) rather than through the
schemathesis pytest plugin, which does not support this pytest version.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from tests.functional.api.conftest import Api

MAX_EXAMPLES = 5
BOUNDED = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        content_type = response.headers["content-type"]  # a list in schemathesis' Response
        assert content_type == ["application/problem+json"], response.text
        body = response.json()
        assert body["status"] == response.status_code
        assert isinstance(body["code"], str)
        assert body["code"]


def test_no_5xx_and_every_error_is_a_problem(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.key().key.reveal()}"}  # every scope
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @BOUNDED
            @given(case=operation.as_strategy(mode))
            def run(case: Any) -> None:
                _check(case.call(base_url=api.url, headers=headers))

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing in it can be made invalid
