"""Strings that are not keys: guessing from one address, sprays over many.

Okta ThreatInsight's model: one address failing often is a guesser; many addresses each
failing a little, far more of them than usual, is a spray. Such events have no key and no
tenant, so these rules keep their own bounded per-source and global state.
"""

from __future__ import annotations

from keyguard.monitoring.alerts import Finding, Severity
from keyguard.monitoring.config import EngineConfig
from keyguard.monitoring.rules.base import Observation, Rule
from keyguard.monitoring.state import prune


class _Source:
    __slots__ = ("count", "first_t", "paths")

    def __init__(self, t: float) -> None:
        self.first_t = t
        self.count = 0
        self.paths: set[str] = set()


class KeyGuessing(Rule):
    """Many invalid keys from one address within a window."""

    name = "key_guessing"
    outcomes = frozenset({"invalid_key"})

    def __init__(self, config: EngineConfig, known_networks: dict[str, float]) -> None:
        super().__init__(config)
        self._sources: dict[str, _Source] = {}
        self._last: dict[str, float] = {}  # for eviction: address → last attempt
        self._known = known_networks  # networks with successful use, kept by the engine

    def check(self, o: Observation) -> Finding | None:
        ip = o.ev.ip
        if ip is None:
            return None
        source = self._sources.get(ip)
        if source is None or o.t - source.first_t > self.config.guess_window:
            if ip not in self._sources and len(self._sources) >= self.config.max_sources:
                self._evict()
            source = self._sources[ip] = _Source(o.t)
        source.count += 1
        self._last[ip] = o.t
        if len(source.paths) < 16:
            source.paths.add(o.ev.path)
        if source.count != self.config.guess_threshold:
            return None
        known = o.network is not None and o.network in self._known
        severity: Severity = "low" if known else "high"
        return self.finding(
            o,
            severity,
            f"{source.count} invalid keys from {ip} in "
            f"{(o.t - source.first_t) / 60:.1f} minutes"
            + (" (a network with successful use: a misconfigured client?)" if known else ""),
            subject=f"ip:{ip}",
            first_t=source.first_t,
            ip=ip,
            attempts=source.count,
            paths=sorted(source.paths),
            user_agent=o.ev.user_agent,
            known_network=known,
        )

    def state_size(self) -> int:
        return len(self._sources)

    def _evict(self) -> None:
        prune(self._last, self.config.max_sources)
        for gone in [ip for ip in self._sources if ip not in self._last]:
            del self._sources[gone]


class KeySpray(Rule):
    """Invalid keys from far more distinct addresses than usual within a window."""

    name = "key_spray"
    outcomes = frozenset({"invalid_key"})

    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self._window = -1
        self._first_t = 0.0
        self._events = 0
        self._sources: set[str] = set()
        self._typical = 0.0  # distinct addresses per window, averaged over past windows
        self._raised = False

    def check(self, o: Observation) -> Finding | None:
        window = int(o.t // self.config.spray_window)
        if window != self._window:
            self._close(window, o.t)
        self._events += 1
        if len(self._sources) < self.config.max_sources:
            self._sources.add(o.ev.ip or "-")
        distinct = len(self._sources)
        threshold = max(self.config.spray_min_sources, self.config.spray_factor * self._typical)
        if self._raised or distinct < threshold:
            return None
        self._raised = True
        return self.finding(
            o,
            "high",
            f"invalid keys from {distinct} distinct addresses in "
            f"{(o.t - self._first_t) / 60:.1f} minutes (usually {self._typical:.1f} per "
            f"{self.config.spray_window / 60:.0f} minutes)",
            subject="global",
            first_t=self._first_t,
            # A spray is a burst over the whole service: after an hour without one, the
            # next is a new spray (not the same condition still going).
            cooldown=self.config.spray_cooldown,
            addresses=distinct,
            attempts=self._events,
            typical_addresses=round(self._typical, 2),
        )

    def _close(self, window: int, t: float) -> None:
        if self._window >= 0:
            missed = min(window - self._window - 1, 50)  # quiet windows count as zero
            self._typical = self._typical * 0.9 ** (missed + 1) + 0.1 * len(self._sources) * (
                0.9**missed
            )
        self._window, self._first_t, self._events, self._raised = window, t, 0, False
        self._sources.clear()
