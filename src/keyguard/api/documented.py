"""The problem answers a route documents in OpenAPI with `responses=`, besides the 401, 403,
422, 429 and default answers that create_app adds to every scoped route.

::

    @router.post("/v1/keys/{key_id}/revoke", operation_id="keys_revoke",
                 responses={**NOT_FOUND, **CONFLICT, **JSON_BODY})
"""

from __future__ import annotations

from typing import Any, Final

PROBLEM_REF: Final = {"$ref": "#/components/schemas/Problem"}

Responses = dict[int | str, dict[str, Any]]


def problem(description: str) -> dict[str, Any]:
    """One documented problem answer (the Problem schema is added by create_app)."""
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }


NOT_FOUND: Final[Responses] = {
    404: problem("`not_found`: no such object in the key's tenant and environment.")
}
CONFLICT: Final[Responses] = {
    409: problem("`illegal_transition`: the key's state does not allow this action.")
}
TOO_LARGE: Final[Responses] = {
    413: problem("`payload_too_large`: the body exceeds the route's limit (`x-max-body-bytes`).")
}
JSON_BODY: Final[Responses] = {
    400: problem("`malformed_json`: the body is not JSON."),
    415: problem("`unsupported_media_type`: the body is not declared as JSON."),
    **TOO_LARGE,
}
UNAVAILABLE: Final[Responses] = {
    503: problem("`not_ready` or `configuration`: a backend is unavailable (see Retry-After).")
}
