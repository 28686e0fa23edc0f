"""The one table from errors to HTTP statuses, and the shape of a problem."""

from __future__ import annotations

import json

import pytest

from keyguard import errors
from keyguard.api.problems import STATUS_BY_ERROR, error_response, problem_response, status_for


def test_every_error_class_has_a_status() -> None:
    classes = {
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.KeyguardError)
    }
    assert classes - {errors.KeyguardError} == set(STATUS_BY_ERROR)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidInput("x", code="unknown_scope"), 422),
        (errors.InvalidInput("x", code="key_in_query"), 400),
        (errors.NotFound("x"), 404),
        (errors.IllegalTransition("x"), 409),
        (errors.PermissionDenied("x", code="privilege_escalation"), 403),
        (errors.AuthenticationFailed("x", code="key_rotated"), 401),
        (errors.RateLimited("x", code="quota_exceeded"), 429),
        (errors.ConfigurationError("x", code="rate_limiter_unavailable"), 503),
        (errors.KeyguardError("x"), 500),
    ],
)
def test_status_for_each_kind_of_error(error: errors.KeyguardError, status: int) -> None:
    assert status_for(error) == status


def test_a_problem_has_the_rfc_9457_members_and_a_code() -> None:
    response = error_response(errors.RateLimited("slow down", retry_after=12.2))
    body = json.loads(bytes(response.body))
    assert body == {
        "type": "urn:keyguard:problem:rate_limited",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "slow down",
        "code": "rate_limited",
        "retry_after": 13,
    }
    assert response.headers["retry-after"] == "13"
    assert response.media_type == "application/problem+json"


def test_a_field_error_names_the_field() -> None:
    body = json.loads(bytes(error_response(errors.InvalidInput("bad", field="scopes")).body))
    assert body["errors"] == [
        {"location": "request", "field": "scopes", "code": "invalid_input", "message": "bad"}
    ]


def test_an_unauthenticated_answer_says_how_to_authenticate() -> None:
    response = error_response(errors.AuthenticationFailed("no"))
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_key_shaped_input_quoted_in_a_message_is_masked() -> None:
    key = "kg_live_" + "A" * 32
    body = bytes(problem_response(404, "not_found", f"no key {key!r}").body).decode()
    assert key not in body
    assert "kg_live_AAAA" in body
