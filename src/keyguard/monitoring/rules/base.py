"""What a rule sees (one Observation, reused for every event) and what a rule is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Final

from keyguard.monitoring.alerts import Finding, Severity
from keyguard.monitoring.config import EngineConfig
from keyguard.monitoring.events import Event
from keyguard.monitoring.network import Provider
from keyguard.monitoring.state import KeyState, TenantState

# What is new about an `ok` event, computed once by the engine: a rule whose `gate` shares
# no bit with an event's flags is not called for it (most events are new in nothing).
NEW_NETWORK: Final = 1
NEW_PROVIDER: Final = 2
NEW_COUNTRY: Final = 4
NEW_CLIENT: Final = 8
NEW_SENDER: Final = 16
VOLUME: Final = 32
DORMANT: Final = 64


class Observation:
    """One event with the state it concerns. Filled in place by the engine (no allocation
    per event); rules read it before the event is learnt into the baselines."""

    __slots__ = (
        "client",
        "endpoint",
        "event",
        "flags",
        "key",
        "network",
        "previous_use",
        "provider",
        "t",
        "tenant",
    )

    def __init__(self) -> None:
        self.event: Event | None = None
        self.t = 0.0
        self.key: KeyState | None = None
        self.tenant: TenantState | None = None
        self.network: str | None = None
        self.provider: Provider | None = None
        self.client: str | None = None
        self.endpoint = ""
        self.flags = 0
        self.previous_use: float | None = None  # the key's last ok use before this event

    @property
    def ev(self) -> Event:
        assert self.event is not None  # noqa: S101 - the engine sets it before any rule runs
        return self.event

    def known_origin(self) -> bool:
        """The address's network or provider is one this key or its tenant uses."""
        key, tenant, network, provider = self.key, self.tenant, self.network, self.provider
        if key is not None and (provider in key.providers or network in key.networks):
            return True
        return tenant is not None and (
            tenant.knows_provider(provider) or tenant.knows_network(network)
        )


class Rule:
    """A detection rule: `name` is the alert's `rule`; `outcomes` the events it reads;
    for `ok` events, `gate` the novelty flags it needs (0: every ok event)."""

    name: ClassVar[str]
    outcomes: ClassVar[frozenset[str]]
    gate: ClassVar[int] = 0

    def __init__(self, config: EngineConfig) -> None:
        self.config = config

    def check(self, o: Observation) -> Finding | None:
        raise NotImplementedError

    def state_size(self) -> int:
        """Entries of state the rule keeps itself (per-source rules)."""
        return 0

    def finding(
        self,
        o: Observation,
        severity: Severity,
        summary: str,
        *,
        first_t: float | None = None,
        subject: str | None = None,
        extra: Mapping[str, object] | None = None,
        cooldown: float | None = None,
        **numbers: object,
    ) -> Finding:
        """`numbers` (and `extra`) become the alert's evidence, after `summary`."""
        if extra:
            numbers.update(extra)
        key_id = o.ev.key_id
        return Finding(
            rule=self.name,
            severity=severity,
            summary=summary,
            subject=subject or key_id or "global",
            key_id=key_id if subject is None else None,
            first_t=first_t,
            numbers=dict(numbers),
            cooldown=cooldown,
        )
