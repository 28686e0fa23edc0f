"""A labelled usage-event trace for the detection engine (deterministic for a seed).

Several hundred keys of tenants of all sizes, over three weeks by default, with daily and
weekly cycles in each tenant's local time:

  transactional  live servers in one cloud region, mail around the clock (some with a
                 nightly digest, some with an IP allowlist)
  marketing      live; a little API traffic, declared campaigns twice a week, quota hit
  ci             test keys on CI runners: a fresh address for every run, one provider
  dev            a person's key: the office by day, home some evenings
  gateway        live `keys:verify` traffic from a gateway, high and steady
  weekly         a report job once a week

On top: compromises (attack traffic, each labelled with its key, start and sources) and
legitimate changes (labelled too, so the scorer can say what a false alert was about).

    python bench/monitor_trace.py --out /tmp/trace [--seed 7] [--days 21] [--tenants 80]
        [--scale 1.0]

writes `events.jsonl` (PRODUCT.md usage events, in time order) and `labels.json`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

HOUR = 3600.0
DAY = 24 * HOUR
START = 1_791_158_400.0  # 2026-10-05T00:00:00Z, a Monday

# (asn, country) of cloud regions, office and home ISPs, hosting used by attackers.
CLOUDS = [(16509, "US"), (16509, "DE"), (16509, "IE"), (15169, "US"), (15169, "NL"),
          (24940, "DE"), (16276, "FR"), (8075, "NL"), (14618, "US"), (396982, "BE")]  # fmt: skip
ISPS = [(3320, "DE"), (7922, "US"), (2856, "GB"), (3215, "FR"), (6830, "NL"),
        (3352, "ES"), (5089, "GB"), (7018, "US"), (3269, "IT"), (1136, "NL")]  # fmt: skip
HOTELS = [(2516, "JP"), (4766, "KR"), (7545, "AU"), (6327, "CA"), (28573, "BR")]
HOSTING = [(14061, "NL"), (63949, "SG"), (20473, "US"), (9009, "RO"), (212238, "GB"),
           (45102, "HK"), (4134, "CN"), (12389, "RU"), (51167, "DE"), (136907, "SG")]  # fmt: skip
CI = (8075, "US")  # the CI runners of every tenant: one big provider, fresh addresses
UAS = ["python-requests/2.31.0", "node-fetch/3.3.2", "Go-http-client/1.1", "PHPMailer 6.8.1",
       "keyguard-python/0.1.0", "okhttp/4.12.0", "Ruby/3.2 net-http",
       "Java-http-client/17"]  # fmt: skip
DEV_UAS = ["curl/8.4.0", "HTTPie/3.2.2", "python-requests/2.31.0", "PostmanRuntime/7.36.0"]
ATTACK_UAS = ["python-requests/2.28.1", "curl/7.68.0", "Go-http-client/2.0", "axios/1.6.2"]
DOMAINS = ["gmail.example", "outlook.example", "yahoo.example", "web.example", "corp.example",
           "mail.example", "icloud.example", "proton.example"]  # fmt: skip
PROBE_PATHS = ["/v1/contacts", "/v1/lists", "/v1/keys", "/v1/audit", "/v1/templates",
               "/v1/suppressions", "/v1/webhooks", "/v1/stats"]  # fmt: skip

Event = dict[str, Any]


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Addresses:
    """Fresh /24s per provider, so that every network is new exactly when the plan says."""

    def __init__(self) -> None:
        self._next: dict[int | None, Iterator[int]] = {}

    def network(self, asn: int | None) -> str:
        counter = self._next.setdefault(asn, itertools.count(1))
        n = next(counter)
        first = 10 if asn is None else 11 + asn % 211
        return f"{first}.{n // 250 % 250}.{n % 250}"


@dataclass
class Tenant:
    id: str
    tz: int
    domain: str
    cloud: tuple[int, str]
    servers: str  # a /24 in the cloud
    office: tuple[int, str]
    office_net: str
    private: bool = False  # servers on an internal network: private addresses, no ASN
    cloud2: tuple[int, str] | None = None  # a second region or provider some keys run in
    servers2: str = ""


@dataclass
class Key:
    id: str
    tenant: Tenant
    env: str
    kind: str
    ips: list[str]
    asn: int | None
    geo: str | None
    ua: str
    senders: list[str]
    peak: float  # requests in the busiest hour
    night: float = 0.1
    weekend: float = 0.5
    start: float = START
    end: float = math.inf
    rate: float = 1.0  # growth, lulls
    digest_hour: int | None = None
    allowlist: bool = False
    extra_ips: list[str] = field(default_factory=list)
    ip_meta: dict[str, tuple[int | None, str | None]] = field(default_factory=dict)
    home: tuple[str, int, str] | None = None  # dev keys: (ip, asn, geo) of the evening
    weekly_slot: tuple[int, int] = (2, 6)
    quota: bool = False
    last_used: float | None = None  # key_last_used_at of the first event
    busy: bool = False  # taken by a plan


class World:
    def __init__(self, seed: int, days: int, tenants: int, scale: float) -> None:
        self.rng = random.Random(seed)
        self.days, self.scale = days, scale
        self.end = START + days * DAY
        self.addresses = Addresses()
        self.tenants: list[Tenant] = []
        self.keys: list[Key] = []
        self.extras: list[tuple[float, int, Event]] = []  # explicit events: attacks, episodes
        self.changes: list[tuple[float, int, Callable[[], None]]] = []
        self.compromises: list[dict[str, Any]] = []
        self.legit: list[dict[str, Any]] = []
        self._seq = itertools.count()
        for i in range(tenants):
            self._tenant(i)

    # -- the population ----------------------------------------------------------------------

    def _tenant(self, i: int) -> None:
        rng = self.rng
        cloud = rng.choice(CLOUDS)
        office = rng.choice(ISPS)
        private = rng.random() < 0.06
        tenant = Tenant(
            id=f"tenant_{i:03d}",
            tz=rng.choice([-8, -5, 0, 1, 1, 2, 9]),
            domain=f"brand{i}.example",
            cloud=cloud,
            servers=self.addresses.network(None if private else cloud[0]),
            office=office,
            office_net=self.addresses.network(office[0]),
            private=private,
        )
        if not private and rng.random() < 0.3:
            tenant.cloud2 = rng.choice([c for c in CLOUDS if c != cloud])
            tenant.servers2 = self.addresses.network(tenant.cloud2[0])
        self.tenants.append(tenant)
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            self._transactional(tenant)
        if tenant.cloud2 is not None:  # a service in the second region
            key = self._transactional(tenant)
            key.ips = [f"{tenant.servers2}.{rng.randrange(2, 250)}" for _ in range(2)]
            key.asn, key.geo = tenant.cloud2
        if rng.random() < 0.5:
            self._marketing(tenant)
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            self._ci(tenant)
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            self._dev(tenant)
        if rng.random() < 0.15:
            self._gateway(tenant)
        if rng.random() < 0.2:
            self._weekly(tenant)

    def _key(self, tenant: Tenant, env: str, kind: str, **fields: Any) -> Key:
        n = len(self.keys)
        last = START - self.rng.uniform(60, 4 * HOUR)
        key = Key(id=f"key_{n:04d}", tenant=tenant, env=env, kind=kind, last_used=last, **fields)
        self.keys.append(key)
        return key

    def _server_ips(self, tenant: Tenant, n: int) -> list[str]:
        return [f"{tenant.servers}.{self.rng.randrange(2, 250)}" for _ in range(n)]

    def _transactional(self, tenant: Tenant) -> Key:
        rng = self.rng
        return self._key(
            tenant, "live", "transactional",
            ips=self._server_ips(tenant, rng.choice([1, 2, 3, 4])),
            asn=None if tenant.private else tenant.cloud[0],
            geo=None if tenant.private else tenant.cloud[1],
            ua=rng.choice(UAS),
            senders=[f"{s}@{tenant.domain}" for s in rng.sample(["no-reply", "info", "orders",
                                                                    "support", "alerts"], 2)],
            peak=rng.lognormvariate(2.6, 0.8) * self.scale,
            night=rng.choice([0.01, 0.03, 0.08, 0.15]),
            weekend=rng.uniform(0.3, 0.9),
            digest_hour=rng.choice([2, 3, 5]) if rng.random() < 0.2 else None,
            allowlist=rng.random() < 0.25,
        )  # fmt: skip

    def _marketing(self, tenant: Tenant) -> Key:
        return self._key(
            tenant, "live", "marketing", ips=self._server_ips(tenant, 1),
            asn=None if tenant.private else tenant.cloud[0],
            geo=None if tenant.private else tenant.cloud[1],
            ua="keyguard-python/0.1.0", senders=[f"news@{tenant.domain}"],
            peak=2.0 * self.scale, night=0.0, weekend=0.2, quota=self.rng.random() < 0.5,
        )  # fmt: skip

    def _ci(self, tenant: Tenant) -> Key:
        return self._key(
            tenant, "test", "ci", ips=[], asn=CI[0], geo=CI[1],
            ua=self.rng.choice(["python-httpx/0.27.0", "pytest-keyguard/1.0", "node-fetch/3.3.2"]),
            senders=[f"test@{tenant.domain}"], peak=self.rng.uniform(0.5, 2.5) * self.scale,
            weekend=0.1,
        )  # fmt: skip

    def _dev(self, tenant: Tenant) -> Key:
        rng = self.rng
        home_isp = rng.choice([i for i in ISPS if i[1] == tenant.office[1]])  # lives nearby
        home = (f"{self.addresses.network(home_isp[0])}.{rng.randrange(2, 250)}", *home_isp)
        return self._key(
            tenant, "dev", "dev", ips=[f"{tenant.office_net}.{rng.randrange(2, 250)}"],
            asn=tenant.office[0], geo=tenant.office[1], ua=rng.choice(DEV_UAS),
            senders=[f"dev@{tenant.domain}"], peak=rng.uniform(0.5, 3) * self.scale,
            weekend=0.05, home=home, allowlist=rng.random() < 0.3,
        )  # fmt: skip

    def _gateway(self, tenant: Tenant) -> Key:
        return self._key(
            tenant, "live", "gateway", ips=self._server_ips(tenant, 2),
            asn=None if tenant.private else tenant.cloud[0],
            geo=None if tenant.private else tenant.cloud[1],
            ua="keyguard-gateway/1.2.0", senders=[],
            peak=self.rng.uniform(60, 200) * self.scale, night=0.2, weekend=0.7,
        )  # fmt: skip

    def _weekly(self, tenant: Tenant) -> Key:
        key = self._key(
            tenant, "live", "weekly", ips=self._server_ips(tenant, 1),
            asn=None if tenant.private else tenant.cloud[0],
            geo=None if tenant.private else tenant.cloud[1],
            ua="cron-report/2.0", senders=[f"reports@{tenant.domain}"], peak=10,
            weekly_slot=(self.rng.randrange(7), self.rng.randrange(24)),
        )  # fmt: skip
        key.last_used = START - self.rng.uniform(1, 6) * DAY  # last week's run
        return key

    # -- helpers for plans -------------------------------------------------------------------

    def pick(self, kind: str, where: Callable[[Key], bool] = lambda k: True) -> Key | None:
        found = [k for k in self.keys if k.kind == kind and not k.busy and where(k)]
        if not found:
            return None
        key = self.rng.choice(found)
        key.busy = True
        return key

    def at(self, t: float, change: Callable[[], None]) -> None:
        self.changes.append((t, next(self._seq), change))

    def add(self, event: Event) -> None:
        self.extras.append((event["_t"], next(self._seq), event))

    def event(self, key: Key | None, t: float, **fields: Any) -> Event:
        """An event of `key` (None: a string that is no key) at `t`; fields override."""
        if key is None:
            base: Event = {"key_id": None, "tenant": None, "env": None, "ip": None,
                           "user_agent": "python-requests/2.28.1", "method": "POST",
                           "path": "/v1/mail/send", "scope": None, "outcome": "invalid_key",
                           "status": 401, "recipients": None, "recipient_domains": None,
                           "sender": None}  # fmt: skip
        else:
            sending = key.kind not in ("gateway",)
            ip = self.rng.choice(key.ips + key.extra_ips) if key.ips else None
            asn, geo = key.ip_meta.get(ip, (key.asn, key.geo)) if ip else (key.asn, key.geo)
            base = {"key_id": key.id, "tenant": key.tenant.id, "env": key.env, "ip": ip,
                    "user_agent": key.ua, "method": "POST",
                    "path": "/v1/mail/send" if sending else "/v1/keys/verify",
                    "scope": "mail:send" if sending else "keys:verify", "outcome": "ok",
                    "status": 202 if sending else 200,
                    "recipients": 1 if sending else None,
                    "recipient_domains": [self.rng.choice(DOMAINS)] if sending else None,
                    "sender": self.rng.choice(key.senders) if sending and key.senders else None,
                    "asn": asn, "geo": geo}  # fmt: skip
        base.update(fields)
        base["_t"] = t
        return base

    def label(self, bucket: list[dict[str, Any]], kind: str, key: Key | None, start: float,
              end: float, **more: Any) -> None:  # fmt: skip
        bucket.append({"kind": kind, "key_id": key.id if key else None, "start": start,
                       "end": end, **more})  # fmt: skip

    def when(self, first_day: float = 8, last_day: float | None = None) -> float:
        last = self.days - 1 if last_day is None else last_day
        return START + self.rng.uniform(first_day, last) * DAY

    def local_hour(self, key: Key, t: float) -> float:
        return ((t / HOUR) + key.tenant.tz) % 24

    def at_local(self, key: Key, day: float, hour: float) -> float:
        """The UTC time of `hour` local on `day` days after START."""
        return START + int(day) * DAY + (hour - key.tenant.tz) * HOUR

    def attacker(self, avoid: Tenant | None = None) -> tuple[str, int, str]:
        asn, geo = self.rng.choice([h for h in HOSTING if avoid is None or h[0] != avoid.cloud[0]])
        return f"{self.addresses.network(asn)}.{self.rng.randrange(2, 250)}", asn, geo


# -- the hourly traffic of every kind ----------------------------------------------------------


def _shape(world: World, key: Key, t: float) -> float:
    """The daily and weekly cycle: busy around 13:00 local, quieter at weekends."""
    local = world.local_hour(key, t)
    weekday = int(((t + key.tenant.tz * HOUR - START) // DAY) % 7)
    day = math.exp(-(((local - 13) / 4.0) ** 2))
    return (key.night + (1 - key.night) * day) * (key.weekend if weekday >= 5 else 1.0)


def hourly(world: World, key: Key, h0: float) -> list[Event]:
    rng = world.rng
    if key.kind in ("transactional", "gateway"):
        n = poisson(rng, key.peak * key.rate * _shape(world, key, h0 + 1800))
        events = []
        for _ in range(n):
            e = world.event(key, h0 + rng.random() * HOUR)
            if e["recipients"] is not None:
                e["recipients"] = rng.choice([1, 1, 1, 1, 2, 3])
            events.append(e)
        if key.digest_hour is not None and int(world.local_hour(key, h0)) == key.digest_hour:
            events += [world.event(key, h0 + 60 + i * 2, sender=key.senders[0],
                                   recipients=rng.randrange(5, 20))
                       for i in range(int(20 * world.scale))]  # fmt: skip
        return events
    if key.kind == "ci":
        return _ci_runs(world, key, h0)
    if key.kind == "dev":
        return _dev_use(world, key, h0)
    if key.kind == "marketing":
        return _marketing(world, key, h0)
    if key.kind == "weekly":
        weekday = int(((h0 + key.tenant.tz * HOUR - START) // DAY) % 7)
        if (weekday, int(world.local_hour(key, h0))) == key.weekly_slot:
            return [world.event(key, h0 + 120 + i * 5, recipients=rng.randrange(1, 5))
                    for i in range(rng.randrange(5, 20))]  # fmt: skip
    return []


def _ci_runs(world: World, key: Key, h0: float) -> list[Event]:
    rng = world.rng
    local = world.local_hour(key, h0)
    if not 7 <= local < 20:
        return []
    events = []
    for _ in range(poisson(rng, key.peak * _shape(world, key, h0 + 1800))):
        # Every run gets a fresh runner: a new address, often a new /24, of the same provider.
        ip = f"{11 + CI[0] % 211}.{rng.randrange(250)}.{rng.randrange(250)}.{rng.randrange(2, 250)}"
        start = h0 + rng.random() * (HOUR - 300)
        for i in range(rng.randrange(5, 30)):
            events.append(world.event(key, start + i * rng.uniform(1, 8), ip=ip,
                                      recipients=rng.choice([1, 2])))  # fmt: skip
    return events


def _dev_use(world: World, key: Key, h0: float) -> list[Event]:
    rng = world.rng
    local = world.local_hour(key, h0)
    weekday = int(((h0 + key.tenant.tz * HOUR - START) // DAY) % 7)
    paths = [("GET", "/v1/templates", "templates:read"), ("POST", "/v1/mail/send", "mail:send"),
             ("GET", "/v1/sandbox/messages", "sandbox:read")]  # fmt: skip
    where: dict[str, Any] = {}
    if weekday < 5 and 9 <= local < 18:
        lam = key.peak
    elif key.home is not None and 19 <= local < 23 and rng.random() < 0.35:
        lam = key.peak * 0.6
        where = {"ip": key.home[0], "asn": key.home[1], "geo": key.home[2]}
    else:
        return []
    events = []
    for _ in range(poisson(rng, lam)):
        method, path, scope = rng.choice(paths)
        sending = path == "/v1/mail/send"
        e = world.event(key, h0 + rng.random() * HOUR, method=method, path=path, scope=scope,
                        status=202 if sending else 200, recipients=1 if sending else None,
                        recipient_domains=["example.com"] if sending else None,
                        sender=key.senders[0] if sending else None)  # fmt: skip
        e.update(where)
        events.append(e)
    return events


def _marketing(world: World, key: Key, h0: float) -> list[Event]:
    rng = world.rng
    local = world.local_hour(key, h0)
    weekday = int(((h0 + key.tenant.tz * HOUR - START) // DAY) % 7)
    events = []
    if weekday < 5 and 8 <= local < 18:
        for _ in range(poisson(rng, key.peak)):
            path = rng.choice(["/v1/lists", "/v1/contacts", "/v1/campaigns"])
            events.append(world.event(key, h0 + rng.random() * HOUR, method="GET", path=path,
                                      scope=path[4:] + ":read", status=200, recipients=None,
                                      recipient_domains=None, sender=None))  # fmt: skip
    if weekday in (1, 3) and int(local) == 10:
        events += campaign(world, key, h0 + 300, batches=int(rng.randrange(20, 60) * key.rate))
    return events


def campaign(world: World, key: Key, t: float, batches: int) -> list[Event]:
    """A declared campaign: batches of recipients through the campaigns API; a key with a
    tight quota runs into it at the end."""
    rng = world.rng
    cid = f"cmp_{rng.randrange(10**6)}"
    events = [world.event(key, t + i * 4, path=f"/v1/campaigns/{cid}/send",
                          scope="campaigns:send", recipients=rng.randrange(500, 1000),
                          recipient_domains=rng.sample(DOMAINS, 4))
              for i in range(batches)]  # fmt: skip
    if key.quota:
        end = t + batches * 4
        events += [world.event(key, end + i * 30, path=f"/v1/campaigns/{cid}/send",
                               scope="campaigns:send", outcome="quota_exceeded", status=429)
                   for i in range(rng.randrange(3, 10))]  # fmt: skip
    return events


# -- writing -----------------------------------------------------------------------------------


def write(world: World, out: Path) -> dict[str, Any]:
    """Every hour: the keys' traffic, the explicit events and the scheduled changes, in time
    order; `key_last_used_at` is each key's previous ok use."""
    encoder = msgspec.json.Encoder()
    extras = sorted(world.extras, key=lambda x: (x[0], x[1]))
    changes = sorted(world.changes, key=lambda x: (x[0], x[1]))
    last_used = {k.id: k.last_used for k in world.keys}
    active_days: set[tuple[str, int]] = set()
    count = 0
    xi = ci = 0
    with (out / "events.jsonl").open("wb") as sink:
        h0 = START
        while h0 < world.end:
            while ci < len(changes) and changes[ci][0] < h0 + HOUR:
                changes[ci][2]()
                ci += 1
            hour: list[Event] = []
            for key in world.keys:
                if key.start <= h0 + HOUR and key.end > h0:
                    hour += [e for e in hourly(world, key, h0) if key.start <= e["_t"] < key.end]
            while xi < len(extras) and extras[xi][0] < h0 + HOUR:
                hour.append(extras[xi][2])
                xi += 1
            hour.sort(key=lambda e: e["_t"])
            lines = []
            for e in hour:
                t = e.pop("_t")
                if t >= world.end:
                    continue
                e["ts"] = iso(t)
                key_id = e["key_id"]
                if key_id is not None:
                    previous = last_used.get(key_id)
                    e["key_last_used_at"] = iso(previous) if previous is not None else None
                    if e["outcome"] == "ok":
                        last_used[key_id] = t
                        active_days.add((key_id, int((t - START) // DAY)))
                e["request_id"] = f"req_{count:08x}"
                lines.append(encoder.encode(e))
                count += 1
            sink.write(b"\n".join(lines) + (b"\n" if lines else b""))
            h0 += HOUR
    return {"events": count, "active_key_days": len(active_days)}


def build(seed: int, days: int, tenants: int, scale: float) -> World:
    from monitor_plans import plan_all  # the compromises and legitimate changes

    world = World(seed, days, tenants, scale)
    plan_all(world)
    return world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--tenants", type=int, default=80)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies traffic rates")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    world = build(args.seed, args.days, args.tenants, args.scale)
    totals = write(world, args.out)
    labels = {
        "seed": args.seed, "start": START, "end": world.end, "days": args.days,
        **totals, "keys": {k.id: k.kind for k in world.keys},
        "compromises": world.compromises, "legit": world.legit,
    }  # fmt: skip
    (args.out / "labels.json").write_text(json.dumps(labels, indent=1))
    kinds = {c["kind"] for c in world.compromises}
    legit = {c["kind"] for c in world.legit}
    print(
        f"{totals['events']} events, {len(world.keys)} keys, {totals['active_key_days']} active "
        f"key-days, {len(world.compromises)} compromises of {len(kinds)} kinds, "
        f"{len(world.legit)} legitimate changes of {len(legit)} kinds "
        f"in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
