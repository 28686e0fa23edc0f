"""The facts of an investigation report, from hand-built usage, mail and key rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from keyguard.clock import ManualClock
from keyguard.errors import NotFound
from keyguard.incidents import OpenRequest, Report, render
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.views import OPERATOR, Actor, CreatedKey
from keyguard.mail import Message
from keyguard.rotation import KeyDelivery
from keyguard.runtime import Runtime
from tests.conftest import START, create_key
from tests.unit.usage.factories import event, write

OFFICE = "10.1.2.5"
ATTACKER = "203.0.113.9"


def _as_key(created: CreatedKey) -> Actor:
    view = created.view
    return Actor(
        id=f"key:{view.id}",
        tenant_id=view.tenant_id,
        scopes=frozenset(view.scopes),
        env=view.env,
        restrictions=view.restrictions,
        expires_at=view.expires_at,
    )


def _leak(runtime: Runtime, clock: ManualClock, **key: Any) -> tuple[CreatedKey, str]:
    """A key used from the office for five days, then from an attacker's network for a
    day, then contained; the report is made a day after."""
    created = create_key(runtime, scopes=key.pop("scopes", ["mail:send", "contacts:read"]), **key)
    usual = [
        event(
            START + timedelta(hours=h),
            created,
            ip=OFFICE,
            user_agent="mailer/2.1",
            path="/v1/mail/send",
            method="POST",
            scope="mail:send",
        )
        for h in range(1, 120, 6)
    ]
    attack = [
        event(
            START + timedelta(days=5, hours=h),
            created,
            ip=ATTACKER,
            user_agent="curl/8.0",
            path="/v1/mail/send",
            method="POST",
            scope="mail:send",
            geo="NL",
            asn=64500,
        )
        for h in range(4)
    ]
    write(runtime, usual + attack)
    clock.advance(timedelta(days=6))
    opened = runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "seen in a gist"))
    refused = event(
        clock() + timedelta(minutes=5),
        created,
        ip=ATTACKER,
        outcome="revoked",
        status=401,
        user_agent="curl/8.0",
        path="/v1/mail/send",
        method="POST",
    )
    write(runtime, [refused])
    clock.advance(timedelta(days=1))
    return created, opened.incident.id


def _report(runtime: Runtime, incident_id: str, **options: Any) -> dict[str, Any]:
    report: Report = runtime.incident_reports.build(OPERATOR, incident_id, **options)
    return report.to_json()


def test_the_window_starts_at_the_first_use_from_a_network_outside_the_baseline(
    runtime: Runtime, clock: ManualClock
) -> None:
    _, incident_id = _leak(runtime, clock)
    window = _report(runtime, incident_id)["window"]
    assert window["start_basis"] == "anomaly"
    assert window["start"] == _z(START + timedelta(days=5))
    assert window["trigger_network"] == "203.0.113.0/24"
    assert (window["end"], window["end_basis"]) == (_z(START + timedelta(days=6)), "key.revoked")


def test_a_key_used_from_one_network_only_is_exposed_from_its_creation(
    runtime: Runtime, clock: ManualClock
) -> None:
    created = create_key(runtime)
    write(runtime, [event(START + timedelta(hours=h), created, ip=OFFICE) for h in (1, 30)])
    clock.advance(timedelta(days=2))
    opened = runtime.incidents.open(
        OPERATOR, OpenRequest(created.view.id, "leaked", quarantine=True)
    )
    window = _report(runtime, opened.incident.id)["window"]
    assert (window["start"], window["start_basis"]) == (_z(START), "created")
    assert window["end_basis"] == "key.suspended"


def test_uses_separate_the_keys_usual_sources_from_new_ones_with_counts(
    runtime: Runtime, clock: ManualClock
) -> None:
    _, incident_id = _leak(runtime, clock)
    uses = _report(runtime, incident_id)["uses"]
    assert uses["totals"] == {"requests": 5, "denied": 1, "accepted": 4}
    (network,) = uses["networks"]
    assert network == {
        "value": "203.0.113.0/24",
        "requests": 5,
        "denied": 1,
        "usual": False,
        "first_seen": _z(START + timedelta(days=5)),
        "last_seen": _z(START + timedelta(days=6, minutes=5)),
    }
    assert [(s["value"], s["requests"]) for s in uses["asns"]] == [(64500, 4)]
    assert [(s["value"], s["requests"]) for s in uses["countries"]] == [("NL", 4)]
    assert [(s["value"], s["usual"]) for s in uses["user_agents"]] == [("curl/8.0", False)]
    assert [(s["value"], s["usual"]) for s in uses["endpoints"]] == [("POST /v1/mail/send", True)]


def test_the_hourly_chart_marks_the_window(runtime: Runtime, clock: ManualClock) -> None:
    _, incident_id = _leak(runtime, clock)
    hours = _report(runtime, incident_id)["uses"]["hours"]
    inside = [h for h in hours if h["in_window"]]
    assert inside[0]["start"] == _z(START + timedelta(days=5))
    assert sum(h["accepted"] for h in inside) == 4
    assert sum(h["denied"] for h in hours) == 1
    assert not hours[0]["in_window"]


def _message(
    created: CreatedKey, ts: datetime, sender: str, to: list[str], subject: str
) -> Message:
    view = created.view
    return Message(
        id=f"msg_{ts.timestamp():.0f}{len(to)}",
        tenant_id=view.tenant_id,
        env=view.env,
        key_id=view.id,
        sender=sender,
        recipients=to,
        rcpt=to,
        subject=subject,
        sandboxed=False,
        size=10,
        mime=b"x",
        state="sent",
        attempts=1,
        next_attempt_at=ts,
        created_at=ts,
        updated_at=ts,
    )


def test_messages_accepted_in_the_window_are_counted_subjects_only_when_asked(
    runtime: Runtime, clock: ManualClock
) -> None:
    created, incident_id = _leak(runtime, clock)
    attack = START + timedelta(days=5, hours=1)
    with runtime.sessions.begin() as session:
        session.add(
            _message(
                created, START + timedelta(hours=3), "ops@a.example", ["x@before.example"], "weekly"
            )
        )
        session.add(
            _message(
                created,
                attack,
                "ceo@a.example",
                ["v1@victim.example", "v2@Victim.example"],
                "Invoice",
            )
        )
        session.add(
            _message(
                created,
                attack + timedelta(minutes=1),
                "ceo@a.example",
                ["v3@other.example"],
                "Invoice",
            )
        )
    mail = _report(runtime, incident_id)["impact"]["mail"]
    assert (mail["messages"], mail["recipients"]) == (2, 3)
    assert mail["senders"] == [{"value": "ceo@a.example", "count": 2}]
    assert mail["recipient_domains"] == [
        {"value": "other.example", "count": 1},
        {"value": "victim.example", "count": 1},
    ]
    assert "subjects" not in mail
    with_subjects = _report(runtime, incident_id, include_subjects=True)["impact"]["mail"]
    assert with_subjects["subjects"] == [{"value": "Invoice", "count": 2}]


def test_keys_the_compromised_key_created_are_listed(runtime: Runtime, clock: ManualClock) -> None:
    maker = create_key(runtime, scopes=["keys:*", "mail:send"])
    made = runtime.keys.create(
        _as_key(maker), KeySpec(tenant_id=maker.view.tenant_id, env="live", scopes=["mail:send"])
    )
    opened = runtime.incidents.open(OPERATOR, OpenRequest(maker.view.id, "leaked"))
    impact = _report(runtime, opened.incident.id)["impact"]
    assert [k["id"] for k in impact["keys_created"]] == [made.view.id]
    assert impact["could"] == ["keys:*", "mail:send"]


def test_data_read_counts_accepted_reads_inside_the_window(
    runtime: Runtime, clock: ManualClock
) -> None:
    created = create_key(runtime, scopes=["contacts:read", "audit:read"])
    write(
        runtime,
        [
            event(
                START + timedelta(hours=1),
                created,
                ip=OFFICE,
                path="/v1/contacts",
                scope="contacts:read",
            )
        ],
    )
    thief = [
        event(
            START + timedelta(days=3, minutes=m),
            created,
            ip=ATTACKER,
            path="/v1/contacts",
            scope="contacts:read",
        )
        for m in range(3)
    ]
    write(runtime, thief)
    clock.advance(timedelta(days=4))
    opened = runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "leaked"))
    report = _report(runtime, opened.incident.id)
    assert report["impact"]["data_read"] == {"contacts:read": 3}
    assert report["impact"]["scopes_used"] == {"contacts:read": 4}


def test_recommendations_follow_from_the_facts(runtime: Runtime, clock: ManualClock) -> None:
    _, incident_id = _leak(runtime, clock)
    recommendations = _report(runtime, incident_id)["recommendations"]
    assert recommendations[0] == (
        "add a CIDR allowlist: 100% of legitimate use came from 1 network (10.1.2.0/24)"
    )
    assert "narrow scopes: contacts:read was never used" in recommendations
    assert any(r.startswith("enable vault delivery") for r in recommendations)


def test_no_allowlist_is_proposed_for_a_key_that_has_one(
    runtime: Runtime, clock: ManualClock
) -> None:
    from keyguard.policy.restrictions import build_restrictions

    _, incident_id = _leak(
        runtime, clock, restrictions=build_restrictions(allowed_cidrs=["0.0.0.0/0"])
    )
    recommendations = _report(runtime, incident_id)["recommendations"]
    assert not any("allowlist" in r for r in recommendations)


def test_the_keys_life_lists_its_audit_events(runtime: Runtime, clock: ManualClock) -> None:
    _, incident_id = _leak(runtime, clock)
    report = _report(runtime, incident_id)
    assert [e["action"] for e in report["life"]] == ["key.created", "key.revoked"]
    assert report["key"]["created_by"] == OPERATOR.id
    assert report["incident"]["reason"] == "seen in a gist"


def test_another_tenants_incident_does_not_exist_for_a_key(
    runtime: Runtime, clock: ManualClock
) -> None:
    _, incident_id = _leak(runtime, clock)
    stranger = create_key(runtime, tenant_id="other", scopes=["keys:read"])
    with pytest.raises(NotFound):
        runtime.incident_reports.build(_as_key(stranger), incident_id)


def _z(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def test_a_successor_is_known_good_from_its_rotation_and_lists_its_delivery(
    runtime: Runtime, clock: ManualClock
) -> None:
    old = create_key(runtime)
    clock.advance(timedelta(days=1))
    new = runtime.keys.rotate(OPERATOR, old.view.id)
    with runtime.sessions.begin() as session:
        session.add(
            KeyDelivery(
                key_id=new.view.id,
                tenant_id=new.view.tenant_id,
                target="file:/run/secrets/mailer",
                rotate_every_seconds=None,
                grace_seconds=3600,
                created_at=clock(),
            )
        )
    clock.advance(timedelta(days=1))
    opened = runtime.incidents.open(OPERATOR, OpenRequest(new.view.id, "leaked"))
    report = _report(runtime, opened.incident.id)
    window = report["window"]
    assert (window["start"], window["start_basis"]) == (_z(START + timedelta(days=1)), "rotation")
    # A plain rotation writes no key.created for the successor: the parent's key.rotated
    # (naming it) stands for its creation.
    assert [(e["action"], e["key_id"]) for e in report["life"]] == [
        ("key.rotated", old.view.id),
        ("key.revoked", new.view.id),
    ]
    assert report["life"][0]["data"]["successor"] == new.view.id
    assert [d["target"] for d in report["deliveries"]] == ["file:/run/secrets/mailer"]
    assert not any(r.startswith("enable vault delivery") for r in report["recommendations"])
    assert any(r.startswith("rotate on a schedule") for r in report["recommendations"])


def _detected_leak(runtime: Runtime, clock: ManualClock) -> tuple[CreatedKey, str]:
    """A key with a stable history from the office, then the attacker's network: the online
    detector (the worker's, run here by hand) raises its alerts before the incident opens."""
    runtime.detector.catch_up()  # from an empty log: it follows every event written next
    created = create_key(runtime, scopes=["mail:send"])
    office = [
        event(START + timedelta(hours=h), created, ip=OFFICE, path="/v1/mail/send")
        for h in range(1, 120, 3)
    ]
    attack = [
        event(START + timedelta(days=5, hours=h), created, ip=ATTACKER, geo="NL", asn=64500)
        for h in range(4)
    ]
    write(runtime, office + attack)
    clock.advance(timedelta(days=6))
    runtime.detector.catch_up()
    opened = runtime.incidents.open(OPERATOR, OpenRequest(created.view.id, "seen in a gist"))
    clock.advance(timedelta(hours=1))
    return created, opened.incident.id


def test_the_detectors_first_alert_starts_the_window_and_the_report_lists_it(
    runtime: Runtime, clock: ManualClock
) -> None:
    _, incident_id = _detected_leak(runtime, clock)
    report = _report(runtime, incident_id)
    window, alerts = report["window"], report["alerts"]
    assert alerts, "the detector raised nothing on the attacker's network"
    first = min(alerts, key=lambda a: a["first_event_ts"])
    assert (window["start_basis"], window["trigger_alert"]) == ("alert", first["id"])
    assert window["start"] == first["first_event_ts"] == _z(START + timedelta(days=5))
    assert all(a["in_window"] for a in alerts)
    assert {"rule", "severity", "action", "evidence", "state"} <= set(first)


def test_an_alert_marked_false_positive_does_not_start_the_window(
    runtime: Runtime, clock: ManualClock
) -> None:
    _, incident_id = _detected_leak(runtime, clock)
    for alert in _report(runtime, incident_id)["alerts"]:
        runtime.alerts.move(OPERATOR, alert["id"], "false_positive")
    window = _report(runtime, incident_id)["window"]
    assert (window["start_basis"], window["trigger_alert"]) == ("anomaly", None)
    assert window["trigger_network"] == "203.0.113.0/24"


def test_the_alerts_are_shown_in_markdown_and_html(runtime: Runtime, clock: ManualClock) -> None:
    _, incident_id = _detected_leak(runtime, clock)
    report: Report = runtime.incident_reports.build(OPERATOR, incident_id)
    rule = report.alerts[0]["rule"]
    for text in (render(report, "md"), render(report, "html")):
        assert "Alerts raised" in text
        assert rule in text
        assert "the first event of alert" in text
