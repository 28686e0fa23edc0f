"""keyguard_client against a real `keyguard serve` process: every resource, end to end."""

from __future__ import annotations

import asyncio
from pathlib import Path

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

from tests.client.conftest import Served, message, private_file


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
