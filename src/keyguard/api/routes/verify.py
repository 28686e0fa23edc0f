"""POST /v1/keys/verify: a gateway (holding keys:verify) asks whether a key may do something.

The answer carries the decision and the key's public metadata, never its digest; a string
that is not one of the keys of the caller's tenant and environment gets the one opaque
`invalid_key`, and is neither marked used nor charged against its rate limit. The check
is a use of the verified key, so it applies that key's rate limit and leaves a usage event
for it (with `via`: the gateway's key), besides the gateway's own.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime
from typing import Annotated, Any, Final, Literal, cast

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    IPvAnyAddress,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from keyguard.api.context import Principal, api_state, context_of
from keyguard.api.direct import DirectHandler, json_body
from keyguard.api.documented import JSON_BODY
from keyguard.api.enforcement import EnforcedRoute, authorize, require_scope
from keyguard.api.schemas import KeyPublic
from keyguard.errors import InvalidInput
from keyguard.keys import MAX_KEY_LENGTH
from keyguard.policy import SCOPES
from keyguard.usage import UsageRecord, key_columns
from keyguard.verification import Allowed, Decision, Denied, KeySnapshot, Owner

router = APIRouter(route_class=EnforcedRoute, tags=["verification"])

PATH = "/v1/keys/verify"
SCOPE = "keys:verify"


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=MAX_KEY_LENGTH * 4, description="The key a client presented.")
    scope: str | None = Field(default=None, max_length=40, examples=["mail:send"])
    ip: IPvAnyAddress | None = Field(default=None, description="The client's address.")
    env: Literal["live", "test", "dev"] | None = None


class VerifyAnswer(BaseModel):
    """`{"valid": true, "outcome": "ok", "key": {…}}` or `{"valid": false, "outcome": "…"}`."""

    valid: bool = Field(description="True only when `outcome` is `ok`.")
    outcome: str = Field(
        description="`ok`, `invalid_key`, `revoked`, `expired`, `suspended`, `denied_scope`, "
        "`denied_ip`, `denied_env`, `rate_limited`, … (PRODUCT.md).",
        examples=["ok"],
    )
    code: str | None = Field(default=None, description="Set when it differs from `outcome`.")
    key: KeyPublic | None = Field(
        default=None, description="The key's public metadata; absent for an unknown key."
    )
    retry_after: int | None = Field(
        default=None, description="Seconds, when `outcome` is `rate_limited`."
    )

    @model_serializer(mode="wrap")
    def _without_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Absent rather than null at the top level, so that an invalid key's answer is
        exactly `{"valid": false, "outcome": "invalid_key"}`."""
        return {k: v for k, v in handler(self).items() if v is not None}

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The typed fields, as published in OpenAPI: the serializer above only leaves nulls
        out, and would otherwise make the answer's schema a bare object."""
        fields = {name: value for name, value in core_schema.items() if name != "serialization"}
        return handler(cast(CoreSchema, fields))


@router.post(PATH, operation_id="keys_verify", responses=JSON_BODY, response_model=VerifyAnswer)
async def verify_key(
    body: VerifyRequest,
    request: Request,
    principal: Annotated[Principal, require_scope(SCOPE)],
) -> Response:
    """Verify a presented key against a scope, a client IP and an environment."""
    return await _verified(request, principal, body)


async def verify_directly(request: Request) -> Response:
    """The same route as `verify_key`, as KeyguardMiddleware serves it (keyguard.api.direct):
    authorised first, then the body read and validated, then the same answer."""
    principal = await authorize(request, SCOPE)
    return await _verified(request, principal, await json_body(request, VerifyRequest))


# Served directly, by operation id (create_app; keyguard.api.direct says why).
DIRECT: Final[dict[str, DirectHandler]] = {"keys_verify": verify_directly}


async def _verified(request: Request, principal: Principal, body: VerifyRequest) -> Response:
    if body.scope is not None and body.scope not in SCOPES:
        raise InvalidInput(f"unknown scope {body.scope!r}", code="unknown_scope", field="scope")
    api = api_state(request)
    ip = str(body.ip) if body.ip is not None else None
    owner = Owner(principal.key.tenant_id, principal.key.env)
    decision = await api.runtime.gate.admit(
        body.key, scope=body.scope, ip=ip, env=body.env, owner=owner
    )
    # Rendered here: FastAPI would validate the model it was just built from again, then
    # dump it (the documented schema stays `response_model`'s). The gateway's hot path.
    if isinstance(decision, Allowed):
        outcome, known, rendered = "ok", True, allowed_answer(decision.key)
    else:
        answer = _denied_answer(decision)
        outcome, known, rendered = answer.outcome, answer.key is not None, answer.model_dump_json()
    context = context_of(request)
    api.runtime.usage.submit(
        _event(
            decision=decision,
            outcome=outcome,
            known=known,
            body=body,
            ip=ip,
            ts=context.ts,
            principal=principal,
            request_id=context.request_id,
        )
    )
    return Response(rendered, media_type="application/json")


def allowed_answer(key: KeySnapshot) -> str:
    """`VerifyAnswer(valid=True, outcome="ok", key=KeyPublic.of(key))` as JSON: most answers
    a gateway gets, for the same few keys again and again."""
    return f'{{"valid":true,"outcome":"ok","key":{_public_json(key)}}}'


@functools.lru_cache(maxsize=4096)
def _public_json(key: KeySnapshot) -> str:
    """A key's public metadata, rendered once per snapshot. Snapshots are immutable and
    compared by every field: a key that changes in any way is a new snapshot, rendered
    anew (and the verifier drops revoked keys' snapshots; this keeps at most 4,096)."""
    return KeyPublic.of(key).model_dump_json()


def _denied_answer(decision: Denied) -> VerifyAnswer:
    known = decision.key is not None and decision.outcome != "invalid_key"
    rate = decision.rate
    retry_after = max(1, math.ceil(rate.retry_after)) if rate and not rate.allowed else None
    return VerifyAnswer(
        valid=False,
        outcome=decision.outcome,
        code=decision.problem_code if decision.problem_code != decision.outcome else None,
        key=KeyPublic.of(decision.key) if known and decision.key else None,
        retry_after=retry_after,
    )


def _event(
    *,
    decision: Decision,
    outcome: str,
    known: bool,
    body: VerifyRequest,
    ip: str | None,
    ts: datetime,
    principal: Principal,
    request_id: str,
) -> UsageRecord:
    """The verified key's usage event (`known`: the answer named the key)."""
    key = decision.key if known else None
    code = decision.problem_code if isinstance(decision, Denied) else None
    extra: dict[str, str] = {"via": principal.key.id}
    if code and code != outcome:
        extra["code"] = code
    return UsageRecord(
        **key_columns(key),
        ts=ts,
        method="POST",
        path=PATH,
        outcome=outcome,
        status=200,
        ip=ip,
        scope=body.scope,
        request_id=request_id,
        extra=extra,
        key_last_used_at=decision.previous_use if key is not None else None,
    )
