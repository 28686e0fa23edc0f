"""Pydantic models of what the client sends and what the server answers.

Answers accept fields this version does not know yet (a newer server adds some), and are
frozen. Requests refuse unknown fields, as the server does. A created key's text is a
`SecretStr`: it shows as `**********` in repr and logs; `key.get_secret_value()` reveals it.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Generic, TypedDict, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_serializer

__all__ = [
    "Alert",
    "Attachment",
    "AuditEvent",
    "Campaign",
    "CampaignChanges",
    "Contact",
    "ContactChanges",
    "ContactList",
    "CreatedKey",
    "CreatedWebhook",
    "DeliveryEvent",
    "FoundKey",
    "GitHubLabel",
    "Health",
    "ImportResult",
    "ImportRowError",
    "Incident",
    "IncidentReport",
    "IncidentStep",
    "Key",
    "KeyPublic",
    "LeakReport",
    "LeakResult",
    "ListChanges",
    "MembersAdded",
    "Message",
    "MessageEvents",
    "OpenedIncident",
    "Page",
    "PlannedKey",
    "Readiness",
    "Received",
    "ReportAlert",
    "ReportWindow",
    "Restrictions",
    "Review",
    "ReviewApplied",
    "ReviewFinding",
    "ReviewRecommendation",
    "ReviewSuccessor",
    "SandboxAttachment",
    "SandboxMessage",
    "SendItem",
    "SendResult",
    "SentMessage",
    "SentMessageDetail",
    "Successor",
    "Suppression",
    "Template",
    "TemplateChanges",
    "TenantWideResult",
    "UsageBucket",
    "UsageCounts",
    "UsageEvent",
    "UsageSeries",
    "UsageSource",
    "UsageSources",
    "Verification",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
]

T = TypeVar("T")

Scalar = str | int | float | bool | None

# `from` is a Python keyword: the attribute is `sender`, the JSON field `from`.
_FROM = AliasChoices("from", "sender")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- requests ----------------------------------------------------------------------------------


class Attachment(_Request):
    filename: str
    content: str = Field(description="Base64 of the attachment's bytes.")
    content_type: str = "application/octet-stream"

    @classmethod
    def of(
        cls, filename: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> Attachment:
        """An attachment from raw bytes (base64-encoded here)."""
        return cls(
            filename=filename, content=base64.b64encode(data).decode(), content_type=content_type
        )


class Message(_Request):
    """One message: `subject` with `text` and/or `html`, or a stored `template`."""

    sender: str = Field(validation_alias=_FROM, serialization_alias="from")
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    reply_to: str | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    template: str | None = None
    variables: dict[str, Scalar] = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)


class Restrictions(BaseModel):
    """A key's restrictions: in a create request, and in every key answer."""

    model_config = ConfigDict(extra="allow", frozen=True)

    allowed_cidrs: list[str] = Field(default_factory=list)
    sender_domains: list[str] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)
    daily_quota: int | None = None
    rate_limit_per_minute: int | None = None


# -- keys and verification ---------------------------------------------------------------------


class Key(_Answer):
    """A key's metadata; never its text or digest."""

    id: str
    tenant: str
    name: str | None = None
    env: str
    prefix: str
    scopes: list[str]
    restrictions: Restrictions
    state: str = Field(description="active, rotating, suspended, revoked or expired.")
    state_reason: str | None = None
    created_at: datetime
    expires_at: datetime
    grace_until: datetime | None = None
    last_used_at: datetime | None = None
    created_by: str
    parent_id: str | None = None


class CreatedKey(Key):
    """Answered once, by create and rotate: `key` is shown nowhere else, ever."""

    key: SecretStr


class ReviewRecommendation(_Answer):
    """A finding's change: `rotate` (into a successor with `scopes` and `restrictions` when
    given), `revoke`, or `none` (a person must look)."""

    action: str
    text: str
    scopes: list[str] | None = None
    restrictions: dict[str, list[str]] | None = None


class ReviewFinding(_Answer):
    """One finding of the access review; `id` is what `review.apply` takes."""

    id: str
    key_id: str
    tenant: str
    env: str
    key_name: str | None = None
    kind: str
    severity: str = Field(description="low, medium or high.")
    summary: str
    evidence: dict[str, Any]
    recommendation: ReviewRecommendation


class Review(_Answer):
    """The access review of the caller's tenant and environment."""

    tenants: list[str]
    generated_at: datetime
    window_days: int
    keys_reviewed: int
    findings: list[ReviewFinding]


class ReviewSuccessor(Key):
    """The successor an applied finding issued: `key` is its text, once, when it was not
    delivered into a vault (`delivered_to`)."""

    key: SecretStr | None = None
    delivered_to: str | None = None


class ReviewApplied(_Answer):
    """What applying a finding did: `key` is the reviewed key now (rotating or revoked)."""

    finding: ReviewFinding
    key: Key
    successor: ReviewSuccessor | None = None


class KeyPublic(_Answer):
    """What a gateway learns about a verified key."""

    id: str
    tenant: str
    env: str
    name: str | None = None
    prefix: str
    scopes: list[str]
    expires_at: datetime
    restrictions: Restrictions


class Verification(_Answer):
    """The answer of `keys.verify`: `valid`, the PRODUCT.md `outcome`, and the key when known."""

    valid: bool
    outcome: str
    code: str | None = None
    key: KeyPublic | None = None
    retry_after: int | None = None


class AuditEvent(_Answer):
    seq: int
    ts: datetime
    tenant: str | None = None
    actor: str
    action: str
    target: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


# -- incidents, the tenant-wide response and leaks ---------------------------------------------


class IncidentStep(_Answer):
    """One entry of an incident's timeline (`kind`: opened, key.revoked, note, …)."""

    ts: datetime
    actor: str
    kind: str
    key_id: str | None = None
    note: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Incident(_Answer):
    """A compromise case. `blast_radius` and `timeline` are None in lists (`incidents.list`)."""

    id: str
    tenant: str
    env: str
    key_id: str
    state: str = Field(description="open, contained or resolved.")
    response: str = Field(description="revoke or quarantine.")
    reason: str
    source: str
    source_url: str | None = None
    owner: str | None = None
    opened_by: str
    opened_at: datetime
    contained_at: datetime | None = None
    resolved_at: datetime | None = None
    successor_id: str | None = None
    blast_radius: list[str] | None = None
    timeline: list[IncidentStep] | None = None


class Successor(_Answer):
    """The key reissued by `incidents.open(reissue=True)`: delivered into `delivered_to`, or
    `key`, shown in this answer only (None when delivered)."""

    id: str
    delivered_to: str | None = None
    key: SecretStr | None = None


class OpenedIncident(Incident):
    """The answer of `incidents.open`: the incident, the keys whose state changed, and the
    successor (None unless reissued; `reissue_error` says why a reissue failed)."""

    stopped: list[str]
    successor: Successor | None = None
    reissue_error: str | None = None


class PlannedKey(_Answer):
    """One key of a tenant-wide response and what is (or, in a dry run, would be) done to it;
    a handed-out key's successor is `successor_key`, shown in this answer only."""

    id: str
    env: str
    name: str | None = None
    prefix: str
    state: str
    scopes: list[str]
    action: str = Field(description="revoke, rotate_vault or rotate_handed_out.")
    target: str | None = None
    successor_id: str | None = None
    successor_key: SecretStr | None = None
    error: str | None = None


class TenantWideResult(_Answer):
    """The answer of `keys.revoke_matching` / `keys.rotate_matching`."""

    selector: dict[str, Any]
    dry_run: bool
    count: int
    keys: list[PlannedKey]


class FoundKey(_Request):
    """A key a scanner found, for `leaks.report`; `token` is masked in repr and logs."""

    token: SecretStr
    url: str | None = Field(default=None, description="Where it is public, if it is.")
    path: str | None = None
    line: int | None = None
    column: int | None = None
    commit: str | None = None

    @field_serializer("token", when_used="json")
    def _reveal(self, token: SecretStr) -> str:
        return token.get_secret_value()  # the request body, sent over TLS only


class LeakResult(_Answer):
    """What became of one reported token, named by `fingerprint` (its SHA-256 hex)."""

    fingerprint: str
    label: str = Field(description="true_positive (one of the tenant's keys) or false_positive.")
    key_id: str | None = None
    incident_id: str | None = None
    revoked: bool


class LeakReport(_Answer):
    results: list[LeakResult]


class GitHubLabel(_Answer):
    """GitHub's per-token label: `token_hash` is the SHA-256 hex of the token."""

    token_hash: str
    token_type: str
    label: str


class Received(_Answer):
    """The public revocation's answer: always `received`, whatever was submitted."""

    status: str


# -- webhooks ----------------------------------------------------------------------------------


class Webhook(_Answer):
    """A webhook endpoint of the caller's tenant (its signing secret is never in it)."""

    id: str
    url: str
    event_types: list[str]
    description: str | None = None
    enabled: bool
    created_at: datetime
    secret_rotated_at: datetime


class CreatedWebhook(_Answer):
    """Answered by create and rotate-secret: `secret` (``whsec_…``) is shown nowhere else."""

    webhook: Webhook
    secret: SecretStr


class WebhookAttempt(_Answer):
    attempt: int
    at: datetime
    status_code: int | None = None
    latency_ms: int
    error: str | None = None


class WebhookDelivery(_Answer):
    """One message to an endpoint (`id` is its `webhook-id`) and its delivery log."""

    id: str
    event_type: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    finished_at: datetime | None = None
    log: list[WebhookAttempt]


# -- usage history -----------------------------------------------------------------------------


# `from` is a Python keyword: a window's start is `from_`, the JSON field `from`.
_WINDOW_FROM = AliasChoices("from", "from_")


class UsageCounts(_Answer):
    """Requests by PRODUCT.md outcome, recipients, and distinct client networks (/24, /48)."""

    requests: int
    outcomes: dict[str, int]
    recipients: int
    networks: int


class UsageBucket(UsageCounts):
    """One UTC hour or day of a key's usage, from `start`."""

    start: datetime


class UsageSeries(_Answer):
    """A key's usage per bucket over [from_, to), widened to whole buckets, and its totals."""

    key_id: str
    from_: datetime = Field(validation_alias=_WINDOW_FROM, serialization_alias="from")
    to: datetime
    bucket: str = Field(description="hour or day.")
    totals: UsageCounts
    buckets: list[UsageBucket]


class UsageSource(_Answer):
    """One place a key was used from: a network, a country, an ASN, a user agent, an endpoint."""

    value: str | int
    requests: int
    denied: int = Field(description="Of which refused (any outcome but ok).")
    first_seen: datetime
    last_seen: datetime


class UsageSources(_Answer):
    """Where a key was used from over [from_, to), the most used first in each list."""

    key_id: str
    from_: datetime = Field(validation_alias=_WINDOW_FROM, serialization_alias="from")
    to: datetime
    networks: list[UsageSource]
    countries: list[UsageSource] = Field(description="Needs the server's KEYGUARD_GEOIP_DB.")
    asns: list[UsageSource] = Field(description="Needs the server's KEYGUARD_ASN_DB.")
    user_agents: list[UsageSource]
    endpoints: list[UsageSource] = Field(description='"METHOD path", e.g. "POST /v1/mail/send".')


class ReportWindow(_Answer):
    """An incident's exposure window: from the last known-good point to containment."""

    start: datetime
    end: datetime
    start_basis: str = Field(description="created, rotation, alert or anomaly.")
    end_basis: str = Field(description="key.revoked, key.suspended or report_time.")
    trigger_network: str | None = Field(description="The first new network (anomaly).")
    trigger_alert: int | None = Field(default=None, description="The earliest alert (alert).")


class IncidentReport(_Answer):
    """An incident's investigation report (docs/incidents.md has every field)."""

    report_version: int
    generated_at: datetime
    incident: dict[str, Any]
    timeline: list[dict[str, Any]]
    key: dict[str, Any]
    life: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    window: ReportWindow
    uses: dict[str, Any]
    alerts: list[ReportAlert] = Field(default_factory=list)
    impact: dict[str, Any]
    recommendations: list[str]


class UsageEvent(_Answer):
    """One request that presented a key, allowed or refused (the PRODUCT.md schema), with its
    `id`. `key_id` and `tenant` are None for strings that are not keys; `geo` and `asn` need
    the server's IP databases; `via` names the gateway key that verified it."""

    id: int
    ts: datetime
    key_id: str | None = None
    tenant: str | None = None
    env: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    method: str
    path: str
    scope: str | None = None
    outcome: str
    status: int
    recipients: int | None = None
    recipient_domains: list[str] | None = None
    sender: str | None = None
    request_id: str | None = None
    key_last_used_at: datetime | None = Field(
        default=None, description="The key's previous use, as the server knew it then."
    )
    geo: str | None = Field(default=None, description="ISO 3166 country of `ip`.")
    asn: int | None = Field(default=None, description="Autonomous system number of `ip`.")
    via: str | None = None


class Alert(_Answer):
    """What the online detector raised (the PRODUCT.md alert), with its `id`, partition and
    where a person took it. `key_id` is None for a key-less alert (guessing, a spray from
    one address), which only the operator sees."""

    id: int
    ts: datetime
    key_id: str | None = None
    rule: str
    severity: str = Field(description="info, low, medium, high or critical.")
    action: str = Field(description="What was done: notify, throttle, quarantine or revoke.")
    first_event_ts: datetime
    evidence: dict[str, Any] = Field(default_factory=dict)
    tenant: str | None = None
    env: str | None = None
    state: str = Field(description="open, acknowledged, resolved or false_positive.")
    action_state: str = Field(description="pending, done, failed or undone.")
    planned_action: str | None = Field(
        default=None,
        description="What the policy calls for (in monitor-only mode: what it would do).",
    )
    updated_at: datetime
    updated_by: str | None = None


# -- mail --------------------------------------------------------------------------------------


class ReportAlert(Alert):
    """An alert on an incident's key, as its report lists it."""

    in_window: bool = Field(description="Its first event lies inside the exposure window.")


class SendItem(_Answer):
    """One message's result: queued (`id`, `status`) or, in a partial batch, rejected."""

    id: str | None = None
    status: str
    index: int | None = None
    code: str | None = None
    detail: str | None = None


class SendResult(_Answer):
    messages: list[SendItem]
    replayed: bool = Field(
        default=False, description="The server answered a retry with the first answer."
    )


class DeliveryEvent(_Answer):
    ts: datetime
    type: str
    recipient: str | None = None
    smtp_code: int | None = None
    detail: str | None = None


class SentMessage(_Answer):
    id: str
    status: str
    sender: str = Field(validation_alias=_FROM, serialization_alias="from")
    recipients: list[str] = Field(default_factory=list)
    subject: str | None = None
    size: int | None = None
    sandboxed: bool = False
    attempts: int = 0
    campaign_id: str | None = None
    key_id: str | None = None
    last_error: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    sent_at: datetime | None = None


class SentMessageDetail(SentMessage):
    events: list[DeliveryEvent] = Field(default_factory=list)


class MessageEvents(_Answer):
    id: str
    events: list[DeliveryEvent]


class SandboxAttachment(_Answer):
    filename: str | None = None
    content_type: str


class SandboxMessage(SentMessage):
    """A captured message, as the recipient would have seen it."""

    headers: list[tuple[str, str]] = Field(default_factory=list)
    text: str | None = None
    html: str | None = None
    attachments: list[SandboxAttachment] = Field(default_factory=list)
    raw: str = ""


# -- audience and content ----------------------------------------------------------------------


class Contact(_Answer):
    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime | None = None


class ImportRowError(_Answer):
    line: int
    code: str
    message: str


class ImportResult(_Answer):
    rows: int
    created: int
    updated: int
    failed: int
    errors: list[ImportRowError] = Field(default_factory=list)
    errors_truncated: bool = False


class ContactList(_Answer):
    id: str
    name: str
    description: str | None = None
    members: int | None = None
    created_at: datetime
    updated_at: datetime | None = None


class MembersAdded(_Answer):
    added: int


class Template(_Answer):
    id: str
    name: str
    subject: str
    text: str | None = None
    html: str | None = None
    created_at: datetime
    updated_at: datetime | None = None


class Campaign(_Answer):
    id: str
    name: str
    template_id: str
    list_id: str
    sender: str = Field(validation_alias=_FROM, serialization_alias="from")
    state: str
    summary: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime | None = None
    sent_at: datetime | None = None


class Suppression(_Answer):
    address: str
    reason: str
    created_at: datetime


# -- operations and pages ----------------------------------------------------------------------


class Health(_Answer):
    status: str


class Readiness(_Answer):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back to get the next (None: the last page)."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None


# -- changes: what `update` takes; a field left out is left alone, None clears it --------------


class ContactChanges(TypedDict, total=False):
    email: str
    first_name: str | None
    last_name: str | None
    attributes: dict[str, Scalar]


class ListChanges(TypedDict, total=False):
    name: str
    description: str | None


class TemplateChanges(TypedDict, total=False):
    name: str
    subject: str
    text: str | None
    html: str | None


class CampaignChanges(TypedDict, total=False):
    name: str
    template: str
    list_id: str
    sender: str
