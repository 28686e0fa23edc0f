"""/v1/leaks over real HTTP: GitHub's signed alerts, tenant reports, the public endpoint."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from keyguard.clock import ManualClock
from keyguard.incidents import token_hash
from keyguard.keys import generate_key
from keyguard.lifecycle.views import OPERATOR, CreatedKey
from keyguard.runtime import Runtime
from tests.functional.api.conftest import Api, StartApi
from tests.functional.test_scan_cli import keyguard
from tests.unit.incidents.github_keys import Signer, publish

URL = "https://github.com/acme/app/blob/0123abc/config/settings.py"
WAIT_SECONDS = 10.0


@pytest.fixture
def signer() -> Signer:
    return Signer("github-key-1")


@pytest.fixture
def github(start_api: StartApi, tmp_path: Path, signer: Signer) -> Api:
    return start_api(github_keys_file=publish(tmp_path / "keys.json", signer))


def _alerts(*tokens: str) -> bytes:
    records = [{"token": t, "type": "keyguard_api_key", "url": URL, "source": "content"}
               for t in tokens]  # fmt: skip
    return json.dumps(records).encode()


def _post(api: Api, body: bytes, headers: dict[str, str]) -> httpx.Response:
    headers = {**headers, "Content-Type": "application/json"}
    return api.client().post("/v1/leaks/github", content=body, headers=headers)


def test_github_alerts_are_labelled_and_every_real_key_is_revoked(
    github: Api, signer: Signer
) -> None:
    real = github.key("mail:send")
    other = github.key("mail:send", tenant="other")
    unknown = generate_key("live").reveal()
    body = _alerts(real.key.reveal(), other.key.reveal(), unknown, "SG.nope")
    answer = _post(github, body, signer.headers(body))
    assert answer.status_code == 200, answer.text
    assert answer.json() == [
        {"token_hash": token_hash(real.key.reveal()), "token_type": "keyguard_api_key",
         "label": "true_positive"},
        {"token_hash": token_hash(other.key.reveal()), "token_type": "keyguard_api_key",
         "label": "true_positive"},
        {"token_hash": token_hash(unknown), "token_type": "keyguard_api_key",
         "label": "false_positive"},
        {"token_hash": token_hash("SG.nope"), "token_type": "keyguard_api_key",
         "label": "false_positive"},
    ]  # fmt: skip
    assert real.key.reveal() not in answer.text
    for key in (real, other):
        assert github.client(key).get("/v1/keys").json()["code"] == "revoked"
    incidents = github.runtime.incidents.list(OPERATOR)
    assert {(i.source, i.source_url) for i in incidents} == {("github", URL)}


def test_a_wrong_signature_is_refused_and_nothing_is_revoked(github: Api, signer: Signer) -> None:
    real = github.key("mail:send")
    body = _alerts(real.key.reveal())
    forged = Signer(signer.key_id).headers(body)  # the right key id, another private key
    answer = _post(github, body, forged)
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_signature")
    assert github.runtime.keys.show(OPERATOR, real.view.id).state == "active"


def test_a_replayed_signature_on_another_body_is_refused(github: Api, signer: Signer) -> None:
    real = github.key("mail:send")
    harmless = _alerts("SG.nothing")
    assert _post(github, harmless, signer.headers(harmless)).status_code == 200
    replayed = _post(github, _alerts(real.key.reveal()), signer.headers(harmless))
    assert (replayed.status_code, replayed.json()["code"]) == (401, "invalid_signature")
    assert github.runtime.keys.show(OPERATOR, real.view.id).state == "active"


def test_missing_headers_are_refused(github: Api) -> None:
    answer = _post(github, _alerts("x"), {})
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_signature")


def test_a_new_github_key_is_picked_up_on_its_first_use(
    github: Api, signer: Signer, tmp_path: Path, clock: ManualClock
) -> None:
    body = _alerts("SG.nothing")
    assert _post(github, body, signer.headers(body)).status_code == 200
    rotated = Signer("github-key-2")
    publish(tmp_path / "keys.json", signer, rotated)
    clock.advance(timedelta(minutes=1))
    assert _post(github, body, rotated.headers(body)).status_code == 200
    invented = Signer("github-key-3")
    refused = _post(github, body, invented.headers(body))
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_signature")


def test_without_configured_keys_the_github_door_is_closed(api: Api) -> None:
    answer = _post(api, _alerts("x"), {"Github-Public-Key-Identifier": "k"})
    assert (answer.status_code, answer.json()["code"]) == (404, "github_intake_off")


def test_a_signed_body_that_is_not_the_partner_format_is_refused(
    github: Api, signer: Signer
) -> None:
    body = b'{"token": "x"}'
    answer = _post(github, body, signer.headers(body))
    assert answer.status_code == 422


def test_a_tenant_report_revokes_its_own_keys_only(api: Api) -> None:
    scanner = api.client(api.key("leaks:report"))
    mine = api.key("mail:send")
    theirs = api.key("mail:send", tenant="other")
    answer = scanner.post(
        "/v1/leaks/report",
        json={"reports": [
            {"token": mine.key.reveal(), "path": "src/app.py", "line": 3, "column": 9},
            {"token": theirs.key.reveal(), "path": "src/app.py", "line": 4, "column": 9},
        ]},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["results"]
    assert (first["label"], first["key_id"], first["revoked"]) == (
        "true_positive",
        mine.view.id,
        True,
    )
    assert second == {
        "fingerprint": token_hash(theirs.key.reveal()),
        "label": "false_positive",
        "key_id": None,
        "incident_id": None,
        "revoked": False,
    }
    assert api.client(mine).get("/v1/keys").json()["code"] == "revoked"
    assert api.runtime.keys.show(OPERATOR, theirs.view.id).state == "active"
    incident = api.runtime.incidents.show(OPERATOR, first["incident_id"])
    assert incident.source == "report" and "src/app.py:3:9" in incident.reason


def test_reporting_needs_the_leaks_report_scope(api: Api) -> None:
    answer = api.client(api.key("keys:write")).post(
        "/v1/leaks/report", json={"reports": [{"token": "x"}]}
    )
    assert (answer.status_code, answer.json()["code"]) == (403, "denied_scope")


def _revoked_soon(runtime: Runtime, key: CreatedKey) -> bool:
    """The public endpoint revokes after answering: wait for that thread (bounded)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if runtime.keys.show(OPERATOR, key.view.id).state == "revoked":
            return True
        time.sleep(0.02)  # waits for the server's background task, not for the test clock
    return False


def test_the_public_endpoint_answers_the_same_whatever_was_submitted(api: Api) -> None:
    anyone = api.client()
    real = api.key("mail:send")
    answers = [
        anyone.post("/v1/leaks/revoke", json={"keys": [submitted]})
        for submitted in (real.key.reveal(), generate_key("live").reveal(), "garbage")
    ]
    assert {a.status_code for a in answers} == {202}
    assert {a.content for a in answers} == {b'{"status":"received"}'}
    names = [sorted(k for k in a.headers if k != "x-request-id") for a in answers]
    assert names[0] == names[1] == names[2]
    assert _revoked_soon(api.runtime, real)
    assert api.runtime.incidents.list(OPERATOR)[0].source == "public"


def test_the_public_endpoint_is_rate_limited_per_client(start_api: StartApi) -> None:
    api = start_api(public_revoke_per_minute=2)
    anyone = api.client()
    codes = [
        anyone.post("/v1/leaks/revoke", json={"keys": ["garbage"]}).status_code for _ in range(3)
    ]
    assert codes == [202, 202, 429]


def test_scan_report_to_revokes_the_keys_it_finds_and_sends_only_their_location(
    api: Api, tmp_path: Path
) -> None:
    found = api.key("mail:send")
    clean = api.key("mail:send")
    (tmp_path / "settings.py").write_text(
        "# configuration\nSECRET_NOTE = 'do not ship'\nKEY = '" + found.key.reveal() + "'\n"
    )
    reporter = api.key("leaks:report")
    done = keyguard(
        "--format", "json", "--report-to", f"{api.url}/v1/leaks/report", ".",
        cwd=tmp_path, env={"KEYGUARD_API_KEY": reporter.key.reveal()},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert found.key.reveal() not in done.stdout + done.stderr
    assert api.runtime.keys.show(OPERATOR, found.view.id).state == "revoked"
    assert api.runtime.keys.show(OPERATOR, clean.view.id).state == "active"
    (incident,) = api.runtime.incidents.list(OPERATOR)
    detail = api.runtime.incidents.show(OPERATOR, incident.id)
    assert incident.source == "report" and "settings.py:3:" in detail.reason
    assert "do not ship" not in str(detail.to_json())


def test_scan_report_to_needs_tls_except_to_loopback(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("nothing\n")
    done = keyguard("--report-to", "http://keyguard.example/v1/leaks/report", ".", cwd=tmp_path)
    assert done.returncode == 2 and "https" in done.stderr
