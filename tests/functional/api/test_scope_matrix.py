"""Every scope against every protected route, allowed and denied.

The route table is the served /openapi.json (each operation's `x-required-scope`), so a
route added later, by any package, is covered without touching this file.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from keyguard.policy.scopes import ALL_SCOPES, SCOPES, grants
from tests.functional.api.conftest import Api

# Bodies that make the known routes succeed; any other route gets `{}` and must at least
# get past enforcement (a validation error then proves the scope check let it through).
SAMPLE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/keys"): {"scopes": ["keys:read"]},
    ("post", "/v1/keys/verify"): {"key": "not-a-key"},
    ("post", "/v1/keys/{key_id}/rotate"): {"grace": "1h"},
}
HELD_SCOPES = sorted(SCOPES) + list(ALL_SCOPES)
# Refusals that mean the key itself was not good enough for the route.
AUTH_REFUSALS = frozenset({"denied_scope", "denied_ip"})


def _allowed(status: int, code: str | None) -> bool:
    """Past enforcement: a success, or a problem with a stable code about the request itself
    (404, 409, 422, privilege_escalation…); never 401, a scope refusal, or a 5xx."""
    if 200 <= status < 300:
        return True
    return 400 <= status < 500 and status != 401 and code is not None and code not in AUTH_REFUSALS


def _routes(api: Api) -> list[tuple[str, str, str]]:
    document = httpx.get(f"{api.url}/openapi.json").json()
    return [
        (method, path, operation["x-required-scope"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "x-required-scope" in operation
    ]


def _call(client: httpx.Client, method: str, path: str, target: str) -> httpx.Response:
    url = re.sub(r"\{[^}]+\}", target, path)
    body = SAMPLE_BODIES.get((method, path), {}) if method in ("post", "put", "patch") else None
    return client.request(method.upper(), url, json=body)


def test_every_v1_operation_declares_a_scope(api: Api) -> None:
    document = httpx.get(f"{api.url}/openapi.json").json()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if path.startswith("/v1/") and operation.get("x-public"):
                # Public on purpose (GitHub's signed alerts, the public revocation endpoint),
                # and it says why: no key, so no security requirement either.
                assert "x-required-scope" not in operation and operation["security"] == [], path
            elif path.startswith("/v1/"):
                assert operation.get("x-required-scope") in SCOPES, path
                assert operation["security"] == [{"bearer": []}, {"apiKey": []}]
                assert operation["x-required-scope"] in operation["description"]


def test_each_scope_is_allowed_exactly_where_it_grants_the_route(api: Api) -> None:
    routes = _routes(api)
    assert len(routes) >= 9
    keys = {scope: api.client(api.key(scope)) for scope in HELD_SCOPES}
    failures = []
    for method, path, required in routes:
        target = api.key("mail:send").view.id  # state changes after the first: 409, not 403
        for held, client in keys.items():
            answer = _call(client, method, path, target)
            code = answer.json().get("code") if answer.status_code >= 400 else None
            if grants(frozenset({held}), required):
                ok = _allowed(answer.status_code, code)
            else:
                ok = answer.status_code == 403 and code == "denied_scope"
            if not ok:
                failures.append(f"{held} {method.upper()} {path}: {answer.status_code} {code}")
    assert not failures, "\n".join(failures)


def test_every_scope_but_the_one_required_is_not_enough(api: Api) -> None:
    clients: dict[str, httpx.Client] = {}
    for method, path, required in _routes(api):
        if required not in clients:
            clients[required] = api.client(api.key(*(s for s in SCOPES if s != required)))
        answer = _call(clients[required], method, path, "key_0000000000000000")
        assert answer.status_code == 403, (method, path)
        assert answer.json()["code"] == "denied_scope"


def test_a_request_without_a_key_is_refused_on_every_route(api: Api) -> None:
    anonymous = api.client()
    for method, path, _ in _routes(api):
        answer = _call(anonymous, method, path, "key_0000000000000000")
        assert answer.status_code == 401, (method, path)
        assert answer.json()["code"] == "missing_key"
        assert answer.headers["www-authenticate"].startswith("Bearer")


def test_the_admin_key_succeeds_on_every_key_and_audit_route(api: Api) -> None:
    admin = api.client(api.key())
    own = [r for r in _routes(api) if r[1].startswith(("/v1/keys", "/v1/audit"))]
    assert len(own) == 11  # with /v1/keys/{key_id}/usage and …/usage/sources
    for method, path, _ in own:
        target = api.key("mail:send").view.id
        answer = _call(admin, method, path, target)
        if path.endswith("/resume"):
            admin.post(f"/v1/keys/{target}/suspend")
            answer = _call(admin, method, path, target)
        assert answer.status_code in (200, 201), (method, path, answer.text)
