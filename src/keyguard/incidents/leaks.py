"""Leak intake: keys reported leaked are checked by us, then revoked at once, with incidents.

Three doors bring reports (keyguard.api.routes.leaks): GitHub's secret scanning partner
program (signed by GitHub, keyguard.incidents.github), a tenant's own scanners
(`leaks:report`, `keyguard scan --report-to`) and the public revocation endpoint (anyone
holding a key). Each report carries the token itself: it is parsed and its checksum checked,
then looked up by digest (KeyService.identify). An id in a report is never trusted, and a
string that is not one of our keys changes nothing. Every real key of a batch is revoked in
one transaction, with one incident per key naming where it leaked; other processes refuse it
within a second (the change feed). Raw tokens are never stored or logged: the answer names a
token by its SHA-256 (GitHub's `token_hash`).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from keyguard.incidents.service import IncidentService, OpenRequest
from keyguard.keys import InvalidKeyFormat, RawKey, parse_key
from keyguard.lifecycle import Actor, KeyService, KeyView

log = logging.getLogger(__name__)

Source = Literal["github", "report", "public"]
MAX_BATCH: Final = 1000
Label = Literal["true_positive", "false_positive"]


@dataclass(frozen=True, slots=True)
class Leak:
    """One reported token and where it was seen (a public URL, or a scanner's location)."""

    token: str = field(repr=False)
    url: str | None = None
    token_type: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the intake concluded about one reported token."""

    token_hash: str  # SHA-256 hex of the token, as GitHub names tokens in its feedback
    token_type: str | None
    label: Label
    key: KeyView | None = None  # the key it is, when the reporter may know it
    incident_id: str | None = None
    revoked: bool = False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class LeakIntake:
    def __init__(self, keys: KeyService, incidents: IncidentService) -> None:
        self._keys = keys
        self._incidents = incidents
        self.outcomes: Counter[str] = Counter()

    def intake(
        self,
        leaks: Sequence[Leak],
        *,
        source: Source,
        reporter: str,
        owner: tuple[str, str] | None = None,
    ) -> list[Verdict]:
        """Check every token, revoke every real one in one transaction, and say which were.

        With `owner` (tenant, environment) only that tenant's keys of that environment count:
        another tenant's key is answered, and treated, like a string that is not ours.
        """
        found = self._identify(leaks, owner)
        requests: dict[str, OpenRequest] = {}
        for leak, key in zip(leaks, found, strict=True):
            if key is not None and key.state != "revoked" and key.id not in requests:
                requests[key.id] = OpenRequest(
                    key_id=key.id,
                    reason=_reason(source, leak),
                    source=source,
                    source_url=leak.url,
                )
        # An operator-like actor: holding the key proves the right to have it revoked.
        actor = Actor(id=f"leaks:{source}")
        opened = self._incidents.open_many(actor, list(requests.values()), timelines=False)
        incident_of = {o.incident.key_id: o.incident.id for o in opened}
        verdicts = [
            self._verdict(leak, key, incident_of, show=owner is not None or source == "github")
            for leak, key in zip(leaks, found, strict=True)
        ]
        self.outcomes.update(v.label for v in verdicts)
        log.info(
            "leaks.received",
            extra={
                "source": source,
                "reporter": reporter,
                "tokens": len(leaks),
                "revoked": len(opened),
            },
        )
        return verdicts

    def _identify(
        self, leaks: Sequence[Leak], owner: tuple[str, str] | None
    ) -> list[KeyView | None]:
        raws: list[RawKey] = []
        positions: list[int] = []
        for index, leak in enumerate(leaks):
            try:
                raws.append(parse_key(leak.token).raw)  # the checksum first, before any lookup
            except InvalidKeyFormat:
                continue
            positions.append(index)
        found: list[KeyView | None] = [None] * len(leaks)
        identified = self._keys.identify(raws)
        for index, key in zip(positions, identified, strict=True):
            if key is not None and (owner is None or (key.tenant_id, key.env) == owner):
                found[index] = key
        return found

    @staticmethod
    def _verdict(
        leak: Leak, key: KeyView | None, incident_of: dict[str, str], *, show: bool
    ) -> Verdict:
        if key is None:
            return Verdict(token_hash(leak.token), leak.token_type, "false_positive")
        return Verdict(
            token_hash(leak.token),
            leak.token_type,
            "true_positive",
            key=key if show else None,
            incident_id=incident_of.get(key.id) if show else None,
            revoked=key.id in incident_of,
        )


def _reason(source: Source, leak: Leak) -> str:
    where = leak.url or leak.location
    said = {
        "github": "GitHub secret scanning found the key in public",
        "report": "a scanner of the tenant found the key",
        "public": "the key was submitted to the public revocation endpoint",
    }[source]
    return f"{said}: {where}" if where else said
