"""The email API over real HTTP (uvicorn on loopback) with the delivery worker running inside
the server, as `keyguard serve` runs it, and a real SMTP sink as the relay."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest

from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.mail.limits import MAX_BATCH
from tests.functional.api.conftest import Api, StartApi, start_api  # noqa: F401 - fixture
from tests.functional.mail.sinks import Received, Sink, free_port, running_sink
from tests.unit.mail.conftest import DOMAIN, SENDER

DEADLINE = 30.0


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    """Poll until `condition()` is truthy: waits for the worker, asserts nothing on time."""
    deadline = time.monotonic() + DEADLINE
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)
    return result


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as running:
        yield running


@pytest.fixture
def mail_api(start_api: StartApi, sink: Sink) -> Api:  # noqa: F811 - the imported fixture
    api = start_api(smtp_relay=sink.url, mail_poll_seconds=0.05)
    api.runtime.mail.domains.add_domain(DEFAULT_TENANT, DOMAIN, OPERATOR.id)
    return api


def letter(**fields: Any) -> dict[str, Any]:
    return {"from": SENDER, "to": ["a@example.com"], "subject": "Hi", "text": "Hello.", **fields}


def events(api: Api, path: str) -> list[tuple[str, int, str | None]]:
    found = [e for e in api.usage() if e.path == path]
    return [(e.outcome, e.status, (e.extra or {}).get("code")) for e in found]


def delivered(sink: Sink, count: int) -> list[Received]:
    return list(wait_for(lambda: len(sink.messages) >= count and sink.messages, "delivery"))


# -- sending ---------------------------------------------------------------------------------


def test_a_live_key_sends_and_the_relay_receives_exactly_that_message(
    mail_api: Api, sink: Sink
) -> None:
    client = mail_api.client(mail_api.key("mail:send", "stats:read"))
    answer = client.post("/v1/mail/send", json=letter(html="<p>Hello.</p>"))
    assert answer.status_code == 202
    [item] = answer.json()["messages"]
    assert item["status"] == "queued"
    [received] = delivered(sink, 1)
    assert (received.sender, received.rcpt) == (SENDER, ["a@example.com"])
    assert f"Message-ID: <{item['id']}@{DOMAIN}>".encode() in received.data
    status = wait_for(
        lambda: (
            (s := client.get(f"/v1/mail/messages/{item['id']}").json())["status"] == "sent" and s
        ),
        "the sent state",
    )
    assert [e["type"] for e in status["events"]] == ["queued", "delivered"]
    assert events(mail_api, "/v1/mail/send") == [("ok", 202, None)]


def test_a_test_key_message_lands_in_the_sandbox_and_never_at_the_relay(
    mail_api: Api, sink: Sink
) -> None:
    tester = mail_api.client(mail_api.key("mail:send", "sandbox:read", env="test"))
    captured = tester.post("/v1/mail/send", json=letter(subject="captured")).json()
    assert captured["messages"][0]["status"] == "sandboxed"
    live = mail_api.client(mail_api.key("mail:send"))
    assert live.post("/v1/mail/send", json=letter(subject="live")).status_code == 202
    [received] = delivered(sink, 1)  # the worker reached the later live message, and only it
    assert b"Subject: live" in received.data
    sandbox = tester.get("/v1/sandbox/messages").json()["data"]
    assert [m["subject"] for m in sandbox] == ["captured"]
    shown = tester.get(f"/v1/sandbox/messages/{sandbox[0]['id']}").json()
    assert shown["text"].strip() == "Hello."


DENIALS = {
    "unregistered sender": ({}, letter(**{"from": "x@elsewhere.example"}), 403, "denied_sender"),
    "sender not on the key": (
        {"sender_domains": ["news.brand.example"]},
        letter(),
        403,
        "denied_sender",
    ),
    "recipient not allowed": (
        {"recipients": ["@partner.example"]},
        letter(),
        403,
        "denied_recipient",
    ),
    "header injection": ({}, letter(subject="Hi\r\nBcc: x@evil.example"), 422, "header_injection"),
    "malformed address": ({}, letter(to=["a@@example.com"]), 422, "invalid_address"),
    "unknown template": (
        {},
        {"from": SENDER, "to": ["a@example.com"], "template": "nope"},
        422,
        "unknown_template",
    ),
}


@pytest.mark.parametrize("case", DENIALS.values(), ids=DENIALS.keys())
def test_each_refusal_is_a_problem_with_its_code_and_one_usage_event(
    mail_api: Api, case: tuple[dict[str, Any], dict[str, Any], int, str]
) -> None:
    restrictions, body, status, code = case
    client = mail_api.client(mail_api.key("mail:send", **restrictions))
    answer = client.post("/v1/mail/send", json=body)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    outcome = code if code.startswith("denied_") else "ok"
    assert events(mail_api, "/v1/mail/send") == [(outcome, status, code)]


def test_a_suppressed_recipient_and_the_quota_are_refused(mail_api: Api) -> None:
    admin = mail_api.client(mail_api.key("suppressions:write"))
    assert admin.post("/v1/suppressions", json={"address": "gone@example.com"}).status_code == 201
    client = mail_api.client(mail_api.key("mail:send", daily_quota=2))
    suppressed = client.post("/v1/mail/send", json=letter(to=["gone@example.com"]))
    assert (suppressed.status_code, suppressed.json()["code"]) == (403, "suppressed_recipient")
    accepted = client.post("/v1/mail/send", json=letter(to=["a@example.com", "b@example.com"]))
    assert accepted.status_code == 202, accepted.text
    over = client.post("/v1/mail/send", json=letter())
    assert (over.status_code, over.json()["code"]) == (429, "quota_exceeded")
    assert int(over.headers["retry-after"]) > 0
    assert [e[0] for e in events(mail_api, "/v1/mail/send")] == [
        "denied_recipient",
        "ok",
        "quota_exceeded",
    ]


def test_a_key_without_mail_send_is_refused_before_anything_is_read(mail_api: Api) -> None:
    client = mail_api.client(mail_api.key("contacts:read"))
    answer = client.post("/v1/mail/send", json=letter())
    assert (answer.status_code, answer.json()["code"]) == (403, "denied_scope")


# -- batches and retries ---------------------------------------------------------------------


def test_an_all_or_nothing_batch_lists_every_refused_item(mail_api: Api) -> None:
    client = mail_api.client(mail_api.key("mail:send", "stats:read"))
    body = {"messages": [letter(), letter(to=["bad"]), letter(**{"from": "x@no.example"})]}
    answer = client.post("/v1/mail/send", json=body)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "invalid_address"
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("messages.1", "invalid_address"),
        ("messages.2", "denied_sender"),
    ]
    assert client.get("/v1/mail/messages").json()["data"] == []


def test_a_partial_batch_answers_item_by_item(mail_api: Api) -> None:
    client = mail_api.client(mail_api.key("mail:send", "stats:read"))
    answer = client.post(
        "/v1/mail/send", json={"messages": [letter(), letter(to=["bad"])], "partial": True}
    )
    assert answer.status_code == 202
    first, second = answer.json()["messages"]
    assert first["status"] == "queued" and second["code"] == "invalid_address"
    listed = client.get("/v1/mail/messages").json()["data"]
    assert [m["id"] for m in listed] == [first["id"]]


def test_a_thousand_messages_with_attachments_fit_in_one_request(mail_api: Api) -> None:
    attachment = {"filename": "a.txt", "content": base64.b64encode(b"x" * 1500).decode()}
    body = {"messages": [letter(attachments=[attachment])] * MAX_BATCH}
    client = mail_api.client(mail_api.key("mail:send", env="test"))  # sandboxed: no delivery
    answer = client.post("/v1/mail/send", json=body)  # ~2.5 MB, over the default body limit
    assert answer.status_code == 202
    assert len(answer.json()["messages"]) == MAX_BATCH


def test_a_retry_with_the_same_idempotency_key_gets_the_same_answer(
    mail_api: Api, sink: Sink
) -> None:
    client = mail_api.client(mail_api.key("mail:send"), **{"Idempotency-Key": "order-7"})
    first = client.post("/v1/mail/send", json=letter())
    again = client.post("/v1/mail/send", json=letter())
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = client.post("/v1/mail/send", json=letter(subject="changed"))
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    delivered(sink, 1)
    assert len(sink.messages) == 1


# -- contacts, lists, templates, campaigns ---------------------------------------------------


def test_a_campaign_reaches_every_list_member_through_the_relay(mail_api: Api, sink: Sink) -> None:
    client = mail_api.client(
        mail_api.key("contacts:write", "lists:write", "templates:write", "campaigns:*")
    )
    newsletter = client.post("/v1/lists", json={"name": "newsletter"}).json()
    csv = "email,first_name\nada@example.com,Ada\nbob@example.com,Bob\nbad-row,X\n"
    imported = client.post(
        f"/v1/contacts/import?list_id={newsletter['id']}",
        content=csv.encode(),
        headers={"Content-Type": "text/csv"},
    ).json()
    assert (imported["created"], [e["line"] for e in imported["errors"]]) == (2, [4])
    template = {"name": "spring", "subject": "Hi {{ first_name }}", "text": "News."}
    assert client.post("/v1/templates", json=template).status_code == 201
    campaign = client.post(
        "/v1/campaigns",
        json={"name": "spring", "template": "spring", "list_id": newsletter["id"], "from": SENDER},
    ).json()
    sent = client.post(f"/v1/campaigns/{campaign['id']}/send")
    assert (sent.status_code, sent.json()["summary"]["queued"]) == (202, 2)
    again = client.post(f"/v1/campaigns/{campaign['id']}/send")
    assert (again.status_code, again.json()["code"]) == (409, "illegal_transition")
    subjects = sorted(m.data.split(b"Subject: ")[1].split(b"\r\n")[0] for m in delivered(sink, 2))
    assert subjects == [b"Hi Ada", b"Hi Bob"]
    assert [e[0] for e in events(mail_api, f"/v1/campaigns/{campaign['id']}/send")] == [
        "ok",
        "ok",
    ]


def test_contacts_are_isolated_by_environment_over_http(mail_api: Api) -> None:
    live = mail_api.client(mail_api.key("contacts:*"))
    test = mail_api.client(mail_api.key("contacts:*", env="test"))
    contact = live.post("/v1/contacts", json={"email": "a@example.com"}).json()
    assert test.get(f"/v1/contacts/{contact['id']}").status_code == 404
    assert test.get("/v1/contacts").json()["data"] == []
    assert live.delete(f"/v1/contacts/{contact['id']}").status_code == 204


def test_lists_templates_and_suppressions_round_trip(mail_api: Api) -> None:
    client = mail_api.client(mail_api.key("contacts:*", "lists:*", "templates:*", "suppressions:*"))
    contact = client.post("/v1/contacts", json={"email": "a@example.com"}).json()
    team = client.post("/v1/lists", json={"name": "team"}).json()
    added = client.post(f"/v1/lists/{team['id']}/members", json={"contact_ids": [contact["id"]]})
    assert added.json() == {"added": 1}
    members = client.get(f"/v1/lists/{team['id']}/members").json()["data"]
    assert [m["email"] for m in members] == ["a@example.com"]
    template = client.post("/v1/templates", json={"name": "t", "subject": "s", "text": "x"})
    patched = client.patch(f"/v1/templates/{template.json()['id']}", json={"subject": "new"})
    assert patched.json()["subject"] == "new"
    client.post("/v1/suppressions", json={"address": "@spam.example", "reason": "complaint"})
    listed = client.get("/v1/suppressions").json()["data"]
    assert [(s["address"], s["reason"]) for s in listed] == [("@spam.example", "complaint")]
    assert client.delete("/v1/suppressions/@spam.example").status_code == 204


def test_smtp_submission_can_run_inside_serve_next_to_the_worker(
    start_api: StartApi,  # noqa: F811 - the imported fixture
    sink: Sink,
) -> None:
    port = free_port()
    api = start_api(smtp_relay=sink.url, smtp_in_serve=True, smtp_port=port, mail_poll_seconds=0.05)
    api.runtime.mail.domains.add_domain(DEFAULT_TENANT, DOMAIN, OPERATOR.id)
    key = api.key("mail:send").key.reveal()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, "a@example.com", "smtp"
    message.set_content("Through the SMTP door of keyguard serve.")

    async def submit() -> None:
        # dev mode without a certificate: plain SMTP on loopback, as docs/mail.md says
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
            await smtp.login("apikey", key)
            await smtp.send_message(message)

    asyncio.run(submit())
    [received] = delivered(sink, 1)
    assert b"Through the SMTP door" in received.data
