"""keyguard_client against a real `keyguard serve` process: every resource, end to end."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import pytest
from keyguard_client import (
    AsyncKeyguard,
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    Keyguard,
    KeyRotated,
    Message,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from keyguard_client.models import FoundKey, IncidentReport, UsageEvent
from pydantic import SecretStr

from keyguard.incidents import OpenRequest
from keyguard.lifecycle import OPERATOR, KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT, ensure_tenant
from keyguard.lifecycle.views import CreatedKey
from keyguard.policy.scopes import ALL_SCOPES
from tests.client.conftest import Served, message, private_file
from tests.conftest import create_key
from tests.unit.monitoring.online import store, trace

T = TypeVar("T")
DEADLINE = 30.0
USAGE_AGENT = "usage-history-test/1.0"


def test_a_send_is_queued_and_its_test_key_mail_lands_in_the_sandbox(admin: Keyguard) -> None:
    result = admin.mail.send(message(subject="Sandboxed"))
    [item] = result.messages
    assert item.id is not None and item.status in {"queued", "sandboxed"}
    captured = admin.sandbox.get(item.id)
    assert captured.subject == "Sandboxed" and captured.text is not None
    assert "Hi!" in captured.text
    assert item.id in {m.id for m in admin.sandbox.list()}
    assert admin.messages.get(item.id).id == item.id
    assert admin.messages.events(item.id).id == item.id


def test_a_send_takes_a_model_as_well_as_a_dict(admin: Keyguard) -> None:
    model = Message(sender="news@brand.example", to=["b@example.com"], subject="M", text="x")
    assert admin.mail.send(model).messages[0].status in {"queued", "sandboxed"}


def test_a_send_retried_with_its_idempotency_key_is_answered_from_the_first(
    admin: Keyguard,
) -> None:
    first = admin.mail.send(message(), idempotency_key="client-test-replay-1")
    again = admin.mail.send(message(), idempotency_key="client-test-replay-1")
    assert again.replayed and not first.replayed
    assert again.messages[0].id == first.messages[0].id


def test_a_partial_batch_says_per_message_which_were_refused(admin: Keyguard) -> None:
    result = admin.mail.send_batch(
        [message(), message(**{"from": "news@not-ours.example"})], partial=True
    )
    ok, refused = result.messages
    assert ok.id is not None
    assert refused.status == "rejected" and refused.index == 1 and refused.code


def test_an_all_or_nothing_batch_with_a_bad_message_raises_naming_it(admin: Keyguard) -> None:
    with pytest.raises(PermissionDenied) as caught:
        admin.mail.send_batch([message(), message(**{"from": "news@not-ours.example"})])
    assert [e.field for e in caught.value.errors] == ["messages.1"]


def test_the_key_lifecycle_through_the_client(admin: Keyguard) -> None:
    created = admin.keys.create(scopes=["mail:send"], name="client-lifecycle", expires_in="30d")
    assert created.key.get_secret_value().startswith("kg_test_")
    assert created.key.get_secret_value() not in repr(created)
    assert admin.keys.get(created.id).name == "client-lifecycle"
    assert admin.keys.suspend(created.id, reason="paused").state == "suspended"
    assert admin.keys.resume(created.id).state == "active"
    successor = admin.keys.rotate(created.id, grace="1h")
    assert successor.parent_id == created.id
    assert admin.keys.revoke(successor.id, reason="done").state == "revoked"
    with pytest.raises(Conflict) as caught:
        admin.keys.resume(successor.id)
    assert caught.value.status == 409 and caught.value.code == "illegal_transition"


def test_listing_keys_follows_the_cursor_across_pages(admin: Keyguard, served: Served) -> None:
    made = {admin.keys.create(scopes=["mail:send"]).id for _ in range(3)}
    first = admin.keys.page(limit=2)
    assert len(first.items) == 2 and first.next_cursor is not None
    assert made <= {key.id for key in admin.keys.list(limit=2)}


def test_a_gateway_verifies_a_presented_key(served: Served) -> None:
    presented = served.key("mail:send")
    with served.client("keys:verify") as gateway:
        answer = gateway.keys.verify(presented.key.reveal(), scope="mail:send", ip="203.0.113.7")
        assert answer.valid and answer.outcome == "ok"
        assert answer.key is not None and answer.key.id == presented.view.id
        denied = gateway.keys.verify(presented.key.reveal(), scope="contacts:read")
        assert not denied.valid and denied.outcome == "denied_scope"
        unknown = gateway.keys.verify("kg_test_" + "x" * 30)
        assert (unknown.valid, unknown.outcome, unknown.key) == (False, "invalid_key", None)


def test_contacts_lists_and_members(admin: Keyguard) -> None:
    contact = admin.contacts.create("c1@example.com", first_name="Ada", attributes={"plan": "pro"})
    assert admin.contacts.get(contact.id).attributes == {"plan": "pro"}
    assert admin.contacts.update(contact.id, first_name=None).first_name is None
    group = admin.lists.create("client-test-list", description="d")
    imported = admin.contacts.import_csv(
        "email,first_name\nc2@example.com,Bo\nnot-an-address,X\n", list_id=group.id
    )
    assert (imported.rows, imported.created, imported.failed) == (2, 1, 1)
    assert imported.errors[0].line == 3
    assert admin.lists.add_members(group.id, contact_ids=[contact.id]).added == 1
    assert {c.email for c in admin.lists.members(group.id)} == {"c1@example.com", "c2@example.com"}
    admin.lists.remove_member(group.id, contact.id)
    assert admin.lists.update(group.id, name="renamed").name == "renamed"
    assert group.id in {g.id for g in admin.lists.list()}
    assert [c.id for c in admin.contacts.list(email="c1@example.com")] == [contact.id]
    admin.contacts.delete(contact.id)
    with pytest.raises(NotFound):
        admin.contacts.get(contact.id)
    admin.lists.delete(group.id)


def test_templates_and_a_campaign_sent_to_a_list(admin: Keyguard) -> None:
    template = admin.templates.create(
        "client-welcome", subject="Welcome {{ first_name }}", text="Hello {{ first_name }}"
    )
    assert admin.templates.get("client-welcome").id == template.id  # by name
    assert admin.templates.update(template.id, html="<p>Hello</p>").html == "<p>Hello</p>"
    group = admin.lists.create("client-campaign-list")
    admin.contacts.import_csv("email,first_name\nd1@example.com,Di\n", list_id=group.id)
    campaign = admin.campaigns.create(
        "launch", template=template.id, list_id=group.id, sender="news@brand.example"
    )
    assert campaign.sender == "news@brand.example" and campaign.state == "draft"
    assert admin.campaigns.update(campaign.id, name="launch-2").name == "launch-2"
    assert campaign.id in {c.id for c in admin.campaigns.list()}
    sent = admin.campaigns.send(campaign.id)
    assert sent.state != "draft"
    draft = admin.campaigns.create(
        "dropped", template=template.id, list_id=group.id, sender="news@brand.example"
    )
    admin.campaigns.delete(draft.id)
    assert template.id in {t.id for t in admin.templates.list()}


def test_suppressions_are_added_listed_and_removed(admin: Keyguard) -> None:
    added = admin.suppressions.add("gone@example.com", reason="complaint")
    assert added.reason == "complaint"
    assert "gone@example.com" in {s.address for s in admin.suppressions.list()}
    admin.suppressions.remove("gone@example.com")
    with pytest.raises(NotFound):
        admin.suppressions.remove("gone@example.com")


def test_webhooks_are_created_delivered_rotated_and_deleted(
    admin: Keyguard, served: Served
) -> None:
    received: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            received.append(dict(self.headers))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/in"
        created = admin.webhooks.create(url, event_types=["key.created"], description="ci")
        assert created.secret.get_secret_value().startswith("whsec_")
        assert created.secret.get_secret_value() not in repr(created)
        webhook_id = created.webhook.id
        assert webhook_id in [w.id for w in admin.webhooks.list()]
        admin.keys.create(scopes=["mail:send"])
        served.runtime.deliveries.run()  # the worker's round, on the served database
        (delivery,) = admin.webhooks.deliveries(webhook_id, limit=5)
        assert (delivery.event_type, delivery.state) == ("key.created", "delivered")
        assert delivery.log[0].status_code == 204
        assert received[0]["webhook-id"] == delivery.id
        rotated = admin.webhooks.rotate_secret(webhook_id)
        assert rotated.secret.get_secret_value() != created.secret.get_secret_value()
        admin.webhooks.delete(webhook_id)
        with pytest.raises(NotFound):
            admin.webhooks.delete(webhook_id)
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_the_audit_log_lists_what_the_client_did(admin: Keyguard) -> None:
    created = admin.keys.create(scopes=["mail:send"], name="audited")
    actions = {e.action for e in admin.audit.list(target=created.id, limit=5)}
    assert any(action.startswith("key.") for action in actions)


def test_health_readiness_and_metrics(admin: Keyguard) -> None:
    assert admin.health().status == "ok"
    assert admin.ready().checks["database"] == "ok"
    assert "keyguard_" in admin.metrics()


def test_problems_become_typed_errors_with_the_server_code(served: Served) -> None:
    with served.client("mail:send") as sender:
        with pytest.raises(PermissionDenied) as denied:
            sender.keys.page()
        assert denied.value.code == "denied_scope" and denied.value.request_id
        with pytest.raises(InvalidRequest) as invalid:
            sender.mail.send({"from": "news@brand.example", "to": []})
        assert invalid.value.status == 422
    with Keyguard("kg_test_" + "y" * 30, base_url=served.url) as stranger:
        with pytest.raises(AuthenticationFailed) as refused:
            stranger.keys.page()
        assert refused.value.code == "invalid_key"


def test_a_body_over_the_limit_is_payload_too_large(admin: Keyguard) -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        admin.keys.create(scopes=["mail:send"], name="x" * 2_000_000)
    assert caught.value.code == "payload_too_large"


def test_a_client_reading_its_key_from_a_file_follows_a_rotation(
    served: Served, tmp_path: Path
) -> None:
    """The server answers key_rotated; the file holds the successor; the call goes through."""
    original = served.key("keys:read", "keys:write")
    path = private_file(tmp_path / "key", original.key.reveal())
    with Keyguard.from_source(f"file:{path}", base_url=served.url, max_age=None) as client:
        successor = client.keys.rotate(original.view.id, grace="0s")
        private_file(path, successor.key.get_secret_value())
        assert client.keys.get(successor.id).id == successor.id  # refreshed, then retried
        private_file(path, original.key.reveal())  # back to the rotated-out key
        client._key.refresh()
        with pytest.raises(KeyRotated):  # the source has no successor: raised, not looped
            client.keys.get(successor.id)


def test_the_async_client_against_the_same_server(served: Served) -> None:
    created = served.key()

    async def main() -> tuple[str, int]:
        async with AsyncKeyguard(created.key.reveal(), base_url=served.url) as client:
            sent = await client.mail.send(message(subject="async"))
            keys = [key async for key in client.keys.list(limit=1)]
            return sent.messages[0].status, len(keys)

    status, listed = asyncio.run(main())
    assert status in {"queued", "sandboxed"} and listed >= 1


# -- usage history: one key with a known history, read back through the client ------------------


def wait_for(condition: Callable[[], T], what: str) -> T:
    """Poll until `condition()` is truthy: waits for the server's usage writer, asserts
    nothing on time."""
    deadline = time.monotonic() + DEADLINE
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)
    return result


@pytest.fixture(scope="module")
def used(served: Served) -> str:
    """A key's id, after two reads, one send to two recipients and one refused create."""
    created = served.key("keys:read", "mail:send")
    key_id = created.view.id
    headers = {"User-Agent": USAGE_AGENT}
    with Keyguard(created.key.reveal(), base_url=served.url, headers=headers) as client:
        client.keys.get(key_id)
        client.keys.get(key_id)
        client.mail.send(message(to=["a@example.com", "b@example.com"]))
        with pytest.raises(PermissionDenied):
            client.keys.create(scopes=["mail:send"])
    with served.client("stats:read") as reader:
        wait_for(lambda: len(list(reader.usage.events(key_id=key_id))) == 4, "4 usage events")
    return key_id


def events_of(
    client: Keyguard, key_id: str, *, outcome: str | None = None, ip: str | None = None
) -> list[UsageEvent]:
    return list(client.usage.events(key_id=key_id, outcome=outcome, ip=ip))


def test_the_usage_series_counts_requests_by_outcome_recipients_and_networks(
    admin: Keyguard, used: str
) -> None:
    series = admin.keys.usage(used, bucket="hour")
    assert (series.key_id, series.bucket) == (used, "hour")
    totals = series.totals
    assert (totals.requests, totals.recipients, totals.networks) == (4, 2, 1)
    assert totals.outcomes == {"denied_scope": 1, "ok": 3}
    assert sum(b.requests for b in series.buckets) == 4
    assert all((b.start.minute, b.start.second) == (0, 0) for b in series.buckets)
    assert series.from_ < series.to


def test_the_usage_series_covers_the_window_asked_for(admin: Keyguard, used: str) -> None:
    times = [event.ts for event in events_of(admin, used)]
    first, last = min(times), max(times)
    around = admin.keys.usage(used, from_=first, to=last + timedelta(seconds=1), bucket="hour")
    assert around.totals.requests == 4
    assert around.from_ == first.replace(minute=0, second=0, microsecond=0)
    before = admin.keys.usage(used, from_=first - timedelta(days=3), to=first - timedelta(days=2))
    assert (before.bucket, before.totals.requests, before.totals.outcomes) == ("day", 0, {})


def test_usage_sources_say_where_the_key_was_used_from_first_and_last(
    admin: Keyguard, used: str
) -> None:
    sources = admin.keys.usage_sources(used)
    assert sources.key_id == used
    assert [(s.value, s.requests, s.denied) for s in sources.networks] == [("127.0.0.0/24", 4, 1)]
    assert [(s.value, s.requests) for s in sources.user_agents] == [(USAGE_AGENT, 4)]
    endpoints = {s.value: s.requests for s in sources.endpoints}
    assert endpoints == {f"GET /v1/keys/{used}": 2, "POST /v1/mail/send": 1, "POST /v1/keys": 1}
    (network,) = sources.networks
    assert network.first_seen < network.last_seen
    assert (sources.countries, sources.asns) == ([], [])  # the server has no IP databases


def test_usage_events_come_newest_first_across_cursor_pages(admin: Keyguard, used: str) -> None:
    first = admin.usage.events_page(key_id=used, limit=3)
    assert len(first.items) == 3 and first.next_cursor is not None
    rest = admin.usage.events_page(key_id=used, limit=3, cursor=first.next_cursor)
    assert (len(rest.items), rest.next_cursor) == (1, None)
    ids = [event.id for event in [*first.items, *rest.items]]
    assert ids == sorted(ids, reverse=True)
    assert [event.id for event in admin.usage.events(key_id=used, limit=2)] == ids


def test_a_usage_event_says_who_did_what_from_where(admin: Keyguard, used: str) -> None:
    (refused,) = events_of(admin, used, outcome="denied_scope")
    assert (refused.method, refused.path, refused.status) == ("POST", "/v1/keys", 403)
    assert (refused.key_id, refused.tenant, refused.env) == (used, DEFAULT_TENANT, "test")
    assert (refused.ip, refused.user_agent) == ("127.0.0.1", USAGE_AGENT)
    assert refused.request_id
    assert refused.key_last_used_at is not None and refused.key_last_used_at <= refused.ts
    assert (refused.geo, refused.asn) == (None, None)
    (sent,) = [e for e in events_of(admin, used) if e.path == "/v1/mail/send"]
    assert (sent.outcome, sent.scope, sent.recipients) == ("ok", "mail:send", 2)
    assert (sent.recipient_domains, sent.sender) == (["example.com"], "news@brand.example")


def test_only_a_keys_first_use_has_no_previous_use(admin: Keyguard, used: str) -> None:
    oldest, *later = sorted(events_of(admin, used), key=lambda event: event.ts)
    assert oldest.key_last_used_at is None
    assert all(event.key_last_used_at is not None for event in later)


def test_usage_events_filter_by_network(admin: Keyguard, used: str) -> None:
    assert len(events_of(admin, used, ip="127.0.0.0/8")) == 4
    assert events_of(admin, used, ip="10.0.0.0/8") == []


def test_the_usage_of_a_key_that_does_not_exist_is_not_found(admin: Keyguard) -> None:
    with pytest.raises(NotFound) as series:
        admin.keys.usage("key_doesnotexist")
    with pytest.raises(NotFound) as sources:
        admin.keys.usage_sources("key_doesnotexist")
    assert series.value.code == sources.value.code == "not_found"


def test_the_async_client_reads_the_same_usage(served: Served, used: str) -> None:
    reader = served.key("stats:read")

    async def main() -> tuple[int, int, int]:
        async with AsyncKeyguard(reader.key.reveal(), base_url=served.url) as client:
            series = await client.keys.usage(used)
            sources = await client.keys.usage_sources(used)
            events = [event async for event in client.usage.events(key_id=used, limit=3)]
            return series.totals.requests, sources.networks[0].requests, len(events)

    assert asyncio.run(main()) == (4, 4, 4)


# -- incidents, leak intake and the tenant-wide response ----------------------------------------


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_an_incident_revokes_the_key_and_shows_its_successor_once(
    admin: Keyguard, served: Served
) -> None:
    victim = served.key("mail:send")
    opened = admin.incidents.open(victim.view.id, reason="pasted in a chat", reissue=True)
    assert (opened.key_id, opened.state, opened.response) == (victim.view.id, "open", "revoke")
    assert (opened.stopped, opened.reissue_error) == ([victim.view.id], None)
    assert opened.successor is not None and opened.successor.delivered_to is None
    assert opened.successor.key is not None
    text = opened.successor.key.get_secret_value()
    assert text.startswith("kg_test_") and text not in repr(opened)
    successor = admin.keys.get(opened.successor.id)
    assert (successor.parent_id, successor.scopes, successor.state) == (
        victim.view.id, ["mail:send"], "active",
    )  # fmt: skip
    with (
        Keyguard(victim.key.reveal(), base_url=served.url) as stopped,
        pytest.raises(AuthenticationFailed) as refused,
    ):
        stopped.mail.send(message())
    assert refused.value.code == "revoked"
    with Keyguard(text, base_url=served.url) as reissued:
        assert reissued.mail.send(message()).messages[0].id is not None
    shown = admin.incidents.get(opened.id)
    assert shown.successor_id == opened.successor.id
    assert shown.timeline is not None
    kinds = [step.kind for step in shown.timeline]
    assert kinds[0] == "opened" and {"key.revoked", "successor.issued"} <= set(kinds)


def test_an_incident_is_listed_assigned_contained_noted_and_resolved(
    admin: Keyguard, served: Served
) -> None:
    # A quarantine suspends, and only a key that outlives the victim may suspend it.
    victim = create_key(
        served.runtime, env="test", scopes=["mail:send"], expires_in=timedelta(days=1)
    )
    opened = admin.incidents.open(victim.view.id, reason="odd traffic", quarantine=True)
    assert (opened.response, admin.keys.get(victim.view.id).state) == ("quarantine", "suspended")
    [listed] = admin.incidents.list(key_id=victim.view.id)
    assert (listed.id, listed.state, listed.timeline, listed.blast_radius) == (
        opened.id, "open", None, None,
    )  # fmt: skip
    assert opened.id in {i.id for i in admin.incidents.page(state="open").items}
    assert admin.incidents.assign(opened.id, "secops").owner == "secops"
    contained = admin.incidents.contain(opened.id, note="it was a leak", revoke=True)
    assert (contained.state, contained.response) == ("contained", "revoke")
    assert contained.contained_at is not None
    assert admin.keys.get(victim.view.id).state == "revoked"
    resolved = admin.incidents.resolve(opened.id, note="rotated everywhere")
    assert resolved.state == "resolved" and resolved.resolved_at is not None
    noted = admin.incidents.note(opened.id, "post-mortem on Friday")  # after resolution too
    assert noted.timeline is not None
    last = noted.timeline[-1]
    assert (last.kind, last.note) == ("note", "post-mortem on Friday")
    with pytest.raises(Conflict) as closed:
        admin.incidents.contain(opened.id)
    assert (closed.value.status, closed.value.code) == (409, "incident_closed")
    assert [i.id for i in admin.incidents.list(key_id=victim.view.id, state="resolved")] == [
        opened.id
    ]
    with pytest.raises(NotFound):
        admin.incidents.get("inc_doesnotexist")


def test_a_tenants_scanner_reports_a_leaked_key_and_the_key_is_refused(
    admin: Keyguard, served: Served
) -> None:
    leaked = served.key("mail:send")
    token = leaked.key.reveal()
    malformed = "kg_test_" + "z" * 30  # fails its checksum: not a key
    found = FoundKey(token=SecretStr(token), path="config/settings.py", line=3)
    assert token not in repr(found)
    with served.client("leaks:report") as scanner:
        report = scanner.leaks.report([found, malformed], tool="ci-scanner")
    known, unknown = report.results
    assert (known.fingerprint, known.label, known.key_id, known.revoked) == (
        sha256(token), "true_positive", leaked.view.id, True,
    )  # fmt: skip
    assert (unknown.fingerprint, unknown.label, unknown.key_id, unknown.incident_id) == (
        sha256(malformed), "false_positive", None, None,
    )  # fmt: skip
    assert not unknown.revoked and known.incident_id is not None
    incident = admin.incidents.get(known.incident_id)
    assert (incident.key_id, incident.source) == (leaked.view.id, "report")
    with Keyguard(token, base_url=served.url) as refused, pytest.raises(AuthenticationFailed) as e:
        refused.mail.send(message())
    assert e.value.code == "revoked"


def test_the_public_revocation_answers_the_same_and_revokes_after_answering(
    admin: Keyguard, served: Served
) -> None:
    leaked = served.key("mail:send")
    known = admin.leaks.revoke_public(leaked.key.reveal(), url="https://paste.example/x1")
    unknown = admin.leaks.revoke_public(["kg_test_" + "q" * 30])
    assert known == unknown and known.status == "received"
    wait_for(
        lambda: served.runtime.keys.show(OPERATOR, leaked.view.id).state == "revoked",
        "the public revocation",
    )


def test_github_alerts_through_the_client_are_labelled_and_revoked(
    admin: Keyguard, served: Served
) -> None:
    leaked = served.key("mail:send")
    payload = json.dumps(
        [{"token": leaked.key.reveal(), "type": "keyguard_api_key", "url": "https://x.example"}]
    ).encode()
    signature = served.github.sign(payload)
    [label] = admin.leaks.github(payload, key_id=served.github.key_id, signature=signature)
    assert (label.token_hash, label.token_type, label.label) == (
        sha256(leaked.key.reveal()), "keyguard_api_key", "true_positive",
    )  # fmt: skip
    assert admin.keys.get(leaked.view.id).state == "revoked"
    with pytest.raises(AuthenticationFailed) as forged:
        admin.leaks.github(payload, key_id=served.github.key_id, signature=signature[:-8] + "A" * 8)
    assert forged.value.code == "invalid_signature"


@pytest.fixture
def tenant(served: Served, request: pytest.FixtureRequest) -> str:
    """A tenant of its own, named after the test, so that tenant-wide lists are exact."""
    name = "t-" + request.node.name.removeprefix("test_")[:40].replace("_", "-")
    with served.runtime.sessions.begin() as session:
        ensure_tenant(session, served.runtime.clock, name, OPERATOR.id)
    return name


def test_a_tenant_wide_revocation_is_a_dry_run_by_default(served: Served, tenant: str) -> None:
    operator = create_key(served.runtime, tenant_id=tenant, env="test", scopes=list(ALL_SCOPES))
    sender = create_key(served.runtime, tenant_id=tenant, env="test", scopes=["mail:send"])
    create_key(served.runtime, tenant_id=tenant, env="test", scopes=["contacts:read"])
    with Keyguard(operator.key.reveal(), base_url=served.url) as client:
        planned = client.keys.revoke_matching(scope="mail:send", reason="drill")
        assert (planned.dry_run, planned.count) == (True, 2)
        assert planned.selector["scope"] == "mail:send" and planned.selector["tenant"] == tenant
        assert [(k.id, k.action) for k in planned.keys] == [
            (operator.view.id, "revoke"), (sender.view.id, "revoke"),
        ]  # fmt: skip
        assert client.keys.get(sender.view.id).state == "active"  # nothing changed
        rotations = client.keys.rotate_matching(scope="contacts:read")
        assert [(k.action, k.successor_key) for k in rotations.keys] == [
            ("rotate_handed_out", None), ("rotate_handed_out", None),
        ]  # fmt: skip


def test_a_tenant_wide_rotation_shows_each_successor_once(served: Served, tenant: str) -> None:
    operator = create_key(served.runtime, tenant_id=tenant, env="test", scopes=list(ALL_SCOPES))
    reader = create_key(served.runtime, tenant_id=tenant, env="test", scopes=["contacts:read"])
    with Keyguard(operator.key.reveal(), base_url=served.url) as client:
        done = client.keys.rotate_matching(scope="contacts:read", grace="1h", dry_run=False)
        assert done.dry_run is False
        assert [k.id for k in done.keys] == [operator.view.id, reader.view.id]
        for planned in done.keys:
            assert planned.successor_key is not None and planned.successor_id is not None
            text = planned.successor_key.get_secret_value()
            assert text.startswith("kg_test_") and text not in repr(done)
            assert client.keys.get(planned.successor_id).parent_id == planned.id
        assert client.keys.get(reader.view.id).state == "rotating"


def test_the_async_client_opens_and_reads_an_incident(served: Served) -> None:
    responder = served.key()
    victim = served.key("mail:send")

    async def main() -> tuple[str, str, list[str]]:
        async with AsyncKeyguard(responder.key.reveal(), base_url=served.url) as client:
            opened = await client.incidents.open(victim.view.id, reason="async drill")
            listed = [i.id async for i in client.incidents.list(key_id=victim.view.id)]
            return opened.id, (await client.incidents.get(opened.id)).state, listed

    opened, state, listed = asyncio.run(main())
    assert (state, listed) == ("open", [opened])


def test_an_incident_report_as_a_model_html_or_markdown(served: Served, admin: Keyguard) -> None:
    victim = served.key("keys:read")
    opened = served.runtime.incidents.open(OPERATOR, OpenRequest(victim.view.id, "in a log"))
    incident = opened.incident.id
    report = admin.reports.incident(incident)
    assert isinstance(report, IncidentReport)
    assert report.incident["id"] == incident and report.incident["reason"] == "in a log"
    assert report.window.end_basis == "key.revoked"
    assert admin.reports.incident(incident, format="html").startswith("<!DOCTYPE html>")
    assert admin.reports.incident(incident, format="md").startswith(f"# Incident {incident}")

    async def through_async() -> str:
        async with AsyncKeyguard(served.key().key.reveal(), base_url=served.url) as client:
            return (await client.reports.incident(incident)).incident["key_id"]

    assert asyncio.run(through_async()) == victim.view.id
    with pytest.raises(NotFound):
        admin.reports.incident("inc_doesnotexist")


def test_the_access_review_and_applying_one_finding(admin: Keyguard, served: Served) -> None:
    spec = KeySpec(DEFAULT_TENANT, "test", ["mail:send"], expires_in=timedelta(days=5))
    expiring = served.runtime.keys.create(OPERATOR, spec)
    review = admin.review.get()
    [finding] = [
        f for f in review.findings if f.key_id == expiring.view.id and f.kind == "expiring_soon"
    ]
    assert finding.recommendation.action == "rotate" and review.tenants == [DEFAULT_TENANT]
    assert finding.id in admin.review.get("md")
    assert finding.id in admin.review.get("text")
    applied = admin.review.apply(finding.id, grace="2h")
    assert applied.key.state == "rotating" and applied.successor is not None
    assert applied.successor.parent_id == expiring.view.id
    assert applied.successor.key is not None and applied.successor.delivered_to is None
    assert admin.keys.verify(expiring.key.reveal()).outcome == "ok"  # still in its grace
    assert admin.keys.verify(applied.successor.key.get_secret_value()).outcome == "ok"
    with pytest.raises(NotFound):
        admin.review.apply(finding.id)
    writer = next(f for f in admin.review.get().findings if f.recommendation.action == "none")
    with pytest.raises(InvalidRequest) as refused:
        admin.review.apply(writer.id)
    assert refused.value.code == "nothing_to_apply"


# -- alerts: a trace stored on the served database, raised by the served detector -------------


@dataclass
class Watched:
    """A live key of a tenant of its own (so its baselines are its own) whose trace raised
    alerts, and a client of that tenant's that may read and answer them."""

    key_id: str
    client: Keyguard
    answerer: CreatedKey


@pytest.fixture
def watched(served: Served, tenant: str) -> Iterator[Watched]:
    key_id = create_key(served.runtime, tenant_id=tenant, scopes=["mail:send"]).view.id
    # Written as the usage writer writes it; the detector in the served process reads it.
    store(served.runtime, trace(key_id, tenant))
    answerer = create_key(served.runtime, tenant_id=tenant, scopes=["alerts:read", "alerts:write"])
    with Keyguard(answerer.key.reveal(), base_url=served.url) as client:
        wait_for(lambda: len(list(client.alerts.list(key_id=key_id))) >= 2, "two alerts")
        yield Watched(key_id, client, answerer)


def test_the_detectors_alerts_are_listed_newest_first_with_what_they_saw(
    watched: Watched, tenant: str
) -> None:
    country, network = watched.client.alerts.list(key_id=watched.key_id)
    assert [(a.rule, a.severity, a.state) for a in (country, network)] == [
        ("country_change", "high", "open"), ("new_network", "high", "open"),
    ]  # fmt: skip
    for alert in (country, network):
        assert (alert.key_id, alert.tenant, alert.env) == (watched.key_id, tenant, "live")
        assert (alert.action, alert.action_state, alert.updated_by) == ("notify", "done", None)
        assert alert.first_event_ts <= alert.ts
    assert network.id < country.id and network.ts < country.ts
    assert network.evidence and country.evidence


def test_alerts_are_filtered_and_paged_by_cursor(watched: Watched) -> None:
    alerts = watched.client.alerts
    country, network = alerts.list(key_id=watched.key_id)
    first = alerts.page(key_id=watched.key_id, limit=1)
    assert first.items == [country] and first.next_cursor is not None
    rest = alerts.page(key_id=watched.key_id, limit=1, cursor=first.next_cursor)
    assert rest.items == [network] and rest.next_cursor is None
    assert list(alerts.list(key_id=watched.key_id, limit=1)) == [country, network]
    assert [a.id for a in alerts.list(rule="new_network")] == [network.id]
    assert [a.id for a in alerts.list(severity="high")] == [country.id, network.id]
    assert list(alerts.list(severity="critical")) == []
    assert list(alerts.list(key_id=watched.key_id, state="resolved")) == []
    assert alerts.get(country.id) == country


def test_a_person_acks_resolves_and_marks_false_positive_through_the_client(
    watched: Watched,
) -> None:
    alerts = watched.client.alerts
    country, network = alerts.list(key_id=watched.key_id)
    acked = alerts.ack(network.id)
    who = f"key:{watched.answerer.view.id}"
    assert (acked.id, acked.state, acked.updated_by) == (network.id, "acknowledged", who)
    assert alerts.resolve(network.id).state == "resolved"
    with pytest.raises(Conflict) as again:
        alerts.ack(network.id)
    assert (again.value.status, again.value.code) == (409, "illegal_transition")
    assert alerts.false_positive(country.id).state == "false_positive"
    assert alerts.get(country.id).state == "false_positive"
    assert [a.id for a in alerts.list(state="resolved")] == [network.id]
    with pytest.raises(Conflict) as nothing:
        alerts.undo(network.id)  # it only notified: there is no throttle or quarantine to lift
    assert nothing.value.code == "no_action"


def test_an_unknown_or_another_partitions_alert_is_not_found(
    admin: Keyguard, watched: Watched
) -> None:
    (mine, *_) = watched.client.alerts.list(key_id=watched.key_id)
    with pytest.raises(NotFound):
        admin.alerts.get(2**62)
    with pytest.raises(NotFound):
        admin.alerts.resolve(2**62)
    with pytest.raises(NotFound):
        admin.alerts.get(mine.id)  # the default tenant's test environment: not its alert
    assert [a.id for a in admin.alerts.list(key_id=watched.key_id)] == []


def test_the_async_client_reads_and_answers_alerts(watched: Watched) -> None:
    async def main() -> tuple[list[str], str]:
        async with AsyncKeyguard(
            watched.answerer.key.reveal(), base_url=watched.client.base_url
        ) as client:
            listed = [a async for a in client.alerts.list(key_id=watched.key_id, limit=1)]
            acked = await client.alerts.ack(listed[0].id)
            return [a.rule for a in listed], acked.state

    assert asyncio.run(main()) == (["country_change", "new_network"], "acknowledged")
