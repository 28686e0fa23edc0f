"""What happens in the trace beyond routine traffic: compromises and legitimate changes.

Each plan picks keys that fit, schedules changes to their behaviour and explicit events,
and labels what it did. Compromises start after the first week (keys have a history then);
legitimate changes may start from day 4.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor_trace import (
    ATTACK_UAS,
    DAY,
    HOTELS,
    HOUR,
    PROBE_PATHS,
    START,
    Key,
    World,
    campaign,
)

Plan = Callable[[World], None]
COMPROMISES: list[Plan] = []
LEGIT: list[Plan] = []


def compromise(plan: Plan) -> Plan:
    COMPROMISES.append(plan)
    return plan


def legit(plan: Plan) -> Plan:
    LEGIT.append(plan)
    return plan


def plan_all(world: World, each: int = 3) -> None:
    for plan in LEGIT:
        for _ in range(each):
            plan(world)
    for plan in COMPROMISES:
        for _ in range(each):
            plan(world)
    _inherent(world)


def _hit(world: World, kind: str, key: Key | None, events: list[dict[str, Any]],
         sources: list[str] | None = None) -> None:  # fmt: skip
    """Add attack events and label them: the compromise starts at its first request."""
    if not events:
        return
    for e in events:
        world.add(e)
    start, end = min(e["_t"] for e in events), max(e["_t"] for e in events)
    ips = sorted({e["ip"] for e in events if e.get("ip")}) if sources is None else sources
    world.label(world.compromises, kind, key, start, end, sources=ips[:20])


def _stream(world: World, key: Key | None, start: float, n: int, gap: tuple[float, float],
            **fields: Any) -> list[dict[str, Any]]:  # fmt: skip
    t, events = start, []
    for _ in range(n):
        events.append(world.event(key, t, **fields))
        t += world.rng.uniform(*gap)
    return events


def _foreign(world: World, key: Key, same_country: bool = False) -> dict[str, Any]:
    ip, asn, geo = world.attacker(avoid=key.tenant)
    return {"ip": ip, "asn": asn, "geo": key.geo if same_country and key.geo else geo,
            "user_agent": world.rng.choice(ATTACK_UAS)}  # fmt: skip


def _busy_hour(world: World, key: Key) -> float:
    """A weekday 10:00-16:00 local after the first week: the key is in use."""
    while True:
        t = world.at_local(key, world.rng.uniform(8, world.days - 1), world.rng.uniform(10, 16))
        weekday = int(((t + key.tenant.tz * HOUR - START) // DAY) % 7)
        if weekday < 5 and t < world.end - DAY:
            return t


def _random_ip(world: World) -> str:
    """Anywhere on the internet."""
    rng = world.rng
    return ".".join(str(rng.randrange(low, high)) for low, high in ((1, 223), (0, 256), (0, 256),
                                                                    (1, 255)))  # fmt: skip


def _retire(world: World, key: Key, at: float) -> None:
    key.end = at


# -- compromises -------------------------------------------------------------------------------


@compromise
def spam_from_vps(world: World) -> None:
    """A leaked key used for spam from a hosting provider (half of them in the key's country)."""
    key = world.pick("transactional", lambda k: not k.tenant.private)
    if key is None:
        return
    origin = _foreign(world, key, same_country=world.rng.random() < 0.5)
    events = _stream(world, key, world.when(), 300, (3, 10), recipients=world.rng.randrange(20, 50),
                     **origin)  # fmt: skip
    _hit(world, "spam_from_vps", key, events)


@compromise
def compromised_server_spam(world: World) -> None:
    """Spam through the application's own server: same address, client and sender."""
    key = world.pick("transactional")
    if key is None:
        return
    t = _busy_hour(world, key)
    events = _stream(world, key, t, 600, (1, 3), ip=key.ips[0], sender=key.senders[0],
                     recipients=50)  # fmt: skip
    _hit(world, "compromised_server_spam", key, events)


@compromise
def night_bulk_same_host(world: World) -> None:
    """Bulk mail from the key's own server at 03:00 local, when it is normally quiet."""
    key = world.pick("transactional", lambda k: k.night <= 0.03 and k.digest_hour is None)
    if key is None:
        return
    t = world.at_local(key, world.rng.uniform(8, world.days - 1), 3.2)
    events = _stream(world, key, t, 80, (20, 40), ip=key.ips[0], recipients=30)
    _hit(world, "night_bulk_same_host", key, events)


@compromise
def key_guessing(world: World) -> None:
    """One address trying strings that are not keys, a few a second."""
    ip, _, _ = world.attacker()
    events = _stream(world, None, world.when(), world.rng.randrange(300, 1500), (0.3, 2),
                     ip=ip, user_agent=world.rng.choice(ATTACK_UAS))  # fmt: skip
    _hit(world, "key_guessing", None, events)


@compromise
def key_spray(world: World) -> None:
    """A botnet: hundreds of addresses, each trying a key or two over twenty minutes."""
    rng = world.rng
    start = world.when()
    events = []
    for _ in range(rng.randrange(200, 400)):
        ip = _random_ip(world)
        for _ in range(rng.randrange(1, 4)):
            events.append(world.event(None, start + rng.uniform(0, 1200), ip=ip))
    _hit(world, "key_spray", None, events, sources=["many"])


@compromise
def revoked_key_replay(world: World) -> None:
    """A key revoked (and no longer used by its owner) tried later from elsewhere."""
    key = world.pick("transactional")
    if key is None:
        return
    revoked = world.when(4, 8)
    _retire(world, key, revoked)
    events = _stream(world, key, world.when(10), world.rng.randrange(5, 20), (10, 60),
                     outcome="revoked", status=401, recipients=None, recipient_domains=None,
                     **_foreign(world, key))  # fmt: skip
    _hit(world, "revoked_key_replay", key, events)


@compromise
def rotated_key_abuse(world: World) -> None:
    """The old key of a rotation, leaked from an old config, used after its grace window."""
    key = world.pick("transactional")
    if key is None:
        return
    rotated = world.when(4, 8)
    _rotate(world, key, rotated)
    events = _stream(world, key, world.when(10), world.rng.randrange(5, 20), (10, 60),
                     outcome="revoked", status=401, code="key_rotated", recipients=None,
                     recipient_domains=None, **_foreign(world, key))  # fmt: skip
    _hit(world, "rotated_key_abuse", key, events)


@compromise
def expired_key_abuse(world: World) -> None:
    key = world.pick("transactional")
    if key is None:
        return
    _retire(world, key, world.when(4, 8))
    events = _stream(world, key, world.when(10), world.rng.randrange(5, 20), (10, 60),
                     outcome="expired", status=401, recipients=None, recipient_domains=None,
                     **_foreign(world, key))  # fmt: skip
    _hit(world, "expired_key_abuse", key, events)


@compromise
def dormant_key_revival(world: World) -> None:
    """A key unused for four months, first seen in the trace in an attacker's hands."""
    owner = world.pick("transactional")
    if owner is None:
        return
    start = world.when()
    key = world._key(owner.tenant, "live", "dormant", ips=[], asn=None, geo=None, ua="-",
                     senders=list(owner.senders), peak=0, start=start, end=start)  # fmt: skip
    key.last_used = start - 120 * DAY
    key.busy = True
    events = _stream(world, key, start, 100, (5, 20), recipients=20, **_foreign(world, key))
    _hit(world, "dormant_key_revival", key, events)


@compromise
def scope_probing(world: World) -> None:
    """A stolen mail key explored: contacts, lists, keys, audit … all refused."""
    key = world.pick("transactional")
    if key is None:
        return
    origin = _foreign(world, key)
    t = world.when()
    events = [world.event(key, t + i * world.rng.uniform(5, 30), method="GET", path=path,
                          scope=path[4:] + ":read", outcome="denied_scope", status=403,
                          recipients=None, recipient_domains=None, sender=None, **origin)
              for i, path in enumerate(PROBE_PATHS)]  # fmt: skip
    _hit(world, "scope_probing", key, events)


@compromise
def sender_probing(world: World) -> None:
    """A stolen key tried as sender for other brands' domains (phishing), all refused."""
    key = world.pick("transactional")
    if key is None:
        return
    origin = _foreign(world, key)
    domains = [
        "paypal.example",
        "bank.example",
        "dhl.example",
        "microsoft.example",
        "apple.example",
    ]
    t = world.when()
    events = [world.event(key, t + i * world.rng.uniform(10, 40), sender=f"service@{d}",
                          outcome="denied_sender", status=403, **origin)
              for i, d in enumerate(domains)]  # fmt: skip
    _hit(world, "sender_probing", key, events)


@compromise
def allowlist_breach(world: World) -> None:
    """A key restricted to its servers, stolen and tried from elsewhere."""
    key = world.pick("transactional", lambda k: k.allowlist)
    if key is None:
        return
    events = _stream(world, key, world.when(), world.rng.randrange(5, 30), (5, 30),
                     outcome="denied_ip", status=403, **_foreign(world, key))  # fmt: skip
    _hit(world, "allowlist_breach", key, events)


@compromise
def live_key_in_ci(world: World) -> None:
    """A malicious CI job sends with the production key, from the CI runners."""
    tenants = {k.tenant.id for k in world.keys if k.kind == "ci"}
    key = world.pick("transactional", lambda k: k.tenant.id in tenants and k.asn != 8075)
    if key is None:
        return
    rng = world.rng
    ip = f"{11 + 8075 % 211}.{rng.randrange(250)}.{rng.randrange(250)}.{rng.randrange(2, 250)}"
    events = _stream(world, key, world.when(), 20, (10, 40), ip=ip, asn=8075, geo="US",
                     user_agent="python-httpx/0.27.0")  # fmt: skip
    _hit(world, "live_key_in_ci", key, events)


@compromise
def dev_key_probing_live(world: World) -> None:
    """A leaked dev key presented to the live environment again and again."""
    key = world.pick("dev")
    if key is None:
        return
    events = _stream(world, key, world.when(), world.rng.randrange(5, 15), (5, 40),
                     outcome="denied_env", status=403, **_foreign(world, key))  # fmt: skip
    _hit(world, "dev_key_probing_live", key, events)


@compromise
def new_sender_same_cloud(world: World) -> None:
    """An attacker in the key's own cloud region: phishing from a new sender and client."""
    key = world.pick("transactional", lambda k: not k.tenant.private)
    if key is None:
        return
    ip = f"{world.addresses.network(key.asn)}.{world.rng.randrange(2, 250)}"
    events = _stream(world, key, world.when(), 40, (20, 60), ip=ip,
                     sender=f"security@{key.tenant.domain}", user_agent="Go-http-client/2.0",
                     recipients=world.rng.randrange(5, 20))  # fmt: skip
    _hit(world, "new_sender_same_cloud", key, events)


@compromise
def quota_burn(world: World) -> None:
    """A compromised application burns the key's daily quota, then keeps hitting it."""
    key = world.pick("transactional")
    if key is None:
        return
    t = world.when()
    events = _stream(world, key, t, 100, (2, 5), ip=key.ips[0], recipients=100)
    events += _stream(world, key, events[-1]["_t"] + 5, 100, (3, 8), ip=key.ips[0],
                      outcome="quota_exceeded", status=429)  # fmt: skip
    _hit(world, "quota_burn", key, events)


@compromise
def impossible_travel_copied_client(world: World) -> None:
    """The key's own client string, from abroad, while its servers are busy at home."""
    key = world.pick("transactional", lambda k: not k.tenant.private and k.peak > 8)
    if key is None:
        return
    origin = _foreign(world, key)
    origin["user_agent"] = key.ua
    events = _stream(world, key, _busy_hour(world, key), 50, (10, 40), **origin)
    _hit(world, "impossible_travel_copied_client", key, events)


# -- legitimate changes ------------------------------------------------------------------------


def _rotate(world: World, key: Key, at: float, grace: float = DAY) -> Key:
    """A successor on the same servers from `at`; the old key works until the grace ends."""
    new = world._key(key.tenant, key.env, key.kind, ips=key.ips, asn=key.asn, geo=key.geo,
                     ua=key.ua, senders=key.senders, peak=key.peak, night=key.night,
                     weekend=key.weekend, start=at, digest_hour=key.digest_hour)  # fmt: skip
    new.last_used, new.busy = None, True
    _retire(world, key, at + grace)
    return new


@legit
def rotation_overlap(world: World) -> None:
    key = world.pick("transactional")
    if key is None:
        return
    at = world.when(4)
    new = _rotate(world, key, at)
    world.label(world.legit, "rotation_overlap", key, at, at + 2 * DAY, successor=new.id)


@legit
def rotation_straggler(world: World) -> None:
    """After the grace window one forgotten worker tries the old key, learns `key_rotated`
    and refreshes."""
    key = world.pick("transactional")
    if key is None:
        return
    at = world.when(4)
    _rotate(world, key, at)
    end = at + DAY
    for i in range(world.rng.randrange(1, 4)):
        world.add(world.event(key, end + 600 + i * 30, ip=key.ips[0], outcome="revoked",
                              status=401, code="key_rotated"))  # fmt: skip
    world.label(world.legit, "rotation_straggler", key, at, end + 2 * HOUR)


@legit
def migration_within_provider(world: World) -> None:
    key = world.pick("transactional", lambda k: not k.tenant.private)
    if key is None:
        return
    at = world.when(4)
    net = world.addresses.network(key.asn)
    world.at(at, lambda: setattr(key, "ips", [f"{net}.{i}" for i in (10, 11, 12)]))
    world.label(world.legit, "migration_within_provider", key, at, at + 2 * DAY)


@legit
def cloud_scale_out(world: World) -> None:
    key = world.pick("transactional", lambda k: not k.tenant.private)
    if key is None:
        return
    at = _busy_hour(world, key)
    nets = [world.addresses.network(key.asn) for _ in range(5)]

    def grow() -> None:
        key.extra_ips = [f"{n}.{i}" for n in nets for i in range(2, 8)]
        key.rate = 2.0

    def shrink() -> None:
        key.extra_ips, key.rate = [], 1.0

    world.at(at, grow)
    world.at(at + 6 * HOUR, shrink)
    world.label(world.legit, "cloud_scale_out", key, at, at + 6 * HOUR)


@legit
def declared_campaign_large(world: World) -> None:
    key = world.pick("marketing", lambda k: not k.quota)
    if key is None:
        return
    t = world.when(4)
    for e in campaign(world, key, t, batches=600):
        world.add(e)
    world.label(world.legit, "declared_campaign_large", key, t, t + 3 * HOUR)


@legit
def launch_growth(world: World) -> None:
    """Traffic grows 2.5x over two days after a launch, and stays."""
    key = world.pick("transactional")
    if key is None:
        return
    at = world.when(4, world.days - 3)
    for step in range(1, 7):
        world.at(at + step * 8 * HOUR, lambda s=step: setattr(key, "rate", 1 + 0.25 * s))
    world.label(world.legit, "launch_growth", key, at, world.end)


@legit
def office_renumbering(world: World) -> None:
    """The office gets a new /24 from its ISP; allowlisted dev keys are refused until an
    admin updates the allowlist three hours later."""
    tenants = [t for t in world.tenants if any(k.kind == "dev" and not k.busy for k in world.keys
                                               if k.tenant is t)]  # fmt: skip
    if not tenants:
        return
    tenant = world.rng.choice(tenants)
    devs = [k for k in world.keys if k.tenant is tenant and k.kind == "dev"]
    key = devs[0]
    at = world.at_local(key, world.rng.uniform(4, world.days - 1), 9)
    net = world.addresses.network(tenant.office[0])
    for dev in devs:
        dev.busy = True
        new_ip = f"{net}.{world.rng.randrange(2, 250)}"
        world.at(at, lambda d=dev, ip=new_ip: setattr(d, "ips", [ip]))
        if dev.allowlist:
            for i in range(6):
                world.add(world.event(dev, at + 600 + i * 1500, ip=new_ip, asn=tenant.office[0],
                                      geo=tenant.office[1], outcome="denied_ip",
                                      status=403))  # fmt: skip
        world.label(world.legit, "office_renumbering", dev, at, at + DAY)


@legit
def travel(world: World) -> None:
    """A person works from a hotel abroad for four days with their usual tools."""
    key = world.pick("dev")
    if key is None:
        return
    asn, geo = world.rng.choice(HOTELS)
    at = world.at_local(key, world.rng.uniform(5, world.days - 5), 8)
    ip = f"{world.addresses.network(asn)}.{world.rng.randrange(2, 250)}"
    saved = (key.ips, key.asn, key.geo, key.home)

    def leave() -> None:
        key.ips, key.asn, key.geo, key.home = [ip], asn, geo, None

    def back() -> None:
        key.ips, key.asn, key.geo, key.home = saved

    world.at(at, leave)
    world.at(at + 4 * DAY, back)
    world.label(world.legit, "travel", key, at, at + 4 * DAY, allowed="low")


@legit
def cron_deleted_key(world: World) -> None:
    """A key revoked on purpose; a forgotten cron job retries with it every ten minutes."""
    key = world.pick("transactional")
    if key is None:
        return
    at = world.when(4, world.days - 5)
    _retire(world, key, at)
    t = at + 300
    while t < at + 4 * DAY:
        world.add(world.event(key, t, ip=key.ips[0], outcome="revoked", status=401))
        t += 600
    world.label(world.legit, "cron_deleted_key", key, at, at + 4 * DAY, allowed="one")


@legit
def new_sender_known_client(world: World) -> None:
    key = world.pick("transactional")
    if key is None:
        return
    at = world.when(4)
    world.at(at, lambda: key.senders.append(f"newsletter@{key.tenant.domain}"))
    world.label(world.legit, "new_sender_known_client", key, at, at + DAY)


@legit
def client_upgrade(world: World) -> None:
    key = world.pick("transactional")
    if key is None:
        return
    at = world.when(4)
    family = key.ua.split("/")[0].split(" ")[0]
    world.at(at, lambda: setattr(key, "ua", f"{family}/9.1.0"))
    world.label(world.legit, "client_upgrade", key, at, at + DAY)


@legit
def new_key_same_tenant(world: World) -> None:
    owner = world.pick("transactional")
    if owner is None:
        return
    at = world.when(4)
    new = world._key(owner.tenant, "live", "transactional", ips=owner.ips, asn=owner.asn,
                     geo=owner.geo, ua=owner.ua, senders=[f"billing@{owner.tenant.domain}"],
                     peak=owner.peak, night=owner.night, start=at)  # fmt: skip
    new.last_used, new.busy = None, True
    world.label(world.legit, "new_key_same_tenant", new, at, at + 2 * DAY)


@legit
def second_provider_of_the_tenant(world: World) -> None:
    """An existing key starts running in the tenant's second region, where another of its
    live keys already runs."""
    key = world.pick(
        "transactional", lambda k: k.tenant.cloud2 is not None and k.asn == k.tenant.cloud[0]
    )
    if key is None:
        return
    at = world.when(4)
    ips = [f"{key.tenant.servers2}.{world.rng.randrange(2, 250)}" for _ in range(2)]

    def spread() -> None:
        key.ips = [*key.ips, *ips]
        key.ip_meta.update(dict.fromkeys(ips, key.tenant.cloud2))

    world.at(at, spread)
    world.label(world.legit, "second_provider_of_the_tenant", key, at, at + 2 * DAY)


@legit
def misconfigured_client_invalid(world: World) -> None:
    """A service with a typo in its key retries every two minutes for half a day."""
    key = world.pick("transactional")
    if key is None:
        return
    at = world.when(4)
    for i in range(360):
        world.add(world.event(None, at + i * 120, ip=key.ips[0], user_agent=key.ua))
    world.label(world.legit, "misconfigured_client_invalid", key, at, at + 12 * HOUR,
                ip=key.ips[0])  # fmt: skip


@legit
def wrong_sender_domain(world: World) -> None:
    """A deploy with a typo in the From domain: refused until the fix two hours later."""
    key = world.pick("transactional")
    if key is None:
        return
    at = world.when(4)
    typo = key.tenant.domain.replace(".example", "-mail.example")
    for i in range(50):
        world.add(world.event(key, at + i * 140, ip=key.ips[0], sender=f"info@{typo}",
                              outcome="denied_sender", status=403))  # fmt: skip
    world.label(world.legit, "wrong_sender_domain", key, at, at + 2 * HOUR)


@legit
def missing_scope(world: World) -> None:
    """A new dashboard widget calls one endpoint the key has no scope for, all day."""
    key = world.pick("transactional")
    if key is None:
        return
    at = world.when(4)
    for i in range(288):
        world.add(world.event(key, at + i * 300, ip=key.ips[0], method="GET", path="/v1/stats",
                              scope="stats:read", outcome="denied_scope", status=403,
                              recipients=None, recipient_domains=None, sender=None))  # fmt: skip
    world.label(world.legit, "missing_scope", key, at, at + DAY)


@legit
def holiday_lull(world: World) -> None:
    key = world.pick("transactional")
    if key is None:
        return
    at = world.when(4, world.days - 5)
    world.at(at, lambda: setattr(key, "rate", 0.05))
    world.at(at + 3 * DAY, lambda: setattr(key, "rate", 1.0))
    world.label(world.legit, "holiday_lull", key, at, at + 4 * DAY)


@legit
def dual_stack_ipv6(world: World) -> None:
    """The servers get IPv6 addresses in the same provider."""
    key = world.pick("transactional", lambda k: not k.tenant.private)
    if key is None:
        return
    at = world.when(4)
    prefix = f"2600:1f18:{world.rng.randrange(1, 0xFFFF):x}:{world.rng.randrange(1, 0xFFFF):x}"
    world.at(at, lambda: setattr(key, "extra_ips", [f"{prefix}::{i:x}" for i in range(1, 5)]))
    world.label(world.legit, "dual_stack_ipv6", key, at, at + 2 * DAY)


def _inherent(world: World) -> None:
    """Labels for what every key of a kind does anyway, and the background noise."""
    whole = (START, world.end)
    for key in world.keys:
        kinds = {"ci": ["ci_fresh_addresses"], "weekly": ["weekly_job"]}.get(key.kind, [])
        if key.kind == "marketing" and key.quota:
            kinds.append("quota_routine")
        if key.digest_hour is not None:
            kinds.append("nightly_digest")
        if key.kind == "dev" and key.home is not None:
            kinds.append("home_and_office")
        for kind in kinds:
            world.label(world.legit, kind, key, *whole)
    rng, t = world.rng, START
    while t < world.end:  # strangers on the internet: about twenty bad strings an hour
        ip = _random_ip(world)
        world.add(world.event(None, t, ip=ip))
        t += rng.expovariate(20 / HOUR)
    world.label(world.legit, "background_invalid_noise", None, *whole)
