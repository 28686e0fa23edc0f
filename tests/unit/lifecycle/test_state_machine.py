"""Random lifecycle sequences: the verifier always agrees with a simple model of the rules."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from keyguard import audit
from keyguard.clock import ManualClock
from keyguard.errors import IllegalTransition
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import ensure_tenant
from keyguard.lifecycle.views import OPERATOR
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.storage import migrate
from tests.conftest import START, TEST_PEPPER


@dataclass
class ModelKey:
    raw: str
    expires_at: datetime
    state: str = "active"  # stored state: active, rotating, suspended, revoked
    grace_until: datetime | None = None

    def expected(self, now: datetime) -> str:
        if self.state == "revoked":
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        if self.state == "rotating" and self.grace_until is not None and now >= self.grace_until:
            return "revoked"
        return {"active": "ok", "rotating": "ok", "suspended": "suspended"}[self.state]


class Lifecycle(RuleBasedStateMachine):
    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp())
        self.clock = ManualClock(START)
        settings_ = Settings(
            data_dir=self.tmp, database_url=f"sqlite:///{self.tmp / 'k.db'}", pepper=TEST_PEPPER
        )
        self.rt = Runtime.build(settings_, self.clock)
        migrate.upgrade(self.rt.engine)
        with self.rt.sessions.begin() as session:
            ensure_tenant(session, self.clock, "default", OPERATOR.id)
        self.model: dict[str, ModelKey] = {}

    def teardown(self) -> None:
        self.rt.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @rule(target=keys, hours=st.integers(min_value=1, max_value=240))
    def create(self, hours: int) -> str:
        created = self.rt.keys.create(
            OPERATOR,
            KeySpec(
                tenant_id="default",
                env="live",
                scopes=["mail:send"],
                expires_in=timedelta(hours=hours),
            ),
        )
        self.model[created.view.id] = ModelKey(created.key.reveal(), created.view.expires_at)
        return created.view.id

    @rule(target=keys, key_id=keys, grace_minutes=st.integers(min_value=0, max_value=600))
    def rotate(self, key_id: str, grace_minutes: int) -> str:
        key = self.model[key_id]
        try:
            created = self.rt.keys.rotate(OPERATOR, key_id, timedelta(minutes=grace_minutes))
        except IllegalTransition:
            assert key.expected(self.clock()) != "ok" or key.state != "active"
            return key_id
        assert key.expected(self.clock()) == "ok" and key.state == "active"
        key.state = "rotating" if grace_minutes else "revoked"
        key.grace_until = self.clock() + timedelta(minutes=grace_minutes)
        self.model[created.view.id] = ModelKey(created.key.reveal(), created.view.expires_at)
        return created.view.id

    @rule(key_id=keys, action=st.sampled_from(["revoke", "suspend", "resume"]))
    def change(self, key_id: str, action: str) -> None:
        key = self.model[key_id]
        now_state = key.expected(self.clock())
        allowed = {
            "revoke": now_state != "revoked",
            "suspend": now_state == "ok" and key.state == "active",
            "resume": now_state == "suspended",
        }[action]
        try:
            getattr(self.rt.keys, action)(OPERATOR, key_id)
        except IllegalTransition:
            assert not allowed
            return
        assert allowed
        key.state = {"revoke": "revoked", "suspend": "suspended", "resume": "active"}[action]

    @rule(minutes=st.integers(min_value=1, max_value=3000))
    def advance(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @rule(key_id=keys)
    def verify(self, key_id: str) -> None:
        key = self.model[key_id]
        outcome = self.rt.verifier.verify(key.raw, scope="mail:send").outcome
        assert outcome == key.expected(self.clock())

    @invariant()
    def revoked_and_expired_keys_never_verify(self) -> None:
        now = self.clock()
        for key in self.model.values():
            if key.expected(now) in ("revoked", "expired"):
                assert not self.rt.verifier.verify(key.raw).allowed

    @invariant()
    def audit_chain_is_intact(self) -> None:
        with self.rt.sessions() as session:
            assert audit.verify_chain(session).intact


Lifecycle.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_lifecycle = Lifecycle.TestCase
