"""Bounded state: per key, per tenant, per source and global. Every map is capped; past
its cap the least recently seen part is dropped, so memory stays bounded whatever arrives."""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Hashable
from typing import Final, TypeVar

from keyguard.monitoring.config import DAY, HOUR, EngineConfig
from keyguard.monitoring.network import Provider

K = TypeVar("K", bound=Hashable)
INF: Final = math.inf
WEEK_HOURS: Final = 168


def prune(seen: dict[K, float], cap: int) -> None:
    """Keep the most recently seen three quarters of `cap` (batching keeps it O(1) amortised)."""
    if len(seen) < cap:
        return
    keep = max(1, cap * 3 // 4)
    recent = sorted(seen.items(), key=lambda item: item[1], reverse=True)[:keep]
    seen.clear()
    seen.update(recent)


def remember(seen: dict[K, float], item: K, t: float, cap: int) -> None:
    """Note `item` seen at `t` in a capped map."""
    if item not in seen and len(seen) >= cap:
        prune(seen, cap)
    seen[item] = t


class Window:
    """Distinct items within a sliding time window (item → last seen)."""

    __slots__ = ("cap", "items", "length")

    def __init__(self, length: float, cap: int = 64) -> None:
        self.length = length
        self.cap = cap
        self.items: dict[str, float] = {}

    def add(self, item: str, t: float) -> int:
        """Note `item` at `t`; the number of distinct items seen within the window."""
        items = self.items
        horizon = t - self.length
        if items and (len(items) >= self.cap or min(items.values()) < horizon):
            for old in [k for k, seen in items.items() if seen < horizon]:
                del items[old]
            prune(items, self.cap)
        items[item] = t
        return len(items)

    def first(self) -> float:
        return min(self.items.values())


class Burst:
    """How many events within a sliding time window (their times, capped)."""

    __slots__ = ("length", "times")

    def __init__(self, length: float, cap: int = 256) -> None:
        self.length = length
        self.times: deque[float] = deque(maxlen=cap)

    def add(self, t: float) -> int:
        times = self.times
        times.append(t)
        horizon = t - self.length
        while times[0] < horizon:
            times.popleft()
        return len(times)

    def first(self) -> float:
        return self.times[0]


class Volume:
    """A key's hourly volume against its own baseline: an hour-of-day average (daily cycle),
    the same hour last weeks (weekly cycle) and a slowly decaying peak hour."""

    __slots__ = (
        "bulk_limit",
        "campaign",
        "count",
        "first_t",
        "hour",
        "hour_of_day",
        "hour_of_week",
        "limit",
        "new_domains",
        "peak",
        "spike_limit",
    )

    def __init__(self) -> None:
        self.hour = -1
        self.count = 0.0
        self.campaign = 0.0
        self.new_domains = 0
        self.first_t = 0.0
        # Compact arrays: they are read and written once an hour, not per event.
        self.hour_of_day = array("f", bytes(4 * 24))
        self.hour_of_week = array("f", bytes(4 * WEEK_HOURS))
        self.peak = 0.0
        self.spike_limit = INF
        self.bulk_limit = INF
        self.limit = INF

    def reference(self, hour: int) -> float:
        """What this key usually does in this hour of the week."""
        return max(self.hour_of_day[hour % 24], self.hour_of_week[hour % WEEK_HOURS])

    def roll(self, hour: int, t: float, config: EngineConfig, mature: bool) -> None:
        """Close the hours since the last event (quiet hours count as zero), open `hour`."""
        if self.hour >= 0:
            self._fold(self.count, self.hour, config)
            for quiet in range(self.hour + 1, min(hour, self.hour + WEEK_HOURS + 1)):
                self._fold(0.0, quiet, config)
        self.hour, self.count, self.campaign, self.new_domains, self.first_t = hour, 0.0, 0.0, 0, t
        self._limits(hour, config, mature)

    def _fold(self, count: float, hour: int, config: EngineConfig) -> None:
        weight = config.hour_of_day_weight
        slot = hour % 24
        self.hour_of_day[slot] += (count - self.hour_of_day[slot]) * weight
        week_slot = hour % WEEK_HOURS
        # Last weeks' same hour, fading by half a week on: a weekly cycle, forgiving growth.
        self.hour_of_week[week_slot] = max(count, self.hour_of_week[week_slot] * 0.5)
        self.peak = max(count, self.peak * 0.5 ** (HOUR / config.peak_half_life))

    def _limits(self, hour: int, config: EngineConfig, mature: bool) -> None:
        if not mature:
            self.spike_limit = self.bulk_limit = self.limit = INF
            return
        reference = self.reference(hour)
        if reference <= self.peak * config.quiet_hour_share:
            # An hour the key is normally quiet in: bulk is the signal (UnusualHourBulk).
            self.spike_limit = INF
            self.bulk_limit = max(config.bulk_min, config.bulk_factor * reference)
        else:
            self.bulk_limit = INF
            self.spike_limit = (
                config.spike_factor * max(reference, self.peak * config.peak_share)
                + config.spike_floor
            )
        self.limit = min(self.spike_limit, self.bulk_limit)


class KeyState:
    """What one key has done: its baselines (value → last seen) and its running windows."""

    __slots__ = (
        "bursts",
        "clients",
        "countries",
        "denials",
        "endpoints",
        "env",
        "events",
        "first_t",
        "last_country",
        "last_t",
        "networks",
        "new_client",
        "new_client_t",
        "providers",
        "quota_days",
        "recipient_domains",
        "seen_t",
        "senders",
        "suspect_until",
        "tenant",
        "volume",
    )

    def __init__(self, tenant: str | None, env: str | None, t: float) -> None:
        self.tenant = tenant
        self.env = env
        self.first_t = t  # first ok use seen (or learnt from key_last_used_at)
        self.last_t = 0.0  # last ok use
        self.seen_t = t  # last event of any kind, for eviction
        self.events = 0
        self.networks: dict[str, float] = {}
        self.providers: dict[Provider, float] = {}
        self.countries: dict[str, float] = {}
        self.clients: dict[str, float] = {}
        self.senders: dict[str, float] = {}
        self.endpoints: dict[str, float] = {}
        self.recipient_domains: dict[str, float] = {}
        self.last_country: str | None = None
        self.new_client: str | None = None
        self.new_client_t = -INF
        self.quota_days: set[int] = set()
        self.suspect_until = -INF
        self.volume = Volume()
        self.denials: dict[str, Window] | None = None
        self.bursts: dict[str, Burst] | None = None

    def stable(self, t: float, config: EngineConfig) -> bool:
        """Enough history that something new about this key means something."""
        return self.events >= config.stable_events and t - self.first_t >= config.stable_age

    def window(self, name: str, length: float) -> Window:
        if self.denials is None:
            self.denials = {}
        found = self.denials.get(name)
        if found is None:
            found = self.denials[name] = Window(length)
        return found

    def burst(self, name: str, length: float) -> Burst:
        if self.bursts is None:
            self.bursts = {}
        found = self.bursts.get(name)
        if found is None:
            found = self.bursts[name] = Burst(length)
        return found

    def day_count(self, t: float) -> float:
        return (t - self.first_t) / DAY


class TenantState:
    """What all keys of one tenant use, by environment: networks and providers of its live
    keys, the same of its test and dev keys, and countries."""

    __slots__ = (
        "countries",
        "live_networks",
        "live_providers",
        "other_networks",
        "other_providers",
        "seen_t",
    )

    def __init__(self, t: float) -> None:
        self.seen_t = t
        self.live_networks: dict[str, float] = {}
        self.other_networks: dict[str, float] = {}  # used by test and dev keys
        self.live_providers: dict[Provider, float] = {}
        self.other_providers: dict[Provider, float] = {}
        self.countries: dict[str, float] = {}

    def knows_provider(self, provider: Provider | None) -> bool:
        return provider in self.live_providers or provider in self.other_providers

    def knows_network(self, network: str | None) -> bool:
        return network in self.live_networks or network in self.other_networks
