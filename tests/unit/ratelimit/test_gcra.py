"""The GCRA arithmetic: a burst of `limit`, then one request per `60 / limit` seconds."""

from __future__ import annotations

from keyguard.ratelimit.decisions import LimitDecision, gcra, quota_decision


def _run(limit: int, times: list[float]) -> list[LimitDecision]:
    tat = None
    decisions = []
    for now in times:
        decision, new_tat = gcra(tat, now, limit)
        tat = new_tat if new_tat is not None else tat
        decisions.append(decision)
    return decisions


def test_a_fresh_key_gets_a_burst_of_its_limit() -> None:
    decisions = _run(3, [0, 0, 0, 0])
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]


def test_the_refusal_says_when_to_retry_and_when_the_allowance_is_whole() -> None:
    refused = _run(3, [0, 0, 0, 0])[-1]
    assert refused.retry_after == 20
    assert refused.reset_after == 60


def test_one_request_comes_back_per_interval() -> None:
    decisions = _run(3, [0, 0, 0, 19.9, 20, 20])
    assert [d.allowed for d in decisions] == [True, True, True, False, True, False]


def test_an_idle_key_recovers_its_whole_burst_but_no_more() -> None:
    decisions = _run(2, [0, 0, 600, 600, 600])
    assert [d.allowed for d in decisions] == [True, True, True, True, False]


def test_limits_that_do_not_divide_a_minute_stay_exact() -> None:
    decisions = _run(7, [0.0] * 8)
    assert [d.allowed for d in decisions] == [True] * 7 + [False]
    assert decisions[6].remaining == 0


def test_headers_follow_the_ratelimit_draft() -> None:
    (decision,) = _run(10, [0])
    assert decision.headers() == {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "9",
        "RateLimit-Reset": "6",
    }


def test_a_quota_decision_counts_what_is_left() -> None:
    assert quota_decision(True, 100, 30, 3600.0).remaining == 70
    refused = quota_decision(False, 100, 95, 3600.0)
    assert (refused.allowed, refused.remaining, refused.retry_after) == (False, 5, 3600.0)
