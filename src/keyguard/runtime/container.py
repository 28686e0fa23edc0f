"""Runtime: every long-lived object of a process, built once from Settings."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import Clock, system_clock
from keyguard.fanout import Publisher, watch
from keyguard.incidents import (
    GitHubKeys,
    IncidentReports,
    IncidentService,
    LeakIntake,
    TenantResponse,
    from_file,
    from_url,
)
from keyguard.keys import PepperRing
from keyguard.lifecycle import KeyService
from keyguard.mail import MailService, enqueue_notice, parse_address
from keyguard.monitoring import AlertService, Detector, DetectorConfig, Responder
from keyguard.ratelimit import RateLimits, build_limits
from keyguard.review import ContactMail, ReviewDigest, ReviewPolicy, ReviewService
from keyguard.rotation import RotationService, Scheduler, Targets
from keyguard.runtime.notifications import AlertEvents, IncidentEvents
from keyguard.runtime.peppers import load_runtime_peppers
from keyguard.secrets import build_wrapper
from keyguard.settings import Settings
from keyguard.storage import make_engine, make_session_factory
from keyguard.usage import IpLocator, UsageHistory, UsageRetention, UsageWriter
from keyguard.users import NoticeSink, UserService
from keyguard.verification import ChangeFeed, Gate, SnapshotCache, Verifier
from keyguard.webhooks import Backoff, ExpiryScan, Notifier, WebhookDeliverer, WebhookService


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    peppers: PepperRing
    clock: Clock
    verifier: Verifier
    gate: Gate
    keys: KeyService
    usage: UsageWriter
    limits: RateLimits
    mail: MailService
    changes: ChangeFeed
    rotation: RotationService
    scheduler: Scheduler
    # Usage history (docs/usage.md): where addresses are, what was used, what is kept.
    locator: IpLocator | None
    history: UsageHistory
    retention: UsageRetention
    # Webhooks (keyguard.webhooks): endpoints and contacts, the delivery worker, key.expiring.
    webhooks: WebhookService
    deliveries: WebhookDeliverer
    expiry_scan: ExpiryScan
    # Online detection (docs/monitoring.md): the worker's process polls the detector.
    detector: Detector
    alerts: AlertService
    closed: bool = field(default=False)
    # The revocation fan-out (keyguard.fanout) when Redis is configured: every commit that
    # changes a key or a throttle is published; housekeeping follows the channel.
    publisher: Publisher | None = field(default=None)
    # Compromise response (docs/incidents.md): built after the services it uses.
    incidents: IncidentService = field(init=False)
    incident_reports: IncidentReports = field(init=False)
    tenant_response: TenantResponse = field(init=False)
    leaks: LeakIntake = field(init=False)
    github_keys: GitHubKeys | None = field(init=False)
    # Access review (docs/review.md) and its weekly digest to the security contacts.
    review: ReviewService = field(init=False)
    review_digest: ReviewDigest = field(init=False)
    users: UserService = field(init=False)  # people of the dashboard (docs/dashboard.md)

    @classmethod
    def build(
        cls,
        settings: Settings,
        clock: Clock = system_clock,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> Runtime:
        peppers = load_runtime_peppers(settings)
        engine = make_engine(settings.resolved_database_url)
        sessions = make_session_factory(engine)
        verifier = Verifier(
            sessions, peppers, clock, SnapshotCache(settings.cache_ttl_seconds, monotonic=monotonic)
        )
        # Key events go to the tenant's webhooks and, through the mail outbox, its contacts.
        parse_address(settings.security_mail_from, "security_mail_from")  # refused at start
        notices = functools.partial(enqueue_notice, sender=settings.security_mail_from)
        events = Notifier(notices)
        keys = KeyService(sessions, peppers, clock, on_change=verifier.invalidate, events=events)
        # The key wrapper is built on first use: processes that never touch a webhook secret
        # do not need the wrapping backend (Transit, KMS) reachable.
        webhooks = WebhookService(
            sessions, functools.cache(lambda: build_wrapper(settings.secrets)), clock
        )
        locator = IpLocator.open(settings.geoip_db, settings.asn_db)
        raw_retention = timedelta(days=settings.usage_retention_days)
        usage = UsageWriter(
            sessions,
            flush_interval=settings.usage_flush_seconds,
            max_queue=settings.usage_queue_limit,
            locator=locator,
        )
        limits = build_limits(
            clock, redis_url=settings.redis_url, fail_open=settings.redis_fail_open
        )
        mail = MailService(sessions, clock)
        changes = ChangeFeed(sessions, verifier.invalidate)
        rotation = RotationService(
            sessions, keys, peppers, clock, Targets.from_settings(settings.secrets)
        )
        scheduler = Scheduler(rotation, sessions, clock)
        responder = Responder(sessions, clock, keys)
        runtime = cls(
            settings,
            engine,
            sessions,
            peppers,
            clock,
            verifier,
            Gate(verifier, limits, accepting=usage.accepting),
            keys,
            usage,
            limits,
            mail,
            changes,
            rotation,
            scheduler,
            locator=locator,
            history=UsageHistory(sessions, clock, raw_retention=raw_retention),
            retention=UsageRetention(
                sessions,
                clock,
                raw_retention=raw_retention,
                rollup_retention=timedelta(days=settings.usage_rollup_retention_days),
            ),
            webhooks=webhooks,
            deliveries=WebhookDeliverer(
                sessions,
                webhooks,
                clock,
                backoff=Backoff(
                    max_attempts=settings.webhook_max_attempts,
                    max_age=timedelta(hours=settings.webhook_max_age_hours),
                ),
                timeout=settings.webhook_timeout_seconds,
            ),
            expiry_scan=ExpiryScan(
                sessions, clock, days=settings.webhook_expiring_days, events=events
            ),
            detector=Detector(
                sessions,
                clock,
                responder,
                config=DetectorConfig(lease=timedelta(seconds=settings.detector_lease_seconds)),
            ),
            alerts=AlertService(sessions, clock, responder),
        )
        if settings.redis_url:
            runtime.publisher = Publisher(settings.redis_url, settings.fanout_channel)
            watch(sessions, runtime.publisher.publish)
        runtime.detector.notifier = AlertEvents(events)
        runtime.incidents = IncidentService(
            sessions, keys, rotation, clock, notifier=IncidentEvents(events, sessions, clock)
        )
        runtime.incident_reports = IncidentReports(sessions, clock)
        runtime.tenant_response = TenantResponse(sessions, keys, rotation, clock)
        runtime.leaks = LeakIntake(keys, runtime.incidents)
        runtime.github_keys = _github_keys(settings, clock)
        runtime.review = ReviewService(sessions, keys, rotation, clock, _review_policy(settings))
        runtime.review_digest = ReviewDigest(
            sessions, runtime.review, clock, ContactMail(webhooks, notices)
        )
        runtime.users = _users(settings, runtime, notices)
        return runtime

    def reload_throttles(self) -> None:
        """Read the live throttles again (keyguard.ratelimit.overrides)."""
        self.limits.overrides.load(self.sessions)

    def flush_last_used(self) -> None:
        """Write the last-used times (and pending re-hashes) verification noted in memory."""
        self.verifier.last_used.flush(self.sessions)

    def close(self) -> None:
        """Flush what is batched in memory, then release connections."""
        if self.closed:
            return
        self.usage.close()
        self.flush_last_used()
        self.limits.backend.close()
        if self.publisher is not None:
            self.publisher.close()
        if self.locator is not None:
            self.locator.close()
        self.engine.dispose()
        self.closed = True


def _review_policy(settings: Settings) -> ReviewPolicy:
    return ReviewPolicy(
        unused_days=settings.review_unused_days,
        rotation_days=settings.review_rotation_days,
        expiring_days=settings.review_expiring_days,
        ci_asns=frozenset(settings.review_ci_asns),
    )


def _users(settings: Settings, runtime: Runtime, notices: NoticeSink) -> UserService:
    wrapper = functools.cache(lambda: build_wrapper(settings.secrets))  # TOTP seeds, sealed
    return UserService(runtime.sessions, runtime.clock, runtime.limits, wrapper, notices=notices)


def _github_keys(settings: Settings, clock: Clock) -> GitHubKeys | None:
    """GitHub's secret scanning keys, when leak intake from GitHub is configured."""
    if settings.github_keys_file is not None:
        return GitHubKeys(from_file(settings.github_keys_file), clock)
    if settings.github_keys_url is not None:
        return GitHubKeys(from_url(settings.github_keys_url), clock)
    return None
