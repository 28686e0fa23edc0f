"""The engine's thresholds: one small typed config with defaults that make sense alone.

Times are seconds. The same config runs online and in `keyguard monitor replay`.
"""

from __future__ import annotations

from dataclasses import dataclass

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True, slots=True)
class EngineConfig:
    # De-duplication: a (key, rule) that fired stays quiet while it keeps firing with gaps
    # shorter than this; a higher severity is always raised.
    cooldown: float = 6 * HOUR

    # A key's history counts as stable (so novelty means something) after this much.
    stable_events: int = 30
    stable_age: float = 3 * DAY

    # Lifecycle.
    dormancy: float = 30 * DAY

    # Geography: another country within this time is not travel.
    concurrent_country: float = 2 * HOUR

    # Guessing from one address, sprays over many.
    guess_window: float = 10 * 60
    guess_threshold: int = 20
    spray_window: float = 10 * 60
    spray_min_sources: int = 20
    spray_factor: float = 4.0
    spray_cooldown: float = HOUR

    # Denial bursts per key.
    probe_window: float = 15 * 60
    probe_endpoints: int = 4
    probe_sender_domains: int = 3
    env_denials: int = 3

    # Volume per key and hour (recipients, or requests where no mail is sent).
    volume_history: float = 3 * DAY
    spike_factor: float = 4.0
    spike_floor: float = 50.0
    peak_share: float = 0.25
    bulk_min: float = 100.0
    bulk_factor: float = 10.0
    quiet_hour_share: float = 0.05
    peak_half_life: float = 7 * DAY
    hour_of_day_weight: float = 0.25

    # Quota: a key that never hit its quota in this much history.
    quota_history: float = 7 * DAY

    # Bounds on memory: least recently seen entries are dropped past these. A key costs
    # about 4 KB with a small baseline and some 30 KB with every map at its cap.
    max_keys: int = 50_000
    max_tenants: int = 20_000
    max_sources: int = 100_000
    max_known_networks: int = 200_000
    key_networks: int = 64
    key_providers: int = 16
    key_countries: int = 16
    key_clients: int = 16
    key_senders: int = 64
    key_endpoints: int = 64
    key_recipient_domains: int = 128
    tenant_networks: int = 4096
    tenant_providers: int = 512
    tenant_countries: int = 64
    dedup_entries: int = 200_000
