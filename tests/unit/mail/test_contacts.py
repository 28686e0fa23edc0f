"""Contacts, lists, CSV import and campaigns: per environment, all-or-nothing sends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from keyguard.errors import IllegalTransition, InvalidInput, NotFound, PermissionDenied
from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.mail.models import Campaign, Message
from keyguard.mail.partition import Partition
from keyguard.mail.schemas import (
    CampaignIn,
    ContactIn,
    ContactPatch,
    ListIn,
    MembersIn,
    SuppressionIn,
    TemplateIn,
)
from keyguard.mail.service import MailService
from keyguard.policy.restrictions import build_restrictions
from keyguard.runtime import Runtime
from keyguard.usage.models import UsageEvent
from tests.unit.mail.conftest import SENDER, MakeCaller

LIVE = Partition(DEFAULT_TENANT, "live")
TEST = Partition(DEFAULT_TENANT, "test")

CSV = (
    "email,first_name,last_name,plan\n"
    "ada@example.com,Ada,Lovelace,pro\n"
    "not-an-email,Bad,Row,free\n"
    '"grace@example.com","Grace","Hopper","team\nplus"\n'
    "ada@example.com,Ada,Again,pro\n"
    "too,many,fields,here,really\n"
    "\n"
    "linus@example.com,,,\n"
)


def test_csv_import_keeps_good_rows_and_reports_bad_ones_by_line(mail: MailService) -> None:
    summary = mail.contacts.import_csv(LIVE, CSV.encode())
    assert (summary["rows"], summary["created"], summary["updated"]) == (6, 3, 0)
    assert [(e["line"], e["code"]) for e in summary["errors"]] == [
        (3, "invalid_address"),
        (6, "duplicate_email"),
        (7, "wrong_field_count"),
    ]
    grace = mail.contacts.page(LIVE, limit=None, after=None, email="grace@example.com")
    assert grace["data"][0]["attributes"] == {"plan": "team\nplus"}


def test_csv_import_updates_existing_contacts_and_fills_a_list(mail: MailService) -> None:
    mail.contacts.create(LIVE, ContactIn(email="ada@example.com", attributes={"plan": "free"}))
    target = mail.lists.create(LIVE, ListIn(name="newsletter"))
    summary = mail.contacts.import_csv(
        LIVE, b"email,plan\nADA@example.com,pro\nnew@example.com,free\n", target["id"]
    )
    assert (summary["created"], summary["updated"], summary["failed"]) == (1, 1, 0)
    [ada] = mail.contacts.page(LIVE, limit=None, after=None, email="ada@example.com")["data"]
    assert ada["attributes"] == {"plan": "pro"}
    assert mail.lists.get(LIVE, target["id"])["members"] == 2


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"name,plan\nx,y\n", "no 'email' column"),
        (b"", "no header row"),
        (b"email,email\n", "repeats a column"),
        (b"email\n\xff\xfe\n", "not UTF-8"),
    ],
)
def test_a_file_that_cannot_be_imported_at_all_is_refused(
    mail: MailService, data: bytes, fragment: str
) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        mail.contacts.import_csv(LIVE, data)


def test_an_unterminated_quote_stops_the_import_at_its_line(mail: MailService) -> None:
    summary = mail.contacts.import_csv(LIVE, b'email\na@example.com\n"b@example.com\n')
    assert summary["created"] == 1
    assert [(e["line"], e["code"]) for e in summary["errors"]] == [(3, "malformed_csv")]


def test_contacts_are_partitioned_by_environment(mail: MailService) -> None:
    contact = mail.contacts.create(LIVE, ContactIn(email="a@example.com"))
    with pytest.raises(NotFound):
        mail.contacts.get(TEST, contact["id"])
    mail.contacts.create(TEST, ContactIn(email="a@example.com"))  # no clash across partitions
    with pytest.raises(InvalidInput) as duplicate:
        mail.contacts.create(LIVE, ContactIn(email="A@example.com"))
    assert duplicate.value.code == "already_exists"


def test_contacts_can_be_updated_and_deleted(mail: MailService) -> None:
    contact = mail.contacts.create(LIVE, ContactIn(email="a@example.com", first_name="A"))
    updated = mail.contacts.update(LIVE, contact["id"], ContactPatch(first_name="Ada"))
    assert (updated["first_name"], updated["email"]) == ("Ada", "a@example.com")
    mail.contacts.delete(LIVE, contact["id"])
    with pytest.raises(NotFound):
        mail.contacts.get(LIVE, contact["id"])


def test_pages_follow_the_cursor(mail: MailService) -> None:
    for n in range(5):
        mail.contacts.create(LIVE, ContactIn(email=f"u{n}@example.com"))
    first = mail.contacts.page(LIVE, limit=3, after=None)
    second = mail.contacts.page(LIVE, limit=3, after=first["next"])
    emails = [c["email"] for c in first["data"] + second["data"]]
    assert sorted(emails) == [f"u{n}@example.com" for n in range(5)]
    assert second["next"] is None


# -- campaigns -------------------------------------------------------------------------------


def campaign(mail: MailService, *emails: str, subject: str = "Hi {{ first_name }}") -> str:
    target = mail.lists.create(LIVE, ListIn(name="customers"))
    for email in emails:
        mail.contacts.create(LIVE, ContactIn(email=email, first_name=email.split("@")[0]))
    mail.lists.add_members(LIVE, target["id"], MembersIn(emails=list(emails)))
    mail.templates.create(LIVE, TemplateIn(name="news", subject=subject, text="{{ email }}"))
    created = mail.campaigns.create(
        LIVE,
        CampaignIn.model_validate(
            {"name": "spring", "template": "news", "list_id": target["id"], "from": SENDER}
        ),
    )
    return str(created["id"])


def subjects(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        return sorted(session.scalars(select(Message.subject)))


def test_a_campaign_sends_the_template_to_every_member_personalised(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    campaign_id = campaign(mail, "ada@example.com", "bob@example.com", "eve@example.com")
    mail.suppressions.add(LIVE, SuppressionIn(address="eve@example.com"))
    sent = mail.campaigns.send(make_caller(scopes=["campaigns:send"]), campaign_id)
    assert sent["state"] == "sent"
    assert sent["summary"] == {"members": 3, "suppressed": 1, "queued": 2, "sandboxed": 0}
    assert subjects(runtime) == ["Hi ada", "Hi bob"]


def test_a_sent_campaign_wakes_the_delivery_worker_and_a_refused_one_does_not(
    mail: MailService, make_caller: MakeCaller
) -> None:
    woken: list[str] = []
    mail.sending.add_listener(lambda: woken.append("wake"))
    campaign_id = campaign(mail, "ada@example.com")
    caller = make_caller(scopes=["campaigns:send"])
    mail.campaigns.send(caller, campaign_id)
    with pytest.raises(IllegalTransition):
        mail.campaigns.send(caller, campaign_id)
    assert woken == ["wake"]


def test_a_campaign_is_sent_once(mail: MailService, make_caller: MakeCaller) -> None:
    campaign_id = campaign(mail, "ada@example.com")
    caller = make_caller(scopes=["campaigns:send"])
    mail.campaigns.send(caller, campaign_id)
    with pytest.raises(IllegalTransition):
        mail.campaigns.send(caller, campaign_id)


def test_a_campaign_with_one_member_outside_the_allowlist_sends_nothing(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    campaign_id = campaign(mail, "ada@example.com", "bob@elsewhere.example")
    caller = make_caller(
        scopes=["campaigns:send"], restrictions=build_restrictions(recipients=["@example.com"])
    )
    with pytest.raises(PermissionDenied) as denied:
        mail.campaigns.send(caller, campaign_id)
    assert denied.value.code == "denied_recipient"
    assert "bob@elsewhere.example" in denied.value.message
    assert subjects(runtime) == []
    with runtime.sessions() as session:
        assert session.scalars(select(Campaign.state)).one() == "draft"
        outcomes = session.scalars(select(UsageEvent.outcome)).all()
    assert outcomes == ["denied_recipient"]


def test_a_campaign_over_the_quota_sends_nothing(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    campaign_id = campaign(mail, "ada@example.com", "bob@example.com")
    caller = make_caller(scopes=["campaigns:send"], restrictions=build_restrictions(daily_quota=1))
    with pytest.raises(Exception, match="quota"):
        mail.campaigns.send(caller, campaign_id)
    assert subjects(runtime) == []


def test_a_campaign_with_a_variable_a_member_lacks_sends_nothing(
    runtime: Runtime, mail: MailService, make_caller: MakeCaller
) -> None:
    campaign_id = campaign(mail, "ada@example.com", subject="{{ company }}")
    with pytest.raises(InvalidInput) as refused:
        mail.campaigns.send(make_caller(scopes=["campaigns:send"]), campaign_id)
    assert refused.value.code == "missing_variable"
    assert subjects(runtime) == []


def test_a_template_in_use_cannot_be_deleted(mail: MailService) -> None:
    campaign(mail, "ada@example.com")
    with pytest.raises(InvalidInput) as refused:
        mail.templates.delete(LIVE, "news")
    assert refused.value.code == "template_in_use"
