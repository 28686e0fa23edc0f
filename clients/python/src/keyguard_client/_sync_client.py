"""Keyguard, the synchronous client, and its resources.

Written by scripts/unasync.py from `_async_client.py`: do not edit; edit that file and run
the script (a test fails when the two differ).
"""

from __future__ import annotations

import random as _random
from collections.abc import Iterator, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self, TypeVar, Unpack, overload

import httpx
from pydantic import SecretStr

from keyguard_client import _operations as ops
from keyguard_client._base import (
    DEFAULT_TIMEOUT,
    USER_AGENT,
    PageFetch,
    Sleep,
    sync_blocking,
    sync_sleep,
    body_of,
    model_of,
    new_idempotency_key,
    page_of,
    query,
    resolve_base_url,
    resolve_key,
)
from keyguard_client._operations import calls
from keyguard_client.credentials import DEFAULT_MAX_AGE, ClientKey, load_key
from keyguard_client.errors import KeyRotated, TransportError, error_for
from keyguard_client.models import (
    Alert,
    AuditEvent,
    Campaign,
    CampaignChanges,
    Contact,
    ContactChanges,
    ContactList,
    CreatedKey,
    CreatedWebhook,
    FoundKey,
    GitHubLabel,
    Health,
    ImportResult,
    Incident,
    IncidentReport,
    Key,
    LeakReport,
    ListChanges,
    MembersAdded,
    Message,
    MessageEvents,
    OpenedIncident,
    Page,
    Readiness,
    Received,
    Restrictions,
    Review,
    ReviewApplied,
    SandboxMessage,
    SendResult,
    SentMessage,
    SentMessageDetail,
    Suppression,
    Template,
    TemplateChanges,
    TenantWideResult,
    UsageEvent,
    UsageSeries,
    UsageSources,
    Verification,
    Webhook,
    WebhookDelivery,
)
from keyguard_client.retries import Retries, is_safe

T = TypeVar("T")
Json = dict[str, Any]


class Keyguard:
    """A Keyguard API client: `client.mail.send({...})`, `client.keys.list()`, …

    The key is `key` (text, or a `ClientKey` from `load_key`), else KEYGUARD_API_KEY, else the
    source in KEYGUARD_API_KEY_SOURCE; the server is `base_url`, else KEYGUARD_BASE_URL, else
    http://127.0.0.1:8080. Every request has a timeout; failures are retried as `Retries`
    says; a `key_rotated` answer makes the client read its key's source again and retry once.
    `transport` is httpx's, for tests (`httpx.MockTransport`); `sleep` and `random` are
    injectable so that tests never wait.
    """

    def __init__(
        self,
        key: str | ClientKey | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: Retries = Retries(),  # noqa: B008 - frozen dataclass, safe to share
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Sleep | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._key = resolve_key(key)
        self.base_url = resolve_base_url(base_url)
        self.retries = retries
        self._sleep = sleep or sync_sleep
        self._random = random
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
        )
        self.keys = Keys(self)
        self.audit = Audit(self)
        self.usage = Usage(self)
        self.alerts = Alerts(self)
        self.mail = Mail(self)
        self.messages = Messages(self)
        self.sandbox = Sandbox(self)
        self.contacts = Contacts(self)
        self.lists = Lists(self)
        self.templates = Templates(self)
        self.campaigns = Campaigns(self)
        self.suppressions = Suppressions(self)
        self.incidents = Incidents(self)
        self.leaks = Leaks(self)
        self.webhooks = Webhooks(self)
        self.reports = Reports(self)
        self.review = Reviews(self)

    @classmethod
    def from_env(
        cls,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: Retries = Retries(),  # noqa: B008 - frozen dataclass, safe to share
        transport: httpx.BaseTransport | None = None,
    ) -> Self:
        """KEYGUARD_API_KEY (or KEYGUARD_API_KEY_SOURCE) and KEYGUARD_BASE_URL."""
        return cls(timeout=timeout, retries=retries, transport=transport)

    @classmethod
    def from_source(
        cls,
        source: str,
        *,
        base_url: str | None = None,
        max_age: timedelta | None = DEFAULT_MAX_AGE,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: Retries = Retries(),  # noqa: B008 - frozen dataclass, safe to share
        transport: httpx.BaseTransport | None = None,
    ) -> Self:
        """A client whose key is read from `source` (env:, file:, openbao:, aws:) and re-read
        after a rotation; see `keyguard_client.credentials`."""
        key = load_key(source, max_age=max_age)
        return cls(key, base_url=base_url, timeout=timeout, retries=retries, transport=transport)

    @property
    def key_source(self) -> str:
        """Where the key came from (never the key)."""
        return self._key.source

    @calls(ops.HEALTH_GET)
    def health(self) -> Health:
        """Liveness: the server answers."""
        return model_of(self._request(ops.HEALTH_GET), Health)

    @calls(ops.READINESS_GET)
    def ready(self) -> Readiness:
        """Readiness; raises ServiceUnavailable when a backend is down."""
        return model_of(self._request(ops.READINESS_GET), Readiness)

    @calls(ops.METRICS_GET)
    def metrics(self) -> str:
        """The Prometheus text exposition."""
        return (self._request(ops.METRICS_GET)).text

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, key={self._key!r})"

    def _request(
        self,
        operation: ops.Operation,
        *,
        path: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One API call, with its retries and at most one key refresh."""
        request_headers = httpx.Headers(headers or {})
        safe = is_safe(operation.method, request_headers)
        url = operation.url(**(path or {}))
        attempt, refreshed = 0, False
        while True:
            request_headers["Authorization"] = self._authorization()
            try:
                response = self._http.request(
                    operation.method,
                    url,
                    params=params,
                    json=json,
                    content=content,
                    headers=request_headers,
                )
            except httpx.TransportError as exc:
                delay = self.retries.after_failure(attempt, exc, safe=safe, random=self._random)
                if delay is None:
                    raise TransportError(
                        f"{operation.method} {operation.path} got no answer: {type(exc).__name__}"
                    ) from exc
                self._sleep(delay)
                attempt += 1
                continue
            if response.is_success:
                return response
            error = error_for(response)
            if isinstance(error, KeyRotated) and not refreshed:
                refreshed = True
                if sync_blocking(self._key.refresh):
                    continue  # the source holds the successor: the same request with it
                raise error
            delay = self.retries.after_answer(attempt, response, safe=safe, random=self._random)
            if delay is None:
                raise error
            self._sleep(delay)
            attempt += 1

    def _authorization(self) -> str:
        if self._key.due():
            sync_blocking(self._key.reveal)  # may read a vault: not on the event loop
        return f"Bearer {self._key.reveal()}"


def _iterate(fetch: PageFetch[T]) -> Iterator[T]:
    """Every item of every page, fetching the next page when the previous one is used up."""

    def items() -> Iterator[T]:
        cursor: str | None = None
        while True:
            page = fetch(cursor)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    return items()


class _Resource:
    def __init__(self, client: Keyguard) -> None:
        self._client = client


class Keys(_Resource):
    """/v1/keys: the lifecycle (keys:read, keys:write) and verification (keys:verify)."""

    @calls(ops.KEYS_CREATE)
    def create(
        self,
        *,
        scopes: Sequence[str],
        env: str | None = None,
        name: str | None = None,
        expires_in: str | None = None,
        restrictions: Restrictions | Mapping[str, Any] | None = None,
    ) -> CreatedKey:
        """A new key within the caller's powers; its text is in this answer only."""
        body: Json = {"scopes": [*scopes]}
        optional = {"env": env, "name": name, "expires_in": expires_in}
        body.update({k: v for k, v in optional.items() if v is not None})
        if restrictions is not None:
            body["restrictions"] = body_of(restrictions)
        return model_of(self._client._request(ops.KEYS_CREATE, json=body), CreatedKey)

    @calls(ops.KEYS_LIST)
    def page(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Key]:
        response = self._client._request(ops.KEYS_LIST, params=query(limit=limit, cursor=cursor))
        return page_of(response, Key, "keys", "next_cursor")

    @calls(ops.KEYS_LIST)
    def list(self, *, limit: int | None = None) -> Iterator[Key]:
        """Every key of the caller's tenant and environment, oldest first."""
        return _iterate(lambda cursor: self.page(limit=limit, cursor=cursor))

    @calls(ops.KEYS_GET)
    def get(self, key_id: str) -> Key:
        response = self._client._request(ops.KEYS_GET, path={"key_id": key_id})
        return model_of(response, Key)

    @calls(ops.KEYS_ROTATE)
    def rotate(self, key_id: str, *, grace: str | None = None) -> CreatedKey:
        """A successor (its text in this answer only); the old key works for `grace` (24h)."""
        body = {"grace": grace} if grace is not None else {}
        response = self._client._request(ops.KEYS_ROTATE, path={"key_id": key_id}, json=body)
        return model_of(response, CreatedKey)

    @calls(ops.KEYS_REVOKE)
    def revoke(self, key_id: str, *, reason: str | None = None) -> Key:
        return self._change(ops.KEYS_REVOKE, key_id, {"reason": reason})

    @calls(ops.KEYS_SUSPEND)
    def suspend(self, key_id: str, *, reason: str | None = None) -> Key:
        return self._change(ops.KEYS_SUSPEND, key_id, {"reason": reason})

    @calls(ops.KEYS_RESUME)
    def resume(self, key_id: str) -> Key:
        return self._change(ops.KEYS_RESUME, key_id, None)

    @calls(ops.KEYS_VERIFY)
    def verify(
        self,
        key: str,
        *,
        scope: str | None = None,
        ip: str | None = None,
        env: str | None = None,
    ) -> Verification:
        """May `key` (presented by a client of yours) do `scope` from `ip`? Needs keys:verify."""
        body: Json = {"key": key}
        body.update({k: v for k, v in {"scope": scope, "ip": ip, "env": env}.items() if v})
        return model_of(self._client._request(ops.KEYS_VERIFY, json=body), Verification)

    @calls(ops.KEYS_USAGE)
    def usage(
        self,
        key_id: str,
        *,
        from_: datetime | None = None,
        to: datetime | None = None,
        bucket: str | None = None,
    ) -> UsageSeries:
        """The key's requests by outcome, recipients and distinct networks per `bucket` (hour
        or day) over [from_, to); default: the last 7 days by day. Needs stats:read."""
        params = query(**{"from": from_, "to": to, "bucket": bucket})
        response = self._client._request(ops.KEYS_USAGE, path={"key_id": key_id}, params=params)
        return model_of(response, UsageSeries)

    @calls(ops.KEYS_USAGE_SOURCES)
    def usage_sources(
        self, key_id: str, *, from_: datetime | None = None, to: datetime | None = None
    ) -> UsageSources:
        """The networks, countries, ASNs, user agents and endpoints the key was used from, with
        first and last seen; default: the server's whole raw retention. Needs stats:read."""
        response = self._client._request(
            ops.KEYS_USAGE_SOURCES,
            path={"key_id": key_id},
            params=query(**{"from": from_, "to": to}),
        )
        return model_of(response, UsageSources)

    @calls(ops.TENANT_KEYS_REVOKE)
    def revoke_matching(
        self,
        *,
        all_keys: bool = False,
        env: str | None = None,
        created_before: datetime | None = None,
        scope: str | None = None,
        reason: str | None = None,
        dry_run: bool = True,
    ) -> TenantWideResult:
        """Revoke every key of the caller's tenant (and environment) that all the filters given
        match, or `all_keys`, in one transaction. By default a dry run: the keys it would
        revoke, refusals included, and nothing changed; pass `dry_run=False` to revoke."""
        body = _matching(all_keys, env, created_before, scope, dry_run)
        if reason is not None:
            body["reason"] = reason
        response = self._client._request(ops.TENANT_KEYS_REVOKE, json=body)
        return model_of(response, TenantWideResult)

    @calls(ops.TENANT_KEYS_ROTATE)
    def rotate_matching(
        self,
        *,
        all_keys: bool = False,
        env: str | None = None,
        created_before: datetime | None = None,
        scope: str | None = None,
        grace: str | None = None,
        dry_run: bool = True,
    ) -> TenantWideResult:
        """Rotate every active key the filters match, each as it was issued: into its vault,
        or with its successor in this answer only (`successor_key`). By default a dry run."""
        body = _matching(all_keys, env, created_before, scope, dry_run)
        if grace is not None:
            body["grace"] = grace
        response = self._client._request(ops.TENANT_KEYS_ROTATE, json=body)
        return model_of(response, TenantWideResult)

    def _change(self, operation: ops.Operation, key_id: str, body: Json | None) -> Key:
        response = self._client._request(operation, path={"key_id": key_id}, json=body)
        return model_of(response, Key)


def _matching(
    all_keys: bool,
    env: str | None,
    created_before: datetime | None,
    scope: str | None,
    dry_run: bool,
) -> Json:
    """The body of a tenant-wide response: `all`, the filters given, and `dry_run`."""
    if created_before is not None and created_before.tzinfo is None:
        created_before = created_before.replace(tzinfo=UTC)  # naive times are UTC
    body: Json = {"all": all_keys, "dry_run": dry_run}
    body.update(query(env=env, created_before=created_before, scope=scope))
    return body


class Audit(_Resource):
    """/v1/audit: the hash-chained audit events of the caller's tenant, newest first."""

    @calls(ops.AUDIT_LIST)
    def page(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[AuditEvent]:
        params = query(
            limit=limit,
            cursor=cursor,
            action=action,
            actor=actor,
            target=target,
            since=since,
            until=until,
        )
        response = self._client._request(ops.AUDIT_LIST, params=params)
        return page_of(response, AuditEvent, "events", "next_cursor")

    @calls(ops.AUDIT_LIST)
    def list(
        self,
        *,
        limit: int | None = None,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[AuditEvent]:
        return _iterate(
            lambda cursor: self.page(
                limit=limit,
                cursor=cursor,
                action=action,
                actor=actor,
                target=target,
                since=since,
                until=until,
            )
        )


class Reviews(_Resource):
    """/v1/review (keys:read) and /v1/review/{id}/apply (keys:write): the access review of
    the caller's tenant and environment, and applying one finding as a rotation with grace."""

    @overload
    def get(self, format: Literal["json"] = "json") -> Review: ...
    @overload
    def get(self, format: Literal["md", "text"]) -> str: ...

    @calls(ops.REVIEW_GET)
    def get(self, format: Literal["json", "md", "text"] = "json") -> Review | str:
        """The findings (a `Review`), or with `format` its Markdown or text rendering."""
        response = self._client._request(ops.REVIEW_GET, params={"format": format})
        return model_of(response, Review) if format == "json" else response.text

    @calls(ops.REVIEW_APPLY)
    def apply(
        self, finding_id: str, *, confirm: bool = False, grace: str | None = None
    ) -> ReviewApplied:
        """Apply one finding: its successor carries the proposal (shown once, unless it went
        into a vault) and the old key works for `grace` (24h); `confirm` for a revocation."""
        body: Json = {"confirm": confirm}
        if grace is not None:
            body["grace"] = grace
        response = self._client._request(
            ops.REVIEW_APPLY, path={"finding_id": finding_id}, json=body
        )
        return model_of(response, ReviewApplied)


class Usage(_Resource):
    """/v1/usage/events (stats:read): raw usage events of the caller's tenant and environment,
    newest first; `ip` is an address or a CIDR, `from_` inclusive, `to` exclusive."""

    @calls(ops.USAGE_EVENTS_LIST)
    def events_page(
        self,
        *,
        key_id: str | None = None,
        outcome: str | None = None,
        ip: str | None = None,
        from_: datetime | None = None,
        to: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[UsageEvent]:
        params = query(
            key_id=key_id,
            outcome=outcome,
            ip=ip,
            limit=limit,
            cursor=cursor,
            **{"from": from_, "to": to},
        )
        response = self._client._request(ops.USAGE_EVENTS_LIST, params=params)
        return page_of(response, UsageEvent, "events", "next_cursor")

    @calls(ops.USAGE_EVENTS_LIST)
    def events(
        self,
        *,
        key_id: str | None = None,
        outcome: str | None = None,
        ip: str | None = None,
        from_: datetime | None = None,
        to: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[UsageEvent]:
        return _iterate(
            lambda cursor: self.events_page(
                key_id=key_id,
                outcome=outcome,
                ip=ip,
                from_=from_,
                to=to,
                limit=limit,
                cursor=cursor,
            )
        )


class Alerts(_Resource):
    """/v1/alerts: what the online detector raised about the keys of the caller's tenant and
    environment, newest first (alerts:read), and a person's answer to it (alerts:write); an
    answer the alert's state does not allow raises Conflict. docs/monitoring.md."""

    @calls(ops.ALERTS_LIST)
    def page(
        self,
        *,
        key_id: str | None = None,
        rule: str | None = None,
        severity: str | None = None,
        state: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Alert]:
        params = query(
            key_id=key_id, rule=rule, severity=severity, state=state, limit=limit, cursor=cursor
        )
        response = self._client._request(ops.ALERTS_LIST, params=params)
        return page_of(response, Alert, "alerts", "next_cursor")

    @calls(ops.ALERTS_LIST)
    def list(
        self,
        *,
        key_id: str | None = None,
        rule: str | None = None,
        severity: str | None = None,
        state: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Alert]:
        """Every alert the filters given match: `severity` info, low, medium, high or
        critical; `state` open, acknowledged, resolved or false_positive."""
        return _iterate(
            lambda cursor: self.page(
                key_id=key_id,
                rule=rule,
                severity=severity,
                state=state,
                limit=limit,
                cursor=cursor,
            )
        )

    @calls(ops.ALERTS_GET)
    def get(self, alert_id: int) -> Alert:
        response = self._client._request(ops.ALERTS_GET, path={"alert_id": str(alert_id)})
        return model_of(response, Alert)

    @calls(ops.ALERTS_ACK)
    def ack(self, alert_id: int) -> Alert:
        """Acknowledge an open alert: someone is looking."""
        return self._change(ops.ALERTS_ACK, alert_id)

    @calls(ops.ALERTS_RESOLVE)
    def resolve(self, alert_id: int) -> Alert:
        """Resolve an open or acknowledged alert."""
        return self._change(ops.ALERTS_RESOLVE, alert_id)

    @calls(ops.ALERTS_FALSE_POSITIVE)
    def false_positive(self, alert_id: int) -> Alert:
        """Mark it a false positive: the detector learns what its event came from into the
        key's and the tenant's baseline."""
        return self._change(ops.ALERTS_FALSE_POSITIVE, alert_id)

    @calls(ops.ALERTS_UNDO)
    def undo(self, alert_id: int) -> Alert:
        """Lift the throttle or quarantine the alert caused; a revocation cannot be undone,
        and an alert that did neither raises Conflict."""
        return self._change(ops.ALERTS_UNDO, alert_id)

    def _change(self, operation: ops.Operation, alert_id: int) -> Alert:
        response = self._client._request(operation, path={"alert_id": str(alert_id)})
        return model_of(response, Alert)


class Mail(_Resource):
    """POST /v1/mail/send (mail:send). Every send carries an Idempotency-Key, made here when
    not given, so that a retry after a lost answer never sends the mail twice."""

    @calls(ops.MAIL_SEND)
    def send(
        self, message: Message | Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> SendResult:
        """Queue one message: a `Message`, or a dict of the sending shape (`"from"`, `"to"`…)."""
        return self._send(body_of(message), idempotency_key)

    @calls(ops.MAIL_SEND)
    def send_batch(
        self,
        messages: Sequence[Message | Mapping[str, Any]],
        *,
        partial: bool = False,
        idempotency_key: str | None = None,
    ) -> SendResult:
        """Queue up to 1,000 messages: all or none, or with `partial` each on its own."""
        body: Json = {"messages": [body_of(m) for m in messages]}
        if partial:
            body["partial"] = True
        return self._send(body, idempotency_key)

    def _send(self, body: Json, idempotency_key: str | None) -> SendResult:
        headers = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
        response = self._client._request(ops.MAIL_SEND, json=body, headers=headers)
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        return model_of(response, SendResult, replayed=replayed)


class Messages(_Resource):
    """/v1/mail/messages (stats:read): what was sent, newest first, and its delivery events."""

    @calls(ops.MESSAGES_LIST)
    def page(
        self, *, status: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[SentMessage]:
        params = query(status=status, limit=limit, after=cursor)
        response = self._client._request(ops.MESSAGES_LIST, params=params)
        return page_of(response, SentMessage, "data", "next")

    @calls(ops.MESSAGES_LIST)
    def list(self, *, status: str | None = None, limit: int | None = None) -> Iterator[SentMessage]:
        return _iterate(lambda cursor: self.page(status=status, limit=limit, cursor=cursor))

    @calls(ops.MESSAGES_GET)
    def get(self, message_id: str) -> SentMessageDetail:
        response = self._client._request(ops.MESSAGES_GET, path={"message_id": message_id})
        return model_of(response, SentMessageDetail)

    @calls(ops.MESSAGES_EVENTS)
    def events(self, message_id: str) -> MessageEvents:
        response = self._client._request(ops.MESSAGES_EVENTS, path={"message_id": message_id})
        return model_of(response, MessageEvents)


class Sandbox(_Resource):
    """/v1/sandbox/messages (sandbox:read): mail of test and dev keys, captured."""

    @calls(ops.SANDBOX_LIST)
    def page(self, *, limit: int | None = None, cursor: str | None = None) -> Page[SentMessage]:
        params = query(limit=limit, after=cursor)
        response = self._client._request(ops.SANDBOX_LIST, params=params)
        return page_of(response, SentMessage, "data", "next")

    @calls(ops.SANDBOX_LIST)
    def list(self, *, limit: int | None = None) -> Iterator[SentMessage]:
        return _iterate(lambda cursor: self.page(limit=limit, cursor=cursor))

    @calls(ops.SANDBOX_GET)
    def get(self, message_id: str) -> SandboxMessage:
        response = self._client._request(ops.SANDBOX_GET, path={"message_id": message_id})
        return model_of(response, SandboxMessage)


class Contacts(_Resource):
    """/v1/contacts (contacts:read, contacts:write)."""

    @calls(ops.CONTACTS_LIST)
    def page(
        self, *, limit: int | None = None, cursor: str | None = None, email: str | None = None
    ) -> Page[Contact]:
        params = query(limit=limit, after=cursor, email=email)
        response = self._client._request(ops.CONTACTS_LIST, params=params)
        return page_of(response, Contact, "data", "next")

    @calls(ops.CONTACTS_LIST)
    def list(self, *, limit: int | None = None, email: str | None = None) -> Iterator[Contact]:
        return _iterate(lambda cursor: self.page(limit=limit, cursor=cursor, email=email))

    @calls(ops.CONTACTS_CREATE)
    def create(
        self,
        email: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Contact:
        body: Json = {"email": email, "attributes": dict(attributes or {})}
        body.update(
            {k: v for k, v in {"first_name": first_name, "last_name": last_name}.items() if v}
        )
        return model_of(self._client._request(ops.CONTACTS_CREATE, json=body), Contact)

    @calls(ops.CONTACTS_IMPORT)
    def import_csv(self, data: bytes | str, *, list_id: str | None = None) -> ImportResult:
        """CSV with a header row and an `email` column; bad rows come back with their line."""
        content = data.encode() if isinstance(data, str) else data
        response = self._client._request(
            ops.CONTACTS_IMPORT,
            params=query(list_id=list_id),
            content=content,
            headers={"Content-Type": "text/csv"},
        )
        return model_of(response, ImportResult)

    @calls(ops.CONTACTS_GET)
    def get(self, contact_id: str) -> Contact:
        response = self._client._request(ops.CONTACTS_GET, path={"contact_id": contact_id})
        return model_of(response, Contact)

    @calls(ops.CONTACTS_UPDATE)
    def update(self, contact_id: str, **changes: Unpack[ContactChanges]) -> Contact:
        response = self._client._request(
            ops.CONTACTS_UPDATE, path={"contact_id": contact_id}, json=dict(changes)
        )
        return model_of(response, Contact)

    @calls(ops.CONTACTS_DELETE)
    def delete(self, contact_id: str) -> None:
        self._client._request(ops.CONTACTS_DELETE, path={"contact_id": contact_id})


class Lists(_Resource):
    """/v1/lists and their members (lists:read, lists:write)."""

    @calls(ops.LISTS_LIST)
    def page(self, *, limit: int | None = None, cursor: str | None = None) -> Page[ContactList]:
        params = query(limit=limit, after=cursor)
        response = self._client._request(ops.LISTS_LIST, params=params)
        return page_of(response, ContactList, "data", "next")

    @calls(ops.LISTS_LIST)
    def list(self, *, limit: int | None = None) -> Iterator[ContactList]:
        return _iterate(lambda cursor: self.page(limit=limit, cursor=cursor))

    @calls(ops.LISTS_CREATE)
    def create(self, name: str, *, description: str | None = None) -> ContactList:
        body: Json = {"name": name}
        if description is not None:
            body["description"] = description
        return model_of(self._client._request(ops.LISTS_CREATE, json=body), ContactList)

    @calls(ops.LISTS_GET)
    def get(self, list_id: str) -> ContactList:
        response = self._client._request(ops.LISTS_GET, path={"list_id": list_id})
        return model_of(response, ContactList)

    @calls(ops.LISTS_UPDATE)
    def update(self, list_id: str, **changes: Unpack[ListChanges]) -> ContactList:
        response = self._client._request(
            ops.LISTS_UPDATE, path={"list_id": list_id}, json=dict(changes)
        )
        return model_of(response, ContactList)

    @calls(ops.LISTS_DELETE)
    def delete(self, list_id: str) -> None:
        self._client._request(ops.LISTS_DELETE, path={"list_id": list_id})

    @calls(ops.LISTS_MEMBERS_LIST)
    def members_page(
        self, list_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Contact]:
        response = self._client._request(
            ops.LISTS_MEMBERS_LIST,
            path={"list_id": list_id},
            params=query(limit=limit, after=cursor),
        )
        return page_of(response, Contact, "data", "next")

    @calls(ops.LISTS_MEMBERS_LIST)
    def members(self, list_id: str, *, limit: int | None = None) -> Iterator[Contact]:
        return _iterate(lambda cursor: self.members_page(list_id, limit=limit, cursor=cursor))

    @calls(ops.LISTS_MEMBERS_ADD)
    def add_members(
        self, list_id: str, *, contact_ids: Sequence[str] = (), emails: Sequence[str] = ()
    ) -> MembersAdded:
        """Add existing contacts, by id or by email."""
        body = {"contact_ids": [*contact_ids], "emails": [*emails]}
        response = self._client._request(
            ops.LISTS_MEMBERS_ADD, path={"list_id": list_id}, json=body
        )
        return model_of(response, MembersAdded)

    @calls(ops.LISTS_MEMBERS_REMOVE)
    def remove_member(self, list_id: str, contact_id: str) -> None:
        self._client._request(
            ops.LISTS_MEMBERS_REMOVE, path={"list_id": list_id, "contact_id": contact_id}
        )


class Templates(_Resource):
    """/v1/templates (templates:read, templates:write); `ref` is an id or a name."""

    @calls(ops.TEMPLATES_LIST)
    def page(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Template]:
        params = query(limit=limit, after=cursor)
        response = self._client._request(ops.TEMPLATES_LIST, params=params)
        return page_of(response, Template, "data", "next")

    @calls(ops.TEMPLATES_LIST)
    def list(self, *, limit: int | None = None) -> Iterator[Template]:
        return _iterate(lambda cursor: self.page(limit=limit, cursor=cursor))

    @calls(ops.TEMPLATES_CREATE)
    def create(
        self, name: str, *, subject: str, text: str | None = None, html: str | None = None
    ) -> Template:
        """Subject, text and/or HTML with `{{ variables }}`; names are unique per environment."""
        body: Json = {"name": name, "subject": subject}
        body.update({k: v for k, v in {"text": text, "html": html}.items() if v is not None})
        return model_of(self._client._request(ops.TEMPLATES_CREATE, json=body), Template)

    @calls(ops.TEMPLATES_GET)
    def get(self, ref: str) -> Template:
        return model_of(self._client._request(ops.TEMPLATES_GET, path={"ref": ref}), Template)

    @calls(ops.TEMPLATES_UPDATE)
    def update(self, ref: str, **changes: Unpack[TemplateChanges]) -> Template:
        response = self._client._request(
            ops.TEMPLATES_UPDATE, path={"ref": ref}, json=dict(changes)
        )
        return model_of(response, Template)

    @calls(ops.TEMPLATES_DELETE)
    def delete(self, ref: str) -> None:
        self._client._request(ops.TEMPLATES_DELETE, path={"ref": ref})


class Campaigns(_Resource):
    """/v1/campaigns (campaigns:read, campaigns:write, campaigns:send)."""

    @calls(ops.CAMPAIGNS_LIST)
    def page(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Campaign]:
        params = query(limit=limit, after=cursor)
        response = self._client._request(ops.CAMPAIGNS_LIST, params=params)
        return page_of(response, Campaign, "data", "next")

    @calls(ops.CAMPAIGNS_LIST)
    def list(self, *, limit: int | None = None) -> Iterator[Campaign]:
        return _iterate(lambda cursor: self.page(limit=limit, cursor=cursor))

    @calls(ops.CAMPAIGNS_CREATE)
    def create(self, name: str, *, template: str, list_id: str, sender: str) -> Campaign:
        """A draft: a template (id or name), a list and a sender."""
        body = {"name": name, "template": template, "list_id": list_id, "from": sender}
        return model_of(self._client._request(ops.CAMPAIGNS_CREATE, json=body), Campaign)

    @calls(ops.CAMPAIGNS_GET)
    def get(self, campaign_id: str) -> Campaign:
        response = self._client._request(ops.CAMPAIGNS_GET, path={"campaign_id": campaign_id})
        return model_of(response, Campaign)

    @calls(ops.CAMPAIGNS_UPDATE)
    def update(self, campaign_id: str, **changes: Unpack[CampaignChanges]) -> Campaign:
        body: Json = {("from" if k == "sender" else k): v for k, v in changes.items()}
        response = self._client._request(
            ops.CAMPAIGNS_UPDATE, path={"campaign_id": campaign_id}, json=body
        )
        return model_of(response, Campaign)

    @calls(ops.CAMPAIGNS_DELETE)
    def delete(self, campaign_id: str) -> None:
        self._client._request(ops.CAMPAIGNS_DELETE, path={"campaign_id": campaign_id})

    @calls(ops.CAMPAIGNS_SEND)
    def send(self, campaign_id: str) -> Campaign:
        """Queue the campaign to its list, once; all or nothing."""
        response = self._client._request(ops.CAMPAIGNS_SEND, path={"campaign_id": campaign_id})
        return model_of(response, Campaign)


class Suppressions(_Resource):
    """/v1/suppressions (suppressions:read, suppressions:write)."""

    @calls(ops.SUPPRESSIONS_LIST)
    def page(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Suppression]:
        params = query(limit=limit, after=cursor)
        response = self._client._request(ops.SUPPRESSIONS_LIST, params=params)
        return page_of(response, Suppression, "data", "next")

    @calls(ops.SUPPRESSIONS_LIST)
    def list(self, *, limit: int | None = None) -> Iterator[Suppression]:
        return _iterate(lambda cursor: self.page(limit=limit, cursor=cursor))

    @calls(ops.SUPPRESSIONS_CREATE)
    def add(self, address: str, *, reason: str = "manual") -> Suppression:
        """Never send to this address (or `@domain`) again from this environment."""
        body = {"address": address, "reason": reason}
        return model_of(self._client._request(ops.SUPPRESSIONS_CREATE, json=body), Suppression)

    @calls(ops.SUPPRESSIONS_DELETE)
    def remove(self, address: str) -> None:
        self._client._request(ops.SUPPRESSIONS_DELETE, path={"address": address})


class Incidents(_Resource):
    """/v1/incidents: compromise cases of the caller's tenant and environment (keys:read,
    keys:write); docs/incidents.md."""

    @calls(ops.INCIDENTS_OPEN)
    def open(
        self,
        key_id: str,
        *,
        reason: str,
        quarantine: bool = False,
        reissue: bool = False,
        deliver: str | None = None,
        cascade: bool = False,
        owner: str | None = None,
    ) -> OpenedIncident:
        """Stop the key everywhere at once: revoke it (or, with `quarantine`, suspend it), with
        `cascade` also every key it made. With `reissue` a successor with the same powers is
        delivered into the key's vault (or `deliver`), or else shown once in this answer."""
        body: Json = {
            "key_id": key_id,
            "reason": reason,
            "response": "quarantine" if quarantine else "revoke",
            "reissue": reissue,
            "cascade": cascade,
        }
        body.update({k: v for k, v in {"deliver": deliver, "owner": owner}.items() if v})
        response = self._client._request(ops.INCIDENTS_OPEN, json=body)
        return model_of(response, OpenedIncident)

    @calls(ops.INCIDENTS_LIST)
    def page(
        self, *, state: str | None = None, key_id: str | None = None, limit: int | None = None
    ) -> Page[Incident]:
        """The newest `limit` incidents (the server's default 50, at most 200), without their
        timelines; this list has no cursor, so `next_cursor` is always None."""
        params = query(state=state, key_id=key_id, limit=limit)
        response = self._client._request(ops.INCIDENTS_LIST, params=params)
        return page_of(response, Incident, "incidents", "next_cursor")

    @calls(ops.INCIDENTS_LIST)
    def list(
        self, *, state: str | None = None, key_id: str | None = None, limit: int | None = None
    ) -> Iterator[Incident]:
        """The items of `page`: newest first, `state` open, contained or resolved."""
        return _iterate(lambda cursor: self.page(state=state, key_id=key_id, limit=limit))

    @calls(ops.INCIDENTS_GET)
    def get(self, incident_id: str) -> Incident:
        """One incident with its blast radius and timeline."""
        response = self._client._request(ops.INCIDENTS_GET, path={"incident_id": incident_id})
        return model_of(response, Incident)

    @calls(ops.INCIDENTS_CONTAIN)
    def contain(
        self,
        incident_id: str,
        *,
        note: str | None = None,
        cascade: bool = False,
        revoke: bool = False,
    ) -> Incident:
        """Mark it contained; `revoke` turns a quarantine into a revocation, `cascade` revokes
        the blast radius as it is now. A resolved incident raises Conflict."""
        body: Json = {"cascade": cascade, "revoke": revoke}
        if note is not None:
            body["note"] = note
        return self._change(ops.INCIDENTS_CONTAIN, incident_id, body)

    @calls(ops.INCIDENTS_RESOLVE)
    def resolve(
        self, incident_id: str, *, note: str | None = None, resume: bool = False
    ) -> Incident:
        """Close the case; `resume` gives a quarantined key back (a false alarm)."""
        body: Json = {"resume": resume}
        if note is not None:
            body["note"] = note
        return self._change(ops.INCIDENTS_RESOLVE, incident_id, body)

    @calls(ops.INCIDENTS_NOTE)
    def note(self, incident_id: str, text: str) -> Incident:
        """Add a note to the timeline (also after resolution); a pasted key is stored masked."""
        return self._change(ops.INCIDENTS_NOTE, incident_id, {"note": text})

    @calls(ops.INCIDENTS_ASSIGN)
    def assign(self, incident_id: str, owner: str) -> Incident:
        """Give the incident an owner, a person or a team."""
        return self._change(ops.INCIDENTS_ASSIGN, incident_id, {"owner": owner})

    def _change(self, operation: ops.Operation, incident_id: str, body: Json) -> Incident:
        response = self._client._request(operation, path={"incident_id": incident_id}, json=body)
        return model_of(response, Incident)


class Leaks(_Resource):
    """/v1/leaks: keys found leaked are revoked at once, each with an incident. Answers name
    tokens by their SHA-256 hex, never by their text."""

    @calls(ops.LEAKS_REPORT)
    def report(
        self,
        tokens: Sequence[str | FoundKey] = (),
        *,
        findings: Sequence[Mapping[str, Any]] = (),
        tool: str | None = None,
        version: str | None = None,
    ) -> LeakReport:
        """Keys your scanner found (a text, or a `FoundKey` saying where): those of the
        caller's tenant and environment are revoked; any other is a false_positive, left
        alone. `findings` (redacted, no secrets) are accepted and not kept. Needs leaks:report."""
        found = [FoundKey(token=SecretStr(t)) if isinstance(t, str) else t for t in tokens]
        body: Json = {"reports": [body_of(f) for f in found], "findings": [*map(dict, findings)]}
        body.update({k: v for k, v in {"tool": tool, "version": version}.items() if v})
        return model_of(self._client._request(ops.LEAKS_REPORT, json=body), LeakReport)

    @calls(ops.LEAKS_REVOKE)
    def revoke_public(self, keys: str | Sequence[str], *, url: str | None = None) -> Received:
        """Have up to 100 leaked keys revoked, whoever owns them (no scope needed). The answer
        is always `received`: it says nothing about whether a key existed, and the
        revocation happens after it. Rate-limited per client address."""
        body: Json = {"keys": [keys] if isinstance(keys, str) else [*keys]}
        if url is not None:
            body["url"] = url
        return model_of(self._client._request(ops.LEAKS_REVOKE, json=body), Received)

    @calls(ops.LEAKS_GITHUB)
    def github(self, payload: bytes, *, key_id: str, signature: str) -> list[GitHubLabel]:
        """For testing integrations: GitHub's secret scanning partner program calls this
        endpoint, not users. `payload` is the JSON array of alerts exactly as signed;
        `key_id` and `signature` are the Github-Public-Key-Identifier and
        Github-Public-Key-Signature headers."""
        headers = {
            "Content-Type": "application/json",
            "Github-Public-Key-Identifier": key_id,
            "Github-Public-Key-Signature": signature,
        }
        response = self._client._request(ops.LEAKS_GITHUB, content=payload, headers=headers)
        return [GitHubLabel.model_validate(item) for item in response.json()]


class Webhooks(_Resource):
    """/v1/webhooks (webhooks:write): endpoints signed per Standard Webhooks, delivery logs."""

    @calls(ops.WEBHOOKS_CREATE)
    def create(
        self, url: str, *, event_types: Sequence[str], description: str | None = None
    ) -> CreatedWebhook:
        """A new endpoint; its signing secret is in this answer only."""
        body: Json = {"url": url, "event_types": [*event_types]}
        if description is not None:
            body["description"] = description
        response = self._client._request(ops.WEBHOOKS_CREATE, json=body)
        return model_of(response, CreatedWebhook)

    @calls(ops.WEBHOOKS_LIST)
    def list(self) -> Sequence[Webhook]:
        response = self._client._request(ops.WEBHOOKS_LIST)
        return [Webhook.model_validate(item) for item in response.json()["webhooks"]]

    @calls(ops.WEBHOOKS_DELETE)
    def delete(self, webhook_id: str) -> None:
        self._client._request(ops.WEBHOOKS_DELETE, path={"webhook_id": webhook_id})

    @calls(ops.WEBHOOKS_ROTATE_SECRET)
    def rotate_secret(self, webhook_id: str) -> CreatedWebhook:
        """A new signing secret, used from the next delivery on; in this answer only."""
        response = self._client._request(
            ops.WEBHOOKS_ROTATE_SECRET, path={"webhook_id": webhook_id}
        )
        return model_of(response, CreatedWebhook)

    @calls(ops.WEBHOOKS_DELIVERIES)
    def deliveries(self, webhook_id: str, *, limit: int | None = None) -> Sequence[WebhookDelivery]:
        """The endpoint's latest messages, newest first, each with its delivery log."""
        response = self._client._request(
            ops.WEBHOOKS_DELIVERIES, path={"webhook_id": webhook_id}, params=query(limit=limit)
        )
        return [WebhookDelivery.model_validate(item) for item in response.json()["deliveries"]]


class Reports(_Resource):
    """Reports (keys:read): an incident's investigation report."""

    @overload
    def incident(
        self,
        incident_id: str,
        *,
        format: Literal["json"] = "json",
        include_subjects: bool = False,
    ) -> IncidentReport: ...

    @overload
    def incident(
        self,
        incident_id: str,
        *,
        format: Literal["html", "md"],
        include_subjects: bool = False,
    ) -> str: ...

    @calls(ops.INCIDENTS_REPORT)
    def incident(
        self,
        incident_id: str,
        *,
        format: Literal["json", "html", "md"] = "json",
        include_subjects: bool = False,
    ) -> IncidentReport | str:
        """The report as a model (json), or as one self-contained HTML page or Markdown
        text; message subjects only with `include_subjects` (they may be personal data)."""
        params = query(format=format, include_subjects="true" if include_subjects else None)
        response = self._client._request(
            ops.INCIDENTS_REPORT, path={"incident_id": incident_id}, params=params
        )
        if format == "json":
            return model_of(response, IncidentReport)
        return response.text
