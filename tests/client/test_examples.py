"""The programs in examples/, each run against a real `keyguard serve`."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from keyguard_client import AsyncKeyguard, Keyguard

from tests.client.conftest import Served, message
from tests.functional.api.servers import ThreadServer
from tests.unit.secrets.conftest import Bao

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def shop(served: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadServer]:
    """examples/fastapi_send.py served, its key (mail:send only) in its environment."""
    monkeypatch.setenv("KEYGUARD_API_KEY", served.key("mail:send").key.reveal())
    monkeypatch.setenv("KEYGUARD_BASE_URL", served.url)
    server = ThreadServer(example("fastapi_send").app).start()
    yield server
    server.stop()


def test_the_fastapi_example_mails_an_order_confirmation(
    shop: ThreadServer, admin: Keyguard
) -> None:
    order = {"id": secrets.token_hex(4), "email": "buyer@example.com"}
    placed = httpx.post(f"{shop.url}/orders", json=order, timeout=30)
    assert placed.status_code == 201, placed.text
    message_id = placed.json()["message_id"]
    assert admin.sandbox.get(message_id).subject == f"Order {order['id']} confirmed"
    again = httpx.post(f"{shop.url}/orders", json=order, timeout=30)  # a retried request
    assert again.json()["message_id"] == message_id


def test_the_ci_job_rotates_a_key_into_openbao_without_printing_it(
    served: Served, bao: Bao, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailer = served.key("mail:send")
    path = f"apps/{secrets.token_hex(4)}/mailer"
    bao.admin().secrets.kv.v2.create_or_update_secret(
        path=path, secret={"key": mailer.key.reveal(), "owner": "shop"}
    )
    env = {**os.environ, "KEYGUARD_BASE_URL": served.url,
           "KEYGUARD_API_KEY": served.key("keys:write", "mail:send").key.reveal(),
           "BAO_ADDR": bao.server.address, "BAO_TOKEN": bao.server.root_token}  # fmt: skip
    job = subprocess.run(
        [sys.executable, str(EXAMPLES / "rotate_into_vault.py"), mailer.view.id,
         f"secret/{path}", "--grace", "1h"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert job.returncode == 0, job.stderr
    report = json.loads(job.stdout)
    kv = bao.admin().secrets.kv.v2
    stored = kv.read_secret_version(path=path, raise_on_deleted_version=True)["data"]["data"]
    assert stored["owner"] == "shop" and stored["key"] != mailer.key.reveal()
    assert stored["key"] not in job.stdout + job.stderr
    assert report["rotated"] == mailer.view.id
    monkeypatch.setenv("BAO_ADDR", bao.server.address)
    monkeypatch.setenv("BAO_TOKEN", bao.server.root_token)
    with Keyguard.from_source(f"openbao:secret/{path}", base_url=served.url) as app:
        assert app.mail.send(message()).messages  # the application, on the successor


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The app behind the gate: answers with the id of the key the gate let through."""
    key = scope["state"]["keyguard_key"]
    body = json.dumps({"key_id": key.id}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_the_gateway_lets_through_only_what_keyguard_allows(served: Served) -> None:
    gate_key = served.key("keys:verify").key.reveal()
    sender = served.key("mail:send")
    reader = served.key("contacts:read")

    async def calls() -> list[tuple[int, Any]]:
        async with AsyncKeyguard(gate_key, base_url=served.url) as keyguard:
            gate = example("verify_gateway").KeyguardGate(_echo, keyguard, scope="mail:send")
            transport = httpx.ASGITransport(app=gate, client=("203.0.113.7", 4000))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                results = []
                for headers in (
                    {"Authorization": f"Bearer {sender.key.reveal()}"},
                    {"X-API-Key": reader.key.reveal()},
                    {"Authorization": "Bearer not-a-key"},
                    {},
                ):
                    answer = await http.post("/send", headers=headers)
                    results.append((answer.status_code, answer.json()))
                return results

    allowed, wrong_scope, garbage, missing = asyncio.run(calls())
    assert allowed == (200, {"key_id": sender.view.id})
    assert (wrong_scope[0], wrong_scope[1]["code"]) == (403, "denied_scope")
    assert (garbage[0], garbage[1]["code"]) == (401, "invalid_key")
    assert (missing[0], missing[1]["code"]) == (401, "missing_key")
