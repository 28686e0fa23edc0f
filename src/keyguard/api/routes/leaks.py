"""/v1/leaks: keys reported leaked are revoked at once (keyguard.incidents.leaks).

- `POST /v1/leaks/github`: GitHub's secret scanning partner program; no key, the body is
  signed by GitHub (verified before it is parsed); answers GitHub's per-token labels.
- `POST /v1/leaks/report` (`leaks:report`): a tenant's own scanners; only keys of the caller's
  tenant and environment count, as for the verify endpoint.
- `POST /v1/leaks/revoke`: anyone holding a key may have it revoked; no key, rate-limited per
  client address, and the answer is the same whatever was submitted: the work happens after
  the answer is sent, so not even its timing tells whether a key existed.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from keyguard.api.context import Principal, RuntimeDep, api_state, context_of
from keyguard.api.documented import JSON_BODY, TOO_LARGE, UNAVAILABLE, problem
from keyguard.api.enforcement import PUBLIC_EXTRA, EnforcedRoute, require_scope
from keyguard.errors import InvalidInput, NotFound, RateLimited
from keyguard.incidents import (
    GITHUB_KEY_ID_HEADER,
    GITHUB_SIGNATURE_HEADER,
    MAX_BATCH,
    Leak,
    LeakIntake,
)
from keyguard.keys import MAX_KEY_LENGTH
from keyguard.logging import scrub

router = APIRouter(route_class=EnforcedRoute, tags=["leaks"])
log = logging.getLogger(__name__)

TOKEN_MAX: Final = MAX_KEY_LENGTH * 4
Url = Annotated[str, Field(max_length=2000)]

_GITHUB_BODY: Final = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "maxItems": MAX_BATCH,
                "items": {
                    "type": "object",
                    "required": ["token", "type", "url"],
                    "properties": {
                        "token": {"type": "string"},
                        "type": {"type": "string"},
                        "url": {"type": "string"},
                        "source": {"type": "string"},
                    },
                },
            }
        }
    },
}


class GitHubLabel(BaseModel):
    token_hash: str = Field(description="SHA-256 hex of the token.")
    token_type: str
    label: Literal["true_positive", "false_positive"]


class Found(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=TOKEN_MAX, description="The key found (sent over TLS only).")
    url: Url | None = Field(default=None, description="Where it is public, if it is.")
    path: str | None = Field(default=None, max_length=1000)
    line: int | None = Field(default=None, ge=1)
    column: int | None = Field(default=None, ge=1)
    commit: str | None = Field(default=None, max_length=64)

    def leak(self) -> Leak:
        where = None
        if self.path is not None:
            where = self.path + "".join(f":{n}" for n in (self.line, self.column) if n)
            where += f" @ {self.commit}" if self.commit else ""
        return Leak(self.token, url=self.url, location=where)


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reports: list[Found] = Field(default_factory=list, max_length=MAX_BATCH)
    # `keyguard scan --report-to` also posts its redacted findings (no secrets, any provider)
    # here; they are accepted and not kept: only the keys in `reports` can be acted on.
    tool: str | None = Field(default=None, max_length=40)
    version: str | None = Field(default=None, max_length=40)
    findings: list[dict[str, Any]] = Field(default_factory=list, max_length=100_000)


class ReportResult(BaseModel):
    fingerprint: str = Field(description="SHA-256 hex of the token, as the scanner shows it.")
    label: Literal["true_positive", "false_positive"]
    key_id: str | None = None
    incident_id: str | None = None
    revoked: bool


class ReportAnswer(BaseModel):
    results: list[ReportResult]


class Submission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[Annotated[str, Field(max_length=TOKEN_MAX)]] = Field(min_length=1, max_length=100)
    url: Url | None = Field(default=None, description="Where the keys were found, if public.")


class Received(BaseModel):
    status: Literal["received"]


@router.post(
    "/v1/leaks/github",
    operation_id="leaks_github",
    responses={
        400: problem("`malformed_json`: the (signed) body is not JSON."),
        401: problem("`invalid_signature`: the GitHub signature headers are missing or wrong."),
        404: problem("`github_intake_off`: no GitHub public keys are configured."),
        422: problem("`invalid_input`: not an array of alerts, each with a string `token`."),
        **TOO_LARGE,
        **UNAVAILABLE,
    },
    openapi_extra={PUBLIC_EXTRA: "signed by GitHub", "requestBody": _GITHUB_BODY},
)
async def github_alerts(request: Request) -> list[GitHubLabel]:
    """GitHub secret scanning alerts: every real key is revoked, each token labelled."""
    runtime = api_state(request).runtime
    keys = runtime.github_keys
    if keys is None:
        raise NotFound("leak intake from GitHub is not configured", code="github_intake_off")
    body = await request.body()
    headers = request.headers
    await run_in_threadpool(
        keys.verify, body, headers.get(GITHUB_KEY_ID_HEADER), headers.get(GITHUB_SIGNATURE_HEADER)
    )
    leaks = _github_leaks(body)
    verdicts = await run_in_threadpool(
        runtime.leaks.intake, leaks, source="github", reporter="github"
    )
    return [
        GitHubLabel(token_hash=v.token_hash, token_type=v.token_type or "", label=v.label)
        for v in verdicts
    ]


def _github_leaks(body: bytes) -> list[Leak]:
    """The partner program's array of `{token, type, url, source}`, checked (after the
    signature: nothing unsigned is parsed)."""
    try:
        records = json.loads(body)
    except ValueError:
        raise InvalidInput("the body is not JSON", code="malformed_json") from None
    if not isinstance(records, list) or len(records) > MAX_BATCH:
        raise InvalidInput(f"the body must be an array of at most {MAX_BATCH} alerts")
    leaks = []
    for record in records:
        token = record.get("token") if isinstance(record, dict) else None
        if not isinstance(token, str) or len(token) > TOKEN_MAX:
            raise InvalidInput("every alert needs a string `token`", field="token")
        url, kind = record.get("url"), record.get("type")
        leaks.append(
            Leak(
                token,
                url=scrub(url)[:2000] if isinstance(url, str) else None,
                token_type=kind[:100] if isinstance(kind, str) else None,
            )
        )
    return leaks


@router.post("/v1/leaks/report", operation_id="leaks_report", responses=JSON_BODY)
def report_leaks(
    body: Report,
    principal: Annotated[Principal, require_scope("leaks:report")],
    runtime: RuntimeDep,
) -> ReportAnswer:
    """Keys a tenant's scanner found: the tenant's real ones are revoked, with incidents."""
    owner = (principal.key.tenant_id, principal.key.env)
    if not body.reports:
        return ReportAnswer(results=[])
    verdicts = runtime.leaks.intake(
        [found.leak() for found in body.reports],
        source="report",
        reporter=f"key:{principal.key.id}",
        owner=owner,
    )
    return ReportAnswer(
        results=[
            ReportResult(
                fingerprint=v.token_hash,
                label=v.label,
                key_id=v.key.id if v.key else None,
                incident_id=v.incident_id,
                revoked=v.revoked,
            )
            for v in verdicts
        ]
    )


@router.post(
    "/v1/leaks/revoke",
    operation_id="leaks_revoke",
    responses={
        **JSON_BODY,
        429: problem("`rate_limited`: too many requests from this address (see Retry-After)."),
    },
    status_code=202,
    openapi_extra={PUBLIC_EXTRA: "anyone holding a key may have it revoked"},
)
async def public_revoke(
    body: Submission, request: Request, background: BackgroundTasks
) -> Received:
    """Have leaked keys revoked. The answer is always the same: it says nothing about
    whether any key submitted existed."""
    runtime = api_state(request).runtime
    ip = context_of(request).ip
    source = f"public-revoke:{ip or 'unknown'}"
    decision = await runtime.limits.check_async(source, runtime.settings.public_revoke_per_minute)
    if not decision.allowed:
        raise RateLimited("too many revocation requests", retry_after=decision.retry_after)
    leaks = [Leak(key, url=scrub(body.url) if body.url else None) for key in body.keys]
    background.add_task(_revoke_quietly, runtime.leaks, leaks, str(ip))
    return Received(status="received")


def _revoke_quietly(intake: LeakIntake, leaks: list[Leak], reporter: str) -> None:
    """After the answer: a failure is logged, never shown to the submitter."""
    try:
        intake.intake(leaks, source="public", reporter=reporter)
    except Exception as error:  # nothing may reach the submitter; the server log has it
        log.warning("leaks.public_failed", extra={"error": type(error).__name__})
