"""The detection rules, one class each, grouped by what they look at."""

from __future__ import annotations

from keyguard.monitoring.config import EngineConfig
from keyguard.monitoring.rules.base import Observation, Rule
from keyguard.monitoring.rules.guessing import KeyGuessing, KeySpray
from keyguard.monitoring.rules.lifecycle import (
    DormantKeyUse,
    ExpiredKeyUse,
    RevokedKeyUse,
    RotatedKeyUse,
)
from keyguard.monitoring.rules.network import (
    AllowlistViolation,
    CountryChange,
    EnvMismatch,
    NewNetwork,
)
from keyguard.monitoring.rules.probing import EndpointProbing, SenderProbing
from keyguard.monitoring.rules.sender import NewSenderNewClient
from keyguard.monitoring.rules.volume import QuotaExhaustion, UnusualHourBulk, VolumeSpike


def default_rules(config: EngineConfig, known_networks: dict[str, float]) -> list[Rule]:
    """Every rule, in the order they are asked about an event."""
    return [
        RevokedKeyUse(config),
        RotatedKeyUse(config),
        ExpiredKeyUse(config),
        DormantKeyUse(config),
        NewNetwork(config),
        CountryChange(config),
        EnvMismatch(config),
        AllowlistViolation(config),
        KeyGuessing(config, known_networks),
        KeySpray(config),
        EndpointProbing(config),
        SenderProbing(config),
        VolumeSpike(config),
        UnusualHourBulk(config),
        NewSenderNewClient(config),
        QuotaExhaustion(config),
    ]


__all__ = ["Observation", "Rule", "default_rules"]
