"""Where a key is used from: new providers, countries, environments, allowlist breaches.

GuardDuty's "unusual network" findings and Okta's new-location signals: novelty counts
only against a stable history, and what another key of the same tenant already uses is not
new (a tenant's second service, its CI, its office). Within a provider (an ASN, or the coarse
network without one) fresh addresses are routine: migrations, scale-out, CI runners,
renumbering.
"""

from __future__ import annotations

from typing import TypeVar

from keyguard.monitoring.alerts import Finding, Severity, iso
from keyguard.monitoring.config import HOUR
from keyguard.monitoring.network import describe_network
from keyguard.monitoring.rules.base import (
    NEW_CLIENT,
    NEW_COUNTRY,
    NEW_NETWORK,
    NEW_PROVIDER,
    Observation,
    Rule,
)

T = TypeVar("T", str, int | str)


def _top(seen: dict[T, float], n: int = 5) -> list[T]:
    """The `n` most recently seen."""
    return [item for item, _ in sorted(seen.items(), key=lambda kv: -kv[1])[:n]]


class NewNetwork(Rule):
    """A provider this key never used and no key of its tenant uses."""

    name = "new_network"
    outcomes = frozenset({"ok"})
    gate = NEW_PROVIDER

    def check(self, o: Observation) -> Finding | None:
        key, tenant, ev = o.key, o.tenant, o.ev
        if key is None or not key.stable(o.t, self.config):
            return None
        if tenant is not None and tenant.knows_provider(o.provider):
            return None  # another key of the tenant runs there (EnvMismatch judges live keys)
        if o.flags & NEW_COUNTRY and key.countries:
            return None  # a new country too: CountryChange judges it (one alert, not two)
        new_client = bool(o.flags & NEW_CLIENT)
        if not (key.env == "live" or new_client):
            # A test or dev key sends into the sandbox only, and people move with their
            # keys: the same client from a new network is routine there.
            return None
        severity: Severity = "high" if new_client else "medium"
        return self.finding(
            o,
            severity,
            f"used from {ev.ip} ({_provider(o)}), a provider this key never used in "
            f"{key.day_count(o.t):.0f} days and no other key of its tenant uses"
            + (f", with a new client ({o.client})" if new_client else ""),
            ip=ev.ip,
            network=describe_network(o.network) if o.network else None,
            provider=o.provider,
            known_providers=_top(key.providers),
            known_networks=[describe_network(n) for n in _top(key.networks)],
            client=ev.user_agent,
            new_client=new_client,
            history_events=key.events,
        )


def _provider(o: Observation) -> str:
    if isinstance(o.provider, int):
        return f"AS{o.provider}"
    return f"network {o.provider}"


class CountryChange(Rule):
    """A country the key never used: concurrent with use elsewhere (impossible travel) or
    together with a new client is high; alone, a person travelling, at most low."""

    name = "country_change"
    outcomes = frozenset({"ok"})
    gate = NEW_COUNTRY

    def check(self, o: Observation) -> Finding | None:
        key, tenant, ev = o.key, o.tenant, o.ev
        if key is None or not key.countries or not key.stable(o.t, self.config):
            return None
        previous = key.last_country
        elsewhere_t = key.countries.get(previous, 0.0) if previous else 0.0
        gap = o.t - elsewhere_t
        concurrent = gap < self.config.concurrent_country
        known = (
            tenant is not None and ev.geo in tenant.countries and tenant.knows_provider(o.provider)
        )
        new_client = bool(o.flags & NEW_CLIENT)
        severity: Severity
        if known:
            # Where the tenant's other keys already run (a second region): deployment, not
            # travel; only a new client there is worth a look.
            if not new_client:
                return None
            severity = "medium"
        elif concurrent or new_client:
            severity = "high"
        else:
            severity = "low"
        return self.finding(
            o,
            severity,
            f"used from {ev.geo} {gap / HOUR:.1f} h after use from {previous}"
            + (" (impossible travel)" if concurrent else "")
            + (f", with a new client ({o.client})" if new_client else ""),
            country=ev.geo,
            previous_country=previous,
            previous_country_last_use=iso(elsewhere_t) if elsewhere_t else None,
            hours_between=round(gap / HOUR, 2),
            known_countries=_top(key.countries),
            ip=ev.ip,
            provider=o.provider,
            new_provider=o.provider not in key.providers,
            new_client=new_client,
        )


class EnvMismatch(Rule):
    """A live key from a network or provider where only the tenant's test and dev keys run
    (CI, laptops), or a key repeatedly presented to the wrong environment (a dev key probing
    live)."""

    name = "env_mismatch"
    outcomes = frozenset({"ok", "denied_env"})
    gate = NEW_NETWORK | NEW_PROVIDER

    def check(self, o: Observation) -> Finding | None:
        if o.ev.outcome == "denied_env":
            return self._probing(o)
        key, tenant, network, provider = o.key, o.tenant, o.network, o.provider
        if key is None or tenant is None or network is None or provider is None:
            return None
        if o.ev.env != "live":
            return None
        if o.flags & NEW_PROVIDER and provider not in tenant.live_providers:
            test_seen = tenant.other_providers.get(provider)
            where = f"provider {_provider(o)}"
        elif network not in tenant.live_networks:
            test_seen = tenant.other_networks.get(network)
            where = describe_network(network)
        else:
            return None
        if test_seen is None:
            return None
        return self.finding(
            o,
            "medium",
            f"a live key used from {where}, where only this tenant's test and dev keys ran so far",
            ip=o.ev.ip,
            network=describe_network(network),
            provider=provider,
            test_use_last_seen=iso(test_seen),
        )

    def _probing(self, o: Observation) -> Finding | None:
        key = o.key
        if key is None:
            return None
        window = key.burst("env", self.config.probe_window)
        seen = window.add(o.t)
        if seen < self.config.env_denials:
            return None
        return self.finding(
            o,
            "medium",
            f"a {o.ev.env} key presented to another environment {seen} times in "
            f"{self.config.probe_window / 60:.0f} minutes",
            first_t=window.first(),
            denials=seen,
            key_env=o.ev.env,
            path=o.ev.path,
            ip=o.ev.ip,
        )


class AllowlistViolation(Rule):
    """Refused by the key's IP allowlist from a provider neither the key nor its tenant
    uses (a renumbered office within its provider stays quiet)."""

    name = "allowlist_violation"
    outcomes = frozenset({"denied_ip"})

    def check(self, o: Observation) -> Finding | None:
        if o.known_origin():
            return None
        return self.finding(
            o,
            "high",
            f"refused by the key's IP allowlist from {o.ev.ip} ({_provider(o)}), a provider "
            "neither this key nor its tenant uses",
            ip=o.ev.ip,
            provider=o.provider,
            country=o.ev.geo,
            user_agent=o.ev.user_agent,
        )
