"""The gate: one authorisation rule for every door that accepts a key.

HTTP routes, the verify endpoint for gateways, SMTP submission and the CLI all ask here::

    presented key → Verifier (memory first; a database lookup off the event loop)
                  → state, scope, IP allowlist, environment, owner (the Verifier's policy)
                  → the key's request rate (RateLimits)
                  → Allowed(key, rate) | Denied(outcome, key, rate)

The doors only translate the answer: into problem JSON, an SMTP reply or an exit code. What
a door records about the attempt (one usage event, with its own status) is its own business;
the last use of an allowed key is noted by the Verifier on the way through.

When a dependency fails (docs/operations.md): a key the cache holds is decided from memory
while the database is away (for at most the cache's TTL); a lookup that cannot reach the
database, and any use while the usage writer cannot take another event, is refused with
ConfigurationError (503, "try later") instead of being let through unrecorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import anyio.to_thread
from sqlalchemy.exc import DBAPIError, OperationalError

from keyguard.errors import ConfigurationError
from keyguard.policy import IPAddress
from keyguard.ratelimit import LimitDecision, RateLimits
from keyguard.verification.service import Allowed, Decision, Denied, Owner, Verifier

DATABASE_UNAVAILABLE = "database_unavailable"
USAGE_BACKLOG = "usage_backlog_full"


def _always() -> bool:
    return True


class Gate:
    def __init__(
        self,
        verifier: Verifier,
        limits: RateLimits,
        *,
        accepting: Callable[[], bool] = _always,
    ) -> None:
        self.verifier = verifier
        self.limits = limits
        # Whether a use may still be recorded (UsageWriter.accepting): a use that could not
        # leave its usage event is refused, never served unrecorded.
        self.accepting = accepting
        # Seconds each database lookup took; the HTTP app points it at its histogram.
        self.observe_lookup: Callable[[float], None] = _ignore

    async def admit(
        self,
        presented: str,
        *,
        scope: str | None,
        ip: IPAddress | str | None,
        env: str | None = None,
        owner: Owner | None = None,
        spend_rate: bool = True,
    ) -> Decision:
        """The decision for one use of `presented`, without blocking the event loop.

        `spend_rate=False` re-checks a key within a use already counted (SMTP: AUTH and DATA
        around the MAIL FROM that counts the message). Raises ConfigurationError when the rate
        cannot be checked and the deployment fails closed (Redis down): the door answers
        "try later", not "allowed".
        """
        if not self.accepting():
            raise _backlog()
        verifier = self.verifier
        decision = verifier.verify_from_memory(presented, scope=scope, ip=ip, env=env, owner=owner)
        if decision is None:
            started = time.perf_counter()
            lookup = partial(verifier.verify, presented, scope=scope, ip=ip, env=env, owner=owner)
            try:
                decision = await anyio.to_thread.run_sync(lookup)
            except (OperationalError, DBAPIError) as exc:
                raise _database_unavailable() from exc
            self.observe_lookup(time.perf_counter() - started)
        if isinstance(decision, Denied) or not spend_rate:
            return decision
        per_minute = self.limits.overrides.per_minute(
            decision.key.id, decision.key.restrictions.rate_limit_per_minute
        )
        if per_minute is None:
            return decision
        return _with_rate(decision, await self.limits.check_async(decision.key.id, per_minute))

    def admit_blocking(
        self,
        presented: str,
        *,
        scope: str | None,
        ip: IPAddress | str | None,
        env: str | None = None,
        owner: Owner | None = None,
    ) -> Decision:
        """`admit` for a caller without an event loop (the CLI)."""
        if not self.accepting():
            raise _backlog()
        try:
            decision = self.verifier.verify(presented, scope=scope, ip=ip, env=env, owner=owner)
        except (OperationalError, DBAPIError) as exc:
            raise _database_unavailable() from exc
        if isinstance(decision, Denied):
            return decision
        per_minute = self.limits.overrides.per_minute(
            decision.key.id, decision.key.restrictions.rate_limit_per_minute
        )
        if per_minute is None:
            return decision
        return _with_rate(decision, self.limits.check(decision.key.id, per_minute))


def _database_unavailable() -> ConfigurationError:
    return ConfigurationError(
        "the key store is unreachable; retry shortly", code=DATABASE_UNAVAILABLE
    )


def _backlog() -> ConfigurationError:
    return ConfigurationError(
        "usage events cannot be recorded right now; retry shortly", code=USAGE_BACKLOG
    )


def _with_rate(decision: Allowed, rate: LimitDecision) -> Decision:
    if rate.allowed:
        decision.rate = rate
        return decision
    return Denied("rate_limited", decision.key, rate=rate, previous_use=decision.previous_use)


def _ignore(_: float) -> None:
    return None
