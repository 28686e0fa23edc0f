"""The detection engine: fed usage events in time order, it keeps bounded state and returns
the alerts each event raises. Pure: no I/O, and time comes only from the events.

::

    feed(event) ─► ok? ─► novelty flags (new network, provider, country, client, sender,
         │                 volume over this hour's limit, dormancy) ─► only the rules whose
         │                 gate shares a flag ─► learn the event into the baselines
         └─ other outcome ─► the rules that read that outcome (learn nothing: a refused
                             request must not teach the baseline)
    findings ─► de-duplication per (key or source, rule) ─► Alert
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from keyguard.monitoring.alerts import NO_ACTION, RANK, Alert, Finding, iso
from keyguard.monitoring.config import HOUR, EngineConfig
from keyguard.monitoring.events import Event
from keyguard.monitoring.network import client_family, endpoint_of, network_of, provider_of
from keyguard.monitoring.rules import Observation, Rule, default_rules
from keyguard.monitoring.rules.base import (
    DORMANT,
    NEW_CLIENT,
    NEW_COUNTRY,
    NEW_NETWORK,
    NEW_PROVIDER,
    NEW_SENDER,
    VOLUME,
)
from keyguard.monitoring.state import KeyState, TenantState, prune, remember

# Declared campaigns are expected volume: mail they send never counts against the baseline.
CAMPAIGN_SCOPE: Final = "campaigns:send"
CAMPAIGN_PATH: Final = "/v1/campaigns"
SUSPECT_RANK: Final = RANK["medium"]


class Engine:
    """One engine per stream of events; not thread-safe (one detector feeds it)."""

    def __init__(self, config: EngineConfig | None = None, rules: Sequence[Rule] | None = None):
        self.config = config = config or EngineConfig()
        self._keys: dict[str, KeyState] = {}
        self._tenants: dict[str, TenantState] = {}
        self._known_networks: dict[str, float] = {}  # networks with successful use, any key
        self._fired: dict[tuple[str, str], float] = {}  # (subject, rule) → last trigger
        self._fired_rank: dict[tuple[str, str], int] = {}
        self.rules = (
            list(rules) if rules is not None else default_rules(config, self._known_networks)
        )
        self._ok_rules = [(rule.gate, rule) for rule in self.rules if "ok" in rule.outcomes]
        self._by_outcome: dict[str, list[Rule]] = {}
        for rule in self.rules:
            for outcome in rule.outcomes - {"ok"}:
                self._by_outcome.setdefault(outcome, []).append(rule)
        self._o = Observation()

    def feed(self, event: Event) -> list[Alert]:
        """The alerts this event raises (usually none)."""
        t = event.ts.timestamp()
        if event.outcome == "ok":
            return self._ok(event, t)
        rules = self._by_outcome.get(event.outcome)
        if rules is None:
            return []
        return self._refused(event, t, rules)

    def accept(self, event: Event) -> None:
        """Learn what `event` came from as normal for its key and tenant: a person marked the
        alert it raised a false positive. Its network, provider, country, client and sender
        join the baselines and the key is no longer under suspicion; counts and times of use
        are left alone (the event was already fed)."""
        key_id = event.key_id
        if key_id is None:
            return
        t = event.ts.timestamp()
        config = self.config
        key = self._keys.get(key_id) or self._new_key(key_id, event, t)
        key.suspect_until = 0.0
        network = provider = None
        if event.ip is not None:
            network = network_of(event.ip)
            provider = event.asn if event.asn is not None else provider_of(event.ip, None)
            remember(key.networks, network, t, config.key_networks)
            remember(key.providers, provider, t, config.key_providers)
            remember(self._known_networks, network, t, config.max_known_networks)
        if event.geo is not None:
            remember(key.countries, event.geo, t, config.key_countries)
        if event.user_agent:
            remember(key.clients, client_family(event.user_agent), t, config.key_clients)
        if event.sender is not None:
            remember(key.senders, event.sender, t, config.key_senders)
        tenant = self._tenant(event.tenant, t)
        if tenant is not None:
            self._learn_tenant(tenant, event, t, network, provider)

    def state_sizes(self) -> dict[str, int]:
        """How many entries each bounded map holds (for tests and metrics)."""
        return {
            "keys": len(self._keys),
            "tenants": len(self._tenants),
            "known_networks": len(self._known_networks),
            "dedup": len(self._fired),
            "sources": sum(rule.state_size() for rule in self.rules),
            "key_entries": max((_entries(k) for k in self._keys.values()), default=0),
        }

    # -- ok events: the hot path -------------------------------------------------------------

    # The hot path is inlined on purpose (about 10 µs per event in all): one function with the
    # novelty checks, one with the learning, no helper calls per field.
    def _ok(self, event: Event, t: float) -> list[Alert]:  # noqa: PLR0912, PLR0915
        key_id = event.key_id
        if key_id is None:
            return []
        config = self.config
        key = self._keys.get(key_id)
        previous: float | None
        if key is None:
            key = self._new_key(key_id, event, t)
            last = event.key_last_used_at
            previous = last.timestamp() if last is not None else None
        else:
            previous = key.last_t or None
        tenant = self._tenant(event.tenant, t)

        flags = 0
        ip = event.ip
        network = provider = None
        if ip is not None:
            network = network_of(ip)
            provider = event.asn if event.asn is not None else provider_of(ip, None)
            if network not in key.networks:
                flags |= NEW_NETWORK
            if provider not in key.providers:
                flags |= NEW_PROVIDER
        geo = event.geo
        if geo is not None and geo not in key.countries:
            flags |= NEW_COUNTRY
        agent = event.user_agent
        client = client_family(agent) if agent else None
        if client is not None and client not in key.clients:
            flags |= NEW_CLIENT
        sender = event.sender
        if sender is not None and sender not in key.senders:
            flags |= NEW_SENDER
        if previous is not None and t - previous >= config.dormancy:
            flags |= DORMANT

        volume = key.volume
        hour = int(t // HOUR)
        if hour > volume.hour:
            # Only live keys deliver mail outside (test and dev mail stays in the sandbox):
            # their volume is what a thief wants, so only theirs is judged.
            judged = key.env == "live" and t - key.first_t >= config.volume_history
            volume.roll(hour, t, config, judged)
        units = event.recipients or 1
        if event.scope == CAMPAIGN_SCOPE or event.path.startswith(CAMPAIGN_PATH):
            volume.campaign += units
        else:
            volume.count += units
            if volume.count > volume.limit:
                flags |= VOLUME

        alerts: list[Alert] = []
        if flags:
            o = self._o
            o.event, o.t, o.key, o.tenant, o.flags = event, t, key, tenant, flags
            o.network, o.provider, o.client, o.previous_use = network, provider, client, previous
            o.endpoint = ""
            for gate, rule in self._ok_rules:
                if gate & flags or not gate:
                    finding = rule.check(o)
                    if finding is not None:
                        self._emit(finding, o, alerts)
        self._learn(event, t, key, tenant, flags, network, provider, client)
        return alerts

    def _learn(  # noqa: PLR0912, PLR0917 - inlined, see _ok
        self,
        event: Event,
        t: float,
        key: KeyState,
        tenant: TenantState | None,
        flags: int,
        network: str | None,
        provider: int | str | None,
        client: str | None,
    ) -> None:
        config = self.config
        key.events += 1
        key.last_t = key.seen_t = t
        if network is not None and provider is not None:
            if flags & NEW_NETWORK and len(key.networks) >= config.key_networks:
                prune(key.networks, config.key_networks)
            key.networks[network] = t
            if flags & NEW_PROVIDER and len(key.providers) >= config.key_providers:
                prune(key.providers, config.key_providers)
            key.providers[provider] = t
            known = self._known_networks
            if network not in known and len(known) >= config.max_known_networks:
                prune(known, config.max_known_networks)
            known[network] = t
        geo = event.geo
        if geo is not None:
            if flags & NEW_COUNTRY and len(key.countries) >= config.key_countries:
                prune(key.countries, config.key_countries)
            key.countries[geo] = t
            key.last_country = geo
        if client is not None:
            if flags & NEW_CLIENT:
                if len(key.clients) >= config.key_clients:
                    prune(key.clients, config.key_clients)
                key.new_client, key.new_client_t = client, t
            key.clients[client] = t
        sender = event.sender
        if sender is not None:
            if flags & NEW_SENDER and len(key.senders) >= config.key_senders:
                prune(key.senders, config.key_senders)
            key.senders[sender] = t
        endpoints = key.endpoints
        endpoint = endpoint_of(event.path)
        if endpoint not in endpoints and len(endpoints) >= config.key_endpoints:
            prune(endpoints, config.key_endpoints)
        endpoints[endpoint] = t
        domains = event.recipient_domains
        if domains:
            self._learn_domains(key, domains, t)
        if tenant is not None and key.suspect_until < t:
            # A key under suspicion teaches its tenant nothing: an attacker's network must
            # not become "known" for the tenant's other keys.
            self._learn_tenant(tenant, event, t, network, provider)

    def _learn_domains(self, key: KeyState, domains: list[str], t: float) -> None:
        seen, cap = key.recipient_domains, self.config.key_recipient_domains
        for domain in domains:
            if domain not in seen:
                key.volume.new_domains += 1
                if len(seen) >= cap:
                    prune(seen, cap)
            seen[domain] = t

    def _learn_tenant(
        self,
        tenant: TenantState,
        event: Event,
        t: float,
        network: str | None,
        provider: int | str | None,
    ) -> None:
        config = self.config
        tenant.seen_t = t
        if network is not None and provider is not None:
            live = event.env == "live"
            networks = tenant.live_networks if live else tenant.other_networks
            if network not in networks and len(networks) >= config.tenant_networks:
                prune(networks, config.tenant_networks)
            networks[network] = t
            providers = tenant.live_providers if live else tenant.other_providers
            if provider not in providers and len(providers) >= config.tenant_providers:
                prune(providers, config.tenant_providers)
            providers[provider] = t
        geo = event.geo
        if geo is not None:
            countries = tenant.countries
            if geo not in countries and len(countries) >= config.tenant_countries:
                prune(countries, config.tenant_countries)
            countries[geo] = t

    # -- refused requests --------------------------------------------------------------------

    def _refused(self, event: Event, t: float, rules: list[Rule]) -> list[Alert]:
        key_id = event.key_id
        key = None
        if key_id is not None:
            key = self._keys.get(key_id)
            if key is None:
                key = self._new_key(key_id, event, t)
            key.seen_t = t
        o = self._o
        o.event, o.t, o.key, o.flags, o.client = event, t, key, 0, None
        o.tenant = self._tenants.get(event.tenant) if event.tenant is not None else None
        ip = event.ip
        if ip is not None:
            o.network = network_of(ip)
            o.provider = event.asn if event.asn is not None else provider_of(ip, None)
        else:
            o.network = o.provider = None
        last = event.key_last_used_at
        o.previous_use = (key.last_t if key is not None else 0.0) or (
            last.timestamp() if last is not None else None
        )
        o.endpoint = endpoint_of(event.path)
        alerts: list[Alert] = []
        for rule in rules:
            finding = rule.check(o)
            if finding is not None:
                self._emit(finding, o, alerts)
        return alerts

    # -- state and de-duplication ------------------------------------------------------------

    def _new_key(self, key_id: str, event: Event, t: float) -> KeyState:
        keys = self._keys
        if len(keys) >= self.config.max_keys:
            seen = {k: state.seen_t for k, state in keys.items()}
            prune(seen, self.config.max_keys)
            for gone in [k for k in keys if k not in seen]:
                del keys[gone]
        key = keys[key_id] = KeyState(event.tenant, event.env, t)
        return key

    def _tenant(self, tenant_id: str | None, t: float) -> TenantState | None:
        if tenant_id is None:
            return None
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenants = self._tenants
            if len(tenants) >= self.config.max_tenants:
                seen = {k: state.seen_t for k, state in tenants.items()}
                prune(seen, self.config.max_tenants)
                for gone in [k for k in tenants if k not in seen]:
                    del tenants[gone]
            tenant = tenants[tenant_id] = TenantState(t)
        return tenant

    def _emit(self, finding: Finding, o: Observation, alerts: list[Alert]) -> None:
        t = o.t
        rank = RANK[finding.severity]
        if o.key is not None and rank >= SUSPECT_RANK:
            o.key.suspect_until = t + self.config.cooldown
        slot = (finding.subject, finding.rule)
        last = self._fired.get(slot)
        cooldown = self.config.cooldown if finding.cooldown is None else finding.cooldown
        if last is not None and t - last < cooldown:
            self._fired[slot] = t  # still going: the quiet period runs on from here
            if rank <= self._fired_rank[slot]:
                return
        elif last is None and len(self._fired) >= self.config.dedup_entries:
            prune(self._fired, self.config.dedup_entries)
            self._fired_rank = {k: self._fired_rank[k] for k in self._fired}
        self._fired[slot] = t
        self._fired_rank[slot] = rank
        ts = iso(t)
        first = iso(finding.first_t) if finding.first_t is not None else ts
        alerts.append(
            Alert(
                ts=ts,
                key_id=finding.key_id,
                rule=finding.rule,
                severity=finding.severity,
                action=NO_ACTION,
                first_event_ts=first,
                evidence={"summary": finding.summary, **finding.numbers},
            )
        )


def _entries(key: KeyState) -> int:
    return (
        len(key.networks)
        + len(key.providers)
        + len(key.countries)
        + len(key.clients)
        + len(key.senders)
        + len(key.endpoints)
        + len(key.recipient_domains)
    )
