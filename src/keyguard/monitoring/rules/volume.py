"""How much a key sends: spikes against its own hour-of-week baseline, bulk at hours it
is normally quiet, and a quota reached for the first time.

CloudTrail Insights' model: the baseline is the key's own history (hour of day, the same
hour last week, a slowly fading peak), so growth moves the baseline with it. Mail sent by
a declared campaign is expected volume and never counts.
"""

from __future__ import annotations

from keyguard.monitoring.alerts import Finding
from keyguard.monitoring.config import DAY
from keyguard.monitoring.rules.base import VOLUME, Observation, Rule
from keyguard.monitoring.state import INF, Volume


def _numbers(volume: Volume) -> dict[str, object]:
    return {
        "hour_volume": round(volume.count),
        "usual_for_this_hour": round(volume.reference(volume.hour), 1),
        "peak_hour": round(volume.peak, 1),
        "campaign_volume": round(volume.campaign),
        "new_recipient_domains": volume.new_domains,
    }


class VolumeSpike(Rule):
    name = "volume_spike"
    outcomes = frozenset({"ok"})
    gate = VOLUME

    def check(self, o: Observation) -> Finding | None:
        key = o.key
        if key is None or key.volume.count <= key.volume.spike_limit:
            return None
        volume = key.volume
        limit, volume.spike_limit = volume.spike_limit, INF  # once per hour
        volume.limit = min(volume.spike_limit, volume.bulk_limit)
        return self.finding(
            o,
            "high",
            f"{volume.count:.0f} sent this hour, over {limit:.0f} "
            f"({self.config.spike_factor:g}x the key's usual {volume.reference(volume.hour):.0f}"
            f" for this hour of the week, peak {volume.peak:.0f})",
            first_t=volume.first_t,
            limit=round(limit),
            extra=_numbers(volume),
        )


class UnusualHourBulk(Rule):
    name = "unusual_hour_bulk"
    outcomes = frozenset({"ok"})
    gate = VOLUME

    def check(self, o: Observation) -> Finding | None:
        key = o.key
        if key is None or key.volume.count <= key.volume.bulk_limit:
            return None
        volume = key.volume
        limit, volume.bulk_limit = volume.bulk_limit, INF
        volume.limit = min(volume.spike_limit, volume.bulk_limit)
        return self.finding(
            o,
            "medium",
            f"{volume.count:.0f} sent in an hour when the key usually sends "
            f"{volume.reference(volume.hour):.1f} (its peak hour is {volume.peak:.0f})",
            first_t=volume.first_t,
            limit=round(limit),
            hour_of_week=volume.hour % 168,
            extra=_numbers(volume),
        )


class QuotaExhaustion(Rule):
    """A daily quota reached by a key that never reached it in a week or more of history."""

    name = "quota_exhaustion"
    outcomes = frozenset({"quota_exceeded"})

    def check(self, o: Observation) -> Finding | None:
        key = o.key
        if key is None:
            return None
        day = int(o.t // DAY)
        first_time = not key.quota_days
        key.quota_days.add(day)
        if len(key.quota_days) > 64:
            key.quota_days.discard(min(key.quota_days))
        if not first_time or o.t - key.first_t < self.config.quota_history:
            return None
        return self.finding(
            o,
            "medium",
            f"daily quota reached for the first time in {(o.t - key.first_t) / DAY:.0f} days "
            "of history",
            history_days=round((o.t - key.first_t) / DAY, 1),
            ip=o.ev.ip,
            extra=_numbers(key.volume),
        )
