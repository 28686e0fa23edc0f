"""LeakIntake: the token is checked by us, real keys revoked together, nothing else touched."""

from __future__ import annotations

from sqlalchemy import select

from keyguard.incidents import Leak, token_hash
from keyguard.incidents.models import Incident, IncidentStep
from keyguard.keys import generate_key
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from tests.conftest import create_key

URL = "https://github.com/acme/app/blob/main/settings.py"


def _broken_checksum(key: str) -> str:
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def test_a_real_key_is_revoked_with_an_incident_naming_the_url(runtime: Runtime) -> None:
    created = create_key(runtime)
    (verdict,) = runtime.leaks.intake(
        [Leak(created.key.reveal(), url=URL)], source="github", reporter="github"
    )
    assert (verdict.label, verdict.revoked) == ("true_positive", True)
    assert verdict.token_hash == token_hash(created.key.reveal())
    assert runtime.verifier.verify(created.key.reveal()).outcome == "revoked"
    (incident,) = runtime.incidents.list(OPERATOR)
    assert (incident.key_id, incident.source, incident.source_url) == (
        created.view.id,
        "github",
        URL,
    )
    assert URL in incident.reason


def test_strings_that_are_not_our_keys_are_false_positives_and_change_nothing(
    runtime: Runtime,
) -> None:
    created = create_key(runtime)
    leaks = [
        Leak(_broken_checksum(created.key.reveal())),  # refused before any lookup
        Leak(generate_key("live").reveal()),  # well-formed, unknown digest
        Leak("SG.not-ours"),
    ]
    verdicts = runtime.leaks.intake(leaks, source="github", reporter="github")
    assert [v.label for v in verdicts] == ["false_positive"] * 3
    assert runtime.verifier.verify(created.key.reveal()).outcome == "ok"
    assert runtime.incidents.list(OPERATOR) == []


def test_a_batch_revokes_every_real_key_in_one_go(runtime: Runtime) -> None:
    created = [create_key(runtime) for _ in range(5)]
    leaks = [Leak(c.key.reveal(), url=f"{URL}#L{n}") for n, c in enumerate(created)]
    leaks.append(leaks[0])  # the same key twice: one incident
    verdicts = runtime.leaks.intake(leaks, source="github", reporter="github")
    assert [v.label for v in verdicts] == ["true_positive"] * 6
    assert len(runtime.incidents.list(OPERATOR)) == 5
    assert {runtime.verifier.verify(c.key.reveal()).outcome for c in created} == {"revoked"}


def test_an_owner_limits_the_report_to_its_tenant_and_environment(runtime: Runtime) -> None:
    mine = create_key(runtime)
    theirs = create_key(runtime, tenant_id="other")
    my_test = create_key(runtime, env="test")
    verdicts = runtime.leaks.intake(
        [Leak(k.key.reveal()) for k in (mine, theirs, my_test)],
        source="report",
        reporter="key:scanner",
        owner=("default", "live"),
    )
    assert [v.label for v in verdicts] == ["true_positive", "false_positive", "false_positive"]
    assert verdicts[0].key is not None and verdicts[0].key.id == mine.view.id
    assert runtime.verifier.verify(theirs.key.reveal()).outcome == "ok"
    assert runtime.verifier.verify(my_test.key.reveal()).outcome == "ok"


def test_a_key_revoked_already_is_a_true_positive_without_a_new_incident(
    runtime: Runtime,
) -> None:
    created = create_key(runtime)
    runtime.keys.revoke(OPERATOR, created.view.id)
    (verdict,) = runtime.leaks.intake(
        [Leak(created.key.reveal())], source="public", reporter="203.0.113.7"
    )
    assert (verdict.label, verdict.revoked) == ("true_positive", False)
    assert runtime.incidents.list(OPERATOR) == []


def test_the_token_is_never_stored(runtime: Runtime) -> None:
    created = create_key(runtime)
    raw = created.key.reveal()
    runtime.leaks.intake([Leak(raw, url=f"{URL}?k={raw}")], source="github", reporter="github")
    with runtime.sessions() as session:
        texts = [
            *session.scalars(select(Incident.reason)),
            *session.scalars(select(Incident.source_url)),
            *[str(d) for d in session.scalars(select(IncidentStep.data))],
        ]
    assert texts and not any(raw in (t or "") for t in texts)
