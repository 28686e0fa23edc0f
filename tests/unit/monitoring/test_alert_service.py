"""Stored alerts for people: filters, pages, partitions, states, false positives learned."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keyguard.clock import ManualClock
from keyguard.errors import IllegalTransition, NotFound
from keyguard.lifecycle import OPERATOR, Actor
from keyguard.monitoring import AlertFilter, Detector
from keyguard.runtime import Runtime
from tests.unit.monitoring.factory import event
from tests.unit.monitoring.online import shifted, store, trace

TENANT_KEY = Actor(id="key:key_x", tenant_id="tenant_1", scopes=frozenset(), env="live")


@pytest.fixture
def raised(runtime: Runtime) -> list[dict[str, object]]:
    store(runtime, trace())
    runtime.detector.drain()
    return runtime.alerts.list(OPERATOR, AlertFilter())


def test_alerts_list_newest_first_and_filter(runtime: Runtime, raised: list[dict]) -> None:
    assert [a["rule"] for a in raised] == ["key_guessing", "country_change", "new_network"]
    only = runtime.alerts.list(OPERATOR, AlertFilter(rule="new_network", severity="high"))
    assert [a["rule"] for a in only] == ["new_network"]
    assert runtime.alerts.list(OPERATOR, AlertFilter(state="resolved")) == []
    assert runtime.alerts.list(OPERATOR, AlertFilter(key_id="key_other")) == []


def test_alerts_page_by_id(runtime: Runtime, raised: list[dict]) -> None:
    first = runtime.alerts.list(OPERATOR, AlertFilter(), limit=2)
    rest = runtime.alerts.list(OPERATOR, AlertFilter(), before=int(str(first[-1]["id"])))
    assert first + rest == raised


def test_a_key_sees_only_its_partitions_alerts(runtime: Runtime, raised: list[dict]) -> None:
    mine = runtime.alerts.list(TENANT_KEY, AlertFilter())
    assert {a["key_id"] for a in mine} == {"key_a"}  # not the key-less guessing alert
    other = Actor(id="key:key_y", tenant_id="tenant_2", scopes=frozenset(), env="live")
    assert runtime.alerts.list(other, AlertFilter()) == []
    with pytest.raises(NotFound):
        runtime.alerts.move(other, int(str(mine[0]["id"])), "acknowledged")
    test_env = Actor(id="key:key_z", tenant_id="tenant_1", scopes=frozenset(), env="test")
    assert runtime.alerts.list(test_env, AlertFilter()) == []


def test_an_alert_moves_from_open_to_acknowledged_to_resolved(
    runtime: Runtime, raised: list[dict]
) -> None:
    alert_id = int(str(raised[-1]["id"]))
    assert runtime.alerts.move(OPERATOR, alert_id, "acknowledged")["state"] == "acknowledged"
    done = runtime.alerts.move(OPERATOR, alert_id, "resolved")
    assert (done["state"], done["updated_by"]) == ("resolved", OPERATOR.id)
    with pytest.raises(IllegalTransition):
        runtime.alerts.move(OPERATOR, alert_id, "false_positive")


def _two_keys(new_provider_hours: float) -> tuple[list, list]:
    """key_b and key_a with a week of history; key_a then moves to a new provider; later
    key_b shows up on that provider too."""
    history = [event(h * 0.5, key_id=k) for h in range(7 * 48) for k in ("key_b", "key_a")]
    move = event(new_provider_hours, ip="192.0.2.7", asn=64777)
    after = event(new_provider_hours + 3, key_id="key_b", ip="192.0.2.9", asn=64777)
    return [shifted(e) for e in (*history, move)], [shifted(after)]


@pytest.mark.parametrize("vouched", [False, True])
def test_a_false_positive_teaches_the_tenant_its_network(runtime: Runtime, vouched: bool) -> None:
    before, after = _two_keys(7 * 24.0)
    store(runtime, before)
    runtime.detector.drain()
    (alert,) = runtime.alerts.list(OPERATOR, AlertFilter(key_id="key_a"))
    if vouched:
        runtime.alerts.move(OPERATOR, int(str(alert["id"])), "false_positive")
    store(runtime, after)
    runtime.detector.drain()
    for_b = runtime.alerts.list(OPERATOR, AlertFilter(key_id="key_b"))
    assert [a["rule"] for a in for_b] == ([] if vouched else ["new_network"])


def test_a_false_positive_is_learned_again_after_a_restart(
    runtime: Runtime, clock: ManualClock
) -> None:
    before, after = _two_keys(7 * 24.0)
    store(runtime, before)
    runtime.detector.drain()
    (alert,) = runtime.alerts.list(OPERATOR, AlertFilter(key_id="key_a"))
    runtime.alerts.move(OPERATOR, int(str(alert["id"])), "false_positive")
    runtime.detector.poll()  # learned
    clock.advance(timedelta(seconds=16))  # the process dies; another takes over
    restarted = Detector(runtime.sessions, clock, runtime.detector.responder)
    store(runtime, after)
    restarted.drain()
    assert runtime.alerts.list(OPERATOR, AlertFilter(key_id="key_b")) == []
