"""The served /openapi.json: valid, readable operationIds, documented errors, and every
operation reachable through a method of both clients."""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from keyguard_client import AsyncKeyguard, Keyguard
from keyguard_client._operations import OPERATIONS, TAG
from openapi_spec_validator import validate

from tests.client.conftest import Served

METHODS = {"get", "post", "put", "patch", "delete"}
READABLE = re.compile(r"[a-z]+(_[a-z]+)+")


@pytest.fixture(scope="module")
def document(served: Served) -> dict[str, Any]:
    answer = httpx.get(f"{served.url}/openapi.json", timeout=30)
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        op["operationId"]: {**op, "method": method.upper(), "path": path}
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def reachable(client_class: type[Any]) -> set[str]:
    """The operation ids tagged on the methods of the client and of its resources."""
    client = client_class("not-a-key", base_url="http://unused.test")
    owners = [client, *(v for v in vars(client).values() if hasattr(v, "_client"))]
    return {
        getattr(member, TAG)
        for owner in owners
        for _, member in inspect.getmembers(owner, callable)
        if hasattr(member, TAG)
    }


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_every_operation_has_a_readable_unique_operation_id(document: dict[str, Any]) -> None:
    ids = [
        op["operationId"]
        for item in document["paths"].values()
        for method, op in item.items()
        if method in METHODS
    ]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not READABLE.fullmatch(i)] == []


def test_the_client_knows_every_operation_by_its_id_method_and_path(
    document: dict[str, Any],
) -> None:
    served = {i: (op["method"], op["path"]) for i, op in operations(document).items()}
    known = {i: (op.method, op.path) for i, op in OPERATIONS.items()}
    assert known == served


@pytest.mark.parametrize("client_class", [Keyguard, AsyncKeyguard])
def test_every_operation_is_reachable_through_a_client_method(
    document: dict[str, Any], client_class: type[Any]
) -> None:
    assert set(operations(document)) - reachable(client_class) == set()


def test_the_verify_answer_is_typed(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["VerifyAnswer"]
    assert {"valid", "outcome", "code", "key", "retry_after"} <= set(schema["properties"])
    assert set(schema["required"]) == {"valid", "outcome"}
    assert schema["properties"]["valid"]["type"] == "boolean"


@pytest.mark.parametrize(
    ("operation_id", "statuses"),
    [
        ("keys_get", {"404"}),
        ("keys_revoke", {"404", "409", "413"}),
        ("keys_resume", {"404", "409"}),
        ("mail_send", {"400", "413"}),
        ("contacts_import", {"404", "413"}),
        ("campaigns_delete", {"404"}),
        ("readiness_get", {"503"}),
        ("keys_usage", {"404", "422"}),
        ("keys_usage_sources", {"404", "422"}),
        ("usage_events_list", {"422"}),
        ("incidents_open", {"400", "404", "409"}),
        ("incidents_get", {"404"}),
        ("incidents_contain", {"404", "409"}),
        ("incidents_resolve", {"404", "409"}),
        ("incidents_note", {"404", "413"}),
        ("incidents_assign", {"404", "409"}),
        ("tenant_keys_revoke", {"400", "415"}),
        ("leaks_github", {"400", "401", "404", "503"}),
        ("leaks_report", {"400", "413"}),
        ("leaks_revoke", {"400", "429"}),
        ("review_get", {"422"}),
        ("review_apply", {"404", "409", "422", "503"}),
        ("alerts_list", {"422"}),
        ("alerts_get", {"404"}),
        ("alerts_ack", {"404", "409"}),
        ("alerts_resolve", {"404", "409"}),
        ("alerts_false_positive", {"404", "409"}),
        ("alerts_undo", {"404", "409"}),
    ],
)
def test_errors_are_documented_where_they_occur(
    document: dict[str, Any], operation_id: str, statuses: set[str]
) -> None:
    responses = operations(document)[operation_id]["responses"]
    assert statuses <= set(responses)
    problem = responses[min(statuses)]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}


def test_the_csv_import_documents_its_body(document: dict[str, Any]) -> None:
    body = operations(document)["contacts_import"]["requestBody"]
    assert body["required"] is True
    assert {"text/csv", "application/octet-stream"} <= set(body["content"])


def test_the_csv_import_takes_the_octet_stream_it_documents(admin: Keyguard) -> None:
    answer = httpx.post(
        f"{admin.base_url}/v1/contacts/import",
        content=b"email\noctet@example.com\n",
        headers={
            "Content-Type": "application/octet-stream",
            "Authorization": f"Bearer {admin._key.reveal()}",
        },
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["rows"] == 1


GENERATOR = shutil.which("openapi-python-client")


@pytest.mark.skipif(
    GENERATOR is None,
    reason="openapi-python-client is not installed (it pins httpx<0.29 and typer<0.28, so it "
    "lives in a venv of its own: put its bin/ on PATH to run this test)",
)
def test_openapi_python_client_generates_a_client_that_works(
    document: dict[str, Any], served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert GENERATOR is not None
    spec = tmp_path / "openapi.json"
    spec.write_text(httpx.get(f"{served.url}/openapi.json", timeout=30).text)
    done = subprocess.run(
        [GENERATOR, "generate", "--path", str(spec), "--meta", "none",
         "--output-path", str(tmp_path / "kg_generated")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "will not be generated" not in done.stdout + done.stderr
    compiled = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(tmp_path / "kg_generated")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stdout
    monkeypatch.syspath_prepend(str(tmp_path))
    generated = importlib.import_module("kg_generated")
    health = importlib.import_module("kg_generated.api.operations.health_get")
    client = generated.Client(base_url=served.url)
    assert health.sync_detailed(client=client).status_code == 200
