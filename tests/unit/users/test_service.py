"""UserService on both databases: people, roles, factors, signing in, sessions, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from keyguard.audit import AuditEvent, verify_chain
from keyguard.clock import ManualClock
from keyguard.errors import AuthenticationFailed, IllegalTransition, PermissionDenied, RateLimited
from keyguard.lifecycle import DEFAULT_TENANT, OPERATOR, KeySpec
from keyguard.runtime import Runtime
from keyguard.users import ROLES, totp_code

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # a fixed base32 TOTP seed, 32 characters
PASSWORD = "correct horse battery"


def _member(runtime: Runtime, email: str = "ana@example.com", role: str = "owner") -> str:
    invitation = runtime.users.add(
        OPERATOR.id, email=email, tenant_id=DEFAULT_TENANT, role_name=role
    )
    runtime.users.setup_password(
        invitation.token, password=PASSWORD, totp_secret=SEED, code=totp_code(SEED, runtime.clock())
    )
    return invitation.user.id


def _next_code(clock: ManualClock) -> str:
    clock.advance(timedelta(seconds=30))  # a code is good once: sign-ins use the next step's
    return totp_code(SEED, clock())


def test_a_new_user_gets_a_one_time_setup_token(runtime: Runtime) -> None:
    invitation = runtime.users.add(
        OPERATOR.id, email="Ana@Example.com", tenant_id=DEFAULT_TENANT, role_name="viewer"
    )
    assert invitation.user.email == "ana@example.com"
    assert invitation.user.pending_setup and len(invitation.token) > 30
    assert runtime.users.setup_user(invitation.token).id == invitation.user.id
    runtime.users.setup_password(
        invitation.token, password=PASSWORD, totp_secret=SEED, code=totp_code(SEED, runtime.clock())
    )
    with pytest.raises(AuthenticationFailed):
        runtime.users.setup_user(invitation.token)


def test_setup_returns_ten_recovery_codes_stored_only_as_digests(runtime: Runtime) -> None:
    invitation = runtime.users.add(
        OPERATOR.id, email="a@example.com", tenant_id=DEFAULT_TENANT, role_name="viewer"
    )
    codes = runtime.users.setup_password(
        invitation.token, password=PASSWORD, totp_secret=SEED, code=totp_code(SEED, runtime.clock())
    )
    assert len(codes) == 10 and len(set(codes)) == 10
    from keyguard.users.models import RecoveryCode

    with runtime.sessions() as session:
        stored = list(session.scalars(select(RecoveryCode.code_hash)))
    assert all(code.replace("-", "") not in stored for code in codes)


def test_password_and_current_totp_sign_in(runtime: Runtime, clock: ManualClock) -> None:
    user_id = _member(runtime)
    assert (
        runtime.users.sign_in_password(
            "ana@example.com", PASSWORD, _next_code(clock), ip="192.0.2.1"
        )
        == user_id
    )


def test_a_totp_code_is_accepted_once(runtime: Runtime, clock: ManualClock) -> None:
    _member(runtime)
    code = _next_code(clock)
    runtime.users.sign_in_password("ana@example.com", PASSWORD, code, ip="192.0.2.1")
    with pytest.raises(AuthenticationFailed):
        runtime.users.sign_in_password("ana@example.com", PASSWORD, code, ip="192.0.2.1")


def test_unknown_address_and_wrong_password_get_the_same_answer(
    runtime: Runtime, clock: ManualClock
) -> None:
    _member(runtime)
    answers = []
    for email, password in (
        ("nobody@example.com", PASSWORD),
        ("ana@example.com", "wrong password!"),
    ):
        with pytest.raises(AuthenticationFailed) as caught:
            runtime.users.sign_in_password(email, password, _next_code(clock), ip="192.0.2.1")
        answers.append((caught.value.code, caught.value.message))
    assert answers[0] == answers[1] == ("sign_in_failed", "wrong address, password or code")


def test_sign_in_is_throttled_per_account_known_or_not(runtime: Runtime) -> None:
    for email in ("ana@example.com", "nobody@example.com"):
        refusals = []
        for attempt in range(8):
            try:
                runtime.users.sign_in_password(
                    email, "wrong password!", "000000", ip=f"192.0.2.{attempt}"
                )
            except AuthenticationFailed:
                refusals.append("failed")
            except RateLimited as exc:
                refusals.append(exc.code)
        assert "sign_in_throttled" in refusals, email


def test_sign_in_is_throttled_per_address(runtime: Runtime) -> None:
    codes = []
    for attempt in range(40):
        try:
            runtime.users.sign_in_password(
                f"u{attempt}@example.com", "wrong password!", "000000", ip="198.51.100.9"
            )
        except (AuthenticationFailed, RateLimited) as exc:
            codes.append(exc.code)
    assert codes.count("sign_in_throttled") > 0


def test_a_recovery_code_signs_in_once_and_is_not_a_reauthentication(runtime: Runtime) -> None:
    invitation = runtime.users.add(
        OPERATOR.id, email="a@example.com", tenant_id=DEFAULT_TENANT, role_name="viewer"
    )
    codes = runtime.users.setup_password(
        invitation.token, password=PASSWORD, totp_secret=SEED, code=totp_code(SEED, runtime.clock())
    )
    signed_in = runtime.users.sign_in_recovery(
        "a@example.com", codes[0].upper(), password=PASSWORD, ip=None
    )
    assert signed_in == invitation.user.id
    with pytest.raises(AuthenticationFailed):
        runtime.users.sign_in_recovery("a@example.com", codes[0], password=PASSWORD, ip=None)


def test_a_recovery_code_does_not_replace_the_password_of_an_account_that_has_one(
    runtime: Runtime,
) -> None:
    invitation = runtime.users.add(
        OPERATOR.id, email="a@example.com", tenant_id=DEFAULT_TENANT, role_name="viewer"
    )
    codes = runtime.users.setup_password(
        invitation.token, password=PASSWORD, totp_secret=SEED, code=totp_code(SEED, runtime.clock())
    )
    for wrong in ("", "not the password"):
        with pytest.raises(AuthenticationFailed):
            runtime.users.sign_in_recovery("a@example.com", codes[0], password=wrong, ip=None)
    # The refusals spent nothing: the code still works with the password.
    assert runtime.users.sign_in_recovery(
        "a@example.com", codes[0], password=PASSWORD, ip=None
    ) == invitation.user.id  # fmt: skip


def test_a_session_acts_as_its_role_in_its_tenant(runtime: Runtime) -> None:
    user_id = _member(runtime, role="developer")
    _, view = runtime.users.web.open(user_id, None, strong=True)
    actor = view.actor()
    assert actor.id == f"user:{user_id}" and actor.tenant_id == DEFAULT_TENANT
    assert actor.scopes == ROLES["developer"].scopes and actor.env == "live"
    assert view.may("keys:write") and not view.may("webhooks:write")


def test_a_developer_cannot_give_a_key_a_scope_its_role_lacks(runtime: Runtime) -> None:
    user_id = _member(runtime, role="developer")
    _, view = runtime.users.web.open(user_id, None, strong=True)
    spec = KeySpec(tenant_id=DEFAULT_TENANT, env="live", scopes=["webhooks:write"])
    with pytest.raises(PermissionDenied):
        runtime.keys.create(view.actor(), spec)
    created = runtime.keys.create(
        view.actor(), KeySpec(tenant_id=DEFAULT_TENANT, env="live", scopes=["mail:send"])
    )
    assert created.view.created_by == f"user:{user_id}"


def test_sessions_end_after_idle_and_absolute_timeouts(
    runtime: Runtime, clock: ManualClock
) -> None:
    user_id = _member(runtime)
    token, _ = runtime.users.web.open(user_id, None, strong=True)
    clock.advance(timedelta(minutes=29))
    assert runtime.users.web.current(token) is not None
    clock.advance(timedelta(minutes=31))
    assert runtime.users.web.current(token) is None
    token, _ = runtime.users.web.open(user_id, None, strong=True)
    for _ in range(26):  # active every 28 minutes, for 12 hours and more
        clock.advance(timedelta(minutes=28))
        runtime.users.web.current(token)
    assert runtime.users.web.current(token) is None


def test_an_admin_cannot_add_an_owner_and_the_last_owner_stays(runtime: Runtime) -> None:
    owner = _member(runtime)
    with pytest.raises(PermissionDenied):
        runtime.users.add(
            "user:x",
            email="b@example.com",
            tenant_id=DEFAULT_TENANT,
            role_name="owner",
            manager_role="admin",
        )
    with pytest.raises(IllegalTransition):
        runtime.users.remove(OPERATOR.id, owner, tenant_id=DEFAULT_TENANT)


def test_reset_forgets_factors_and_ends_sessions(runtime: Runtime, clock: ManualClock) -> None:
    user_id = _member(runtime)
    token, _ = runtime.users.web.open(user_id, None, strong=True)
    invitation = runtime.users.reset(OPERATOR.id, "ana@example.com")
    assert runtime.users.web.current(token) is None
    assert invitation.user.pending_setup and not invitation.user.totp
    with pytest.raises(AuthenticationFailed):
        runtime.users.sign_in_password("ana@example.com", PASSWORD, _next_code(clock), ip=None)


def test_every_change_is_audited_as_who_made_it(runtime: Runtime, clock: ManualClock) -> None:
    user_id = _member(runtime)
    runtime.users.sign_in_password("ana@example.com", PASSWORD, _next_code(clock), ip="192.0.2.1")
    with runtime.sessions() as session:
        events = [
            (e.actor, e.action)
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        ]
        assert verify_chain(session).intact
    assert ("operator:cli", "user.added") in events
    assert (f"user:{user_id}", "user.set_up") in events
    assert (f"user:{user_id}", "user.signed_in") in events


def test_the_totp_seed_is_not_stored_in_clear(runtime: Runtime) -> None:
    _member(runtime)
    from keyguard.secrets.models import StoredSecret

    with runtime.sessions() as session:
        rows = list(session.scalars(select(StoredSecret)))
    assert rows and all(SEED.encode() not in bytes(r.ciphertext) for r in rows)


def test_timed_out_sessions_are_deleted_as_new_ones_open(
    runtime: Runtime, clock: ManualClock
) -> None:
    from sqlalchemy import func

    from keyguard.users.models import WebSession

    for _ in range(5):
        runtime.users.web.open_pending("192.0.2.1")  # a bot that never sends the cookie back
    clock.advance(timedelta(minutes=16))
    runtime.users.web.open_pending("192.0.2.1")
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 1


def test_the_purge_removes_only_timed_out_sessions_and_dead_setup_links(
    runtime: Runtime, clock: ManualClock
) -> None:
    from keyguard.users.models import User, WebSession

    user_id = _member(runtime)
    old_link = runtime.users.add(
        OPERATOR.id, email="late@example.com", tenant_id=DEFAULT_TENANT, role_name="viewer"
    )
    clock.advance(timedelta(hours=71, minutes=30))
    fresh_link = runtime.users.add(
        OPERATOR.id, email="new@example.com", tenant_id=DEFAULT_TENANT, role_name="viewer"
    )
    runtime.users.web.open(user_id, None, strong=True)  # left idle from here on
    runtime.users.web.open_pending("192.0.2.1")  # a sign-in left half-way
    clock.advance(timedelta(minutes=5))
    live, _ = runtime.users.web.open(user_id, None, strong=True)  # (opening purges: nothing yet)
    clock.advance(timedelta(minutes=15))
    assert runtime.users.web.current(live) is not None  # in use: never idle for long
    clock.advance(timedelta(minutes=16))  # old_link is past its 72 hours, fresh_link is not
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 3
    assert runtime.users.purge_expired() == 3  # stale, the half-way sign-in, old_link
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 1
        links = dict(list(session.execute(select(User.email, User.setup_token_hash))))
    assert runtime.users.web.current(live) is not None
    assert links["late@example.com"] is None and links["new@example.com"] is not None
    assert runtime.users.setup_user(fresh_link.token).email == "new@example.com"
    late = [u for u in runtime.users.list(DEFAULT_TENANT) if u.email == "late@example.com"]
    assert late[0].pending_setup  # still to set up: `reset` gives a new link
    with pytest.raises(AuthenticationFailed):
        runtime.users.setup_user(old_link.token)
    assert runtime.users.purge_expired() == 0
