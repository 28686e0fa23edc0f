"""What an access review finds about one key, and what it recommends: pure, no I/O.

Each rule looks at a key's metadata and at what its usage events of the review window show
(`Observed`), and proposes one change. A finding's id is a hash of the key, the rule and the
proposal: the same facts give the same id, so `keyguard review apply ID` applies exactly the
change that was reviewed, and a proposal that changed since (new use seen) has a new id.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from keyguard.lifecycle import KeyView, Narrowing
from keyguard.policy import SCOPES, Restrictions, build_restrictions, grants

Kind = Literal[
    "unused_key",
    "unused_scopes",
    "unrestricted_networks",
    "unrestricted_senders",
    "rotation_overdue",
    "expiring_soon",
    "holds_keys_write",
    "test_key_on_production_network",
    "live_key_from_ci",
]
Severity = Literal["low", "medium", "high"]
Action = Literal["rotate", "revoke", "none"]
SEVERITY_ORDER: Final = {"high": 0, "medium": 1, "low": 2}

# User-agent fragments that CI systems put in their requests, or that their standard
# environment variables get copied into by common HTTP clients. The heuristic is weak on
# purpose and said so in the evidence: a CI job that sends a plain `python-httpx/0.27` is not
# recognised, and a developer's laptop with such a user agent would be. ASNs are not guessed:
# hosted runners share clouds (Azure, AWS, GCP) with production, so only the ASNs a deployment
# names (ReviewPolicy.ci_asns) count as CI.
CI_USER_AGENT_MARKERS: Final = (
    "github-actions",
    "githubactions",
    "gitlab-ci",
    "gitlab-runner",
    "circleci",
    "jenkins",
    "buildkite",
    "travis",
    "drone/",
    "azure-pipelines",
    "bitbucket-pipelines",
    "teamcity",
    "woodpecker",
)


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    """The thresholds of a review (Settings: review_*)."""

    unused_days: int = 30
    rotation_days: int = 90
    expiring_days: int = 14
    few_networks: int = 3
    few_senders: int = 3
    # Fewer successful requests than this in the window prove nothing about a key's habits:
    # no allowlist or narrower scope set is proposed from them.
    min_events: int = 10
    ci_asns: frozenset[int] = frozenset()

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.unused_days)


@dataclass(slots=True)
class Observed:
    """A key's successful requests in the review window, folded into what the rules need."""

    requests: int = 0
    unattributed: int = 0  # requests whose event names no scope
    scopes: Counter[str] = field(default_factory=Counter)
    networks: Counter[str] = field(default_factory=Counter)
    unknown_ip: int = 0
    asns: Counter[int] = field(default_factory=Counter)
    sends: int = 0
    sender_domains: Counter[str] = field(default_factory=Counter)
    ci_user_agents: Counter[str] = field(default_factory=Counter)
    ci_asns: Counter[int] = field(default_factory=Counter)

    def add(
        self,
        count: int,
        *,
        scope: str | None,
        ip: str | None,
        asn: int | None,
        sender: str | None,
        user_agent: str | None,
        ci_asns: frozenset[int] = frozenset(),
    ) -> None:
        """`count` requests with these attributes."""
        self.requests += count
        if scope:
            self.scopes[scope] += count
        else:
            self.unattributed += count
        network = network_of(ip) if ip else None
        if network is None:
            self.unknown_ip += count
        else:
            self.networks[network] += count
        if asn is not None:
            self.asns[asn] += count
            if asn in ci_asns:
                self.ci_asns[asn] += count
        if sender is not None:
            self.sends += count
            self.sender_domains[sender.rpartition("@")[2].lower()] += count
        if user_agent and is_ci_user_agent(user_agent):
            self.ci_user_agents[user_agent[:120]] += count


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One machine-readable change: rotate (optionally narrowing), revoke, or nothing to do
    automatically (`none`: a person must look)."""

    action: Action
    scopes: tuple[str, ...] | None = None
    allowed_cidrs: tuple[str, ...] | None = None
    sender_domains: tuple[str, ...] | None = None
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"action": self.action, "text": self.text}
        if self.scopes is not None:
            data["scopes"] = list(self.scopes)
        restrictions: dict[str, Any] = {}
        if self.allowed_cidrs is not None:
            restrictions["allowed_cidrs"] = list(self.allowed_cidrs)
        if self.sender_domains is not None:
            restrictions["sender_domains"] = list(self.sender_domains)
        if restrictions:
            data["restrictions"] = restrictions
        return data

    def narrowing(self, held: Restrictions) -> Narrowing:
        """The successor's change: the proposed scopes, and `held` tightened as proposed."""
        restrictions = None
        if self.allowed_cidrs is not None or self.sender_domains is not None:
            data = held.to_json()
            if self.allowed_cidrs is not None:
                data["allowed_cidrs"] = list(self.allowed_cidrs)
            if self.sender_domains is not None:
                data["sender_domains"] = list(self.sender_domains)
            restrictions = build_restrictions(**data)
        return Narrowing(scopes=self.scopes, restrictions=restrictions)


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    key_id: str
    tenant_id: str
    env: str
    key_name: str | None
    kind: Kind
    severity: Severity
    summary: str
    evidence: dict[str, Any]
    recommendation: Recommendation

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key_id": self.key_id,
            "tenant": self.tenant_id,
            "env": self.env,
            "key_name": self.key_name,
            "kind": self.kind,
            "severity": self.severity,
            "summary": self.summary,
            "evidence": self.evidence,
            "recommendation": self.recommendation.to_json(),
        }


def finding_id(key_id: str, kind: str, recommendation: Recommendation) -> str:
    """Deterministic: the key, the rule and the proposed change (not the wording)."""
    proposal = {k: v for k, v in recommendation.to_json().items() if k != "text"}
    material = json.dumps([key_id, kind, proposal], sort_keys=True, separators=(",", ":"))
    return "rv_" + hashlib.sha256(material.encode()).hexdigest()[:20]


def network_of(ip: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) holding `ip`, as a CIDR; None for what is not an address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def is_ci_user_agent(user_agent: str) -> bool:
    lowered = user_agent.lower()
    return any(marker in lowered for marker in CI_USER_AGENT_MARKERS)


@dataclass(frozen=True, slots=True)
class KeyFacts:
    """One key as the rules see it: its view, its use, and what the tenant's keys show."""

    key: KeyView
    seen: Observed
    now: datetime
    rotate_every: timedelta | None = None  # a delivered key's own rotation policy
    production_networks: frozenset[str] = frozenset()  # networks the tenant's live keys use


def review_key(facts: KeyFacts, policy: ReviewPolicy) -> list[Finding]:
    """Every finding of one active key."""
    findings: list[Finding | None] = [
        _unused(facts, policy),
        _unused_scopes(facts, policy),
        _unrestricted_networks(facts, policy),
        _unrestricted_senders(facts, policy),
        _rotation_overdue(facts, policy),
        _expiring_soon(facts, policy),
        _holds_keys_write(facts, policy),
        _test_key_on_production_network(facts),
        _live_key_from_ci(facts),
    ]
    return [f for f in findings if f is not None]


def _finding(  # noqa: PLR0917 - the rules read best as one positional line each
    facts: KeyFacts,
    kind: Kind,
    severity: Severity,
    summary: str,
    evidence: dict[str, Any],
    recommendation: Recommendation,
) -> Finding:
    key = facts.key
    return Finding(
        id=finding_id(key.id, kind, recommendation),
        key_id=key.id,
        tenant_id=key.tenant_id,
        env=key.env,
        key_name=key.name,
        kind=kind,
        severity=severity,
        summary=summary,
        evidence=evidence,
        recommendation=recommendation,
    )


def _days(delta: timedelta) -> int:
    return max(delta.days, 0)


def _observed_long_enough(facts: KeyFacts, policy: ReviewPolicy) -> bool:
    """A key younger than the window has not had the chance to use what it holds."""
    return facts.now - facts.key.created_at >= policy.window


def _unused(facts: KeyFacts, policy: ReviewPolicy) -> Finding | None:
    key, now = facts.key, facts.now
    last = key.last_used_at
    if not _observed_long_enough(facts, policy) or facts.seen.requests:
        return None
    if last is not None and now - last < policy.window:
        return None
    idle = _days(now - (last or key.created_at))
    summary = (
        f"never used in the {idle} days since it was created"
        if last is None
        else f"not used for {idle} days (threshold {policy.unused_days})"
    )
    return _finding(
        facts,
        "unused_key",
        "medium",
        summary,
        {"last_used_at": _iso(last), "idle_days": idle, "threshold_days": policy.unused_days},
        Recommendation("revoke", text="revoke it: nothing has used it (needs --yes)"),
    )


def _unused_scopes(facts: KeyFacts, policy: ReviewPolicy) -> Finding | None:
    seen = facts.seen
    # Only when every request of the window names its scope, enough of them, over a whole
    # window: a proposal from partial evidence would remove a scope still in use.
    if seen.requests < policy.min_events or seen.unattributed or not seen.scopes:
        return None
    if not _observed_long_enough(facts, policy):
        return None
    held = frozenset(facts.key.scopes)
    granted = frozenset(s for s in SCOPES if grants(held, s))
    used = frozenset(s for s in seen.scopes if grants(held, s))
    unused = sorted(granted - used)
    if not unused or not used:
        return None
    proposal = tuple(sorted(used))
    return _finding(
        facts,
        "unused_scopes",
        "high" if any(s.endswith(":write") for s in unused) else "medium",
        f"{len(unused)} of {len(granted)} granted scopes unused in {policy.unused_days} days; "
        f"{', '.join(proposal)} cover all {seen.requests} requests",
        {
            "held": sorted(held),
            "used": {s: seen.scopes[s] for s in proposal},
            "unused": unused,
            "requests": seen.requests,
            "window_days": policy.unused_days,
        },
        Recommendation(
            "rotate", scopes=proposal, text=f"rotate to a successor with {', '.join(proposal)}"
        ),
    )


def _unrestricted_networks(facts: KeyFacts, policy: ReviewPolicy) -> Finding | None:
    key, seen = facts.key, facts.seen
    if key.restrictions.allowed_networks or seen.requests < policy.min_events:
        return None
    # An allowlist refuses a request of unknown origin: propose one only when every request
    # of the window had an address.
    if seen.unknown_ip or not 0 < len(seen.networks) <= policy.few_networks:
        return None
    cidrs = tuple(sorted(seen.networks))
    return _finding(
        facts,
        "unrestricted_networks",
        "medium",
        f"no CIDR allowlist, yet all {seen.requests} requests in {policy.unused_days} days "
        f"came from {len(cidrs)} network(s)",
        {
            "networks": {n: seen.networks[n] for n in cidrs},
            "asns": {str(a): c for a, c in sorted(seen.asns.items())},
            "requests": seen.requests,
        },
        Recommendation(
            "rotate",
            allowed_cidrs=cidrs,
            text=f"rotate to a successor allowed only from {', '.join(cidrs)}",
        ),
    )


def _unrestricted_senders(facts: KeyFacts, policy: ReviewPolicy) -> Finding | None:
    key, seen = facts.key, facts.seen
    if key.restrictions.sender_domains or seen.sends < policy.min_events:
        return None
    if not 0 < len(seen.sender_domains) <= policy.few_senders:
        return None
    domains = tuple(sorted(seen.sender_domains))
    return _finding(
        facts,
        "unrestricted_senders",
        "medium",
        f"no sender restriction, yet all {seen.sends} sends in {policy.unused_days} days "
        f"came from {len(domains)} sender domain(s)",
        {"sender_domains": {d: seen.sender_domains[d] for d in domains}, "sends": seen.sends},
        Recommendation(
            "rotate",
            sender_domains=domains,
            text=f"rotate to a successor that may send only from {', '.join(domains)}",
        ),
    )


def _rotation_overdue(facts: KeyFacts, policy: ReviewPolicy) -> Finding | None:
    key = facts.key
    limit = facts.rotate_every or timedelta(days=policy.rotation_days)
    age = facts.now - key.created_at
    if age <= limit:
        return None
    source = "the key's own rotate_every" if facts.rotate_every else "the tenant's policy"
    return _finding(
        facts,
        "rotation_overdue",
        "high" if age > 2 * limit else "medium",
        f"{_days(age)} days old; {source} rotates at {_days(limit)} days",
        {"age_days": _days(age), "policy_days": _days(limit), "policy": source},
        Recommendation("rotate", text="rotate it (same powers, fresh lifetime)"),
    )


def _expiring_soon(facts: KeyFacts, policy: ReviewPolicy) -> Finding | None:
    left = facts.key.expires_at - facts.now
    if left > timedelta(days=policy.expiring_days):
        return None
    return _finding(
        facts,
        "expiring_soon",
        "high" if left <= timedelta(days=3) else "medium",
        f"expires in {_days(left)} days ({_iso(facts.key.expires_at)})",
        {"expires_at": _iso(facts.key.expires_at), "days_left": _days(left)},
        Recommendation("rotate", text="rotate it before it expires, so nothing breaks"),
    )


def _holds_keys_write(facts: KeyFacts, policy: ReviewPolicy) -> Finding | None:
    key, seen = facts.key, facts.seen
    held = frozenset(key.scopes)
    if not grants(held, "keys:write"):
        return None
    used = seen.scopes.get("keys:write", 0)
    rest = tuple(sorted(s for s in held if s not in ("keys:write", "keys:*")))
    if "keys:*" in held:
        rest = tuple(sorted({*rest, "keys:read", "keys:verify"}))
    if used or seen.unattributed or not rest or not _observed_long_enough(facts, policy):
        recommendation = Recommendation(
            "none",
            text="it can create, rotate and revoke keys: keep it to an allowlisted network "
            "and a short lifetime",
        )
    else:
        recommendation = Recommendation(
            "rotate", scopes=rest, text="rotate to a successor without keys:write"
        )
    return _finding(
        facts,
        "holds_keys_write",
        "high",
        f"holds keys:write (used {used} times in {policy.unused_days} days)",
        {"scopes": sorted(held), "keys_write_requests": used},
        recommendation,
    )


def _test_key_on_production_network(facts: KeyFacts) -> Finding | None:
    key, seen = facts.key, facts.seen
    if key.env == "live":
        return None
    shared = sorted(set(seen.networks) & facts.production_networks)
    if not shared:
        return None
    return _finding(
        facts,
        "test_key_on_production_network",
        "medium",
        f"a {key.env} key used from {len(shared)} network(s) the tenant's live keys use",
        {"networks": {n: seen.networks[n] for n in shared}},
        Recommendation(
            "none",
            text="find out why: a production deployment configured with a test key, or a "
            "copy of the key on production hosts",
        ),
    )


def _live_key_from_ci(facts: KeyFacts) -> Finding | None:
    key, seen = facts.key, facts.seen
    if key.env != "live" or not (seen.ci_user_agents or seen.ci_asns):
        return None
    hits = sum(seen.ci_user_agents.values()) + sum(seen.ci_asns.values())
    return _finding(
        facts,
        "live_key_from_ci",
        "medium",
        f"a live key used from CI ({hits} request(s); a heuristic on user agents and the "
        "configured CI ASNs)",
        {
            "user_agents": dict(seen.ci_user_agents.most_common(5)),
            "asns": {str(a): c for a, c in sorted(seen.ci_asns.items())},
            "heuristic": "user agent names a CI system, or the ASN is in KEYGUARD_REVIEW_CI_ASNS",
        },
        Recommendation("none", text="give CI a test key; keep live keys on production hosts"),
    )


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.key_id, f.kind))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
