"""/v1/review (keys:read) and /v1/review/{id}/apply (keys:write): the access review of the
caller's tenant and environment, and applying one of its proposals as a rotation with grace.

Thin routes over keyguard.review.ReviewService. A finding of another tenant or environment is
`not_found`, like a finding that is gone (applied, or the key's use changed since).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from keyguard.api.context import Principal, RuntimeDep
from keyguard.api.documented import CONFLICT, JSON_BODY, NOT_FOUND, UNAVAILABLE
from keyguard.api.enforcement import EnforcedRoute, require_scope
from keyguard.api.schemas import KeyOut
from keyguard.lifecycle import DEFAULT_GRACE
from keyguard.policy import parse_duration
from keyguard.review import Applied, render

router = APIRouter(route_class=EnforcedRoute, tags=["review"])

Reader = Annotated[Principal, require_scope("keys:read")]
Writer = Annotated[Principal, require_scope("keys:write")]
FindingId = Annotated[str, Path(pattern=r"^rv_[0-9a-f]{20}$")]

MEDIA_TYPES = {"md": "text/markdown; charset=utf-8", "text": "text/plain; charset=utf-8"}


class RecommendationOut(BaseModel):
    action: Literal["rotate", "revoke", "none"]
    text: str
    scopes: list[str] | None = Field(default=None, description="The successor's scopes.")
    restrictions: dict[str, list[str]] | None = Field(
        default=None, description="What the successor's restrictions change to."
    )

    @model_serializer(mode="wrap")
    def _without_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class FindingOut(BaseModel):
    id: str
    key_id: str
    tenant: str
    env: str
    key_name: str | None
    kind: str
    severity: Literal["low", "medium", "high"]
    summary: str
    evidence: dict[str, Any]
    recommendation: RecommendationOut


class ReviewOut(BaseModel):
    tenants: list[str]
    generated_at: str
    window_days: int
    keys_reviewed: int
    findings: list[FindingOut]


class SuccessorOut(KeyOut):
    delivered_to: str | None = None
    key: str | None = Field(default=None, description="Shown once; absent when delivered.")

    @model_serializer(mode="wrap")
    def _without_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """`key` and `delivered_to` absent, not null, when they do not apply (PRODUCT.md)."""
        data = handler(self)
        return {k: v for k, v in data.items() if v is not None or k not in ("key", "delivered_to")}


class AppliedOut(BaseModel):
    finding: FindingOut
    key: KeyOut
    successor: SuccessorOut | None

    @classmethod
    def of(cls, applied: Applied) -> AppliedOut:
        successor = None
        if applied.successor is not None:
            successor = SuccessorOut(
                **KeyOut.of(applied.successor).model_dump(),
                delivered_to=applied.delivered_to,
                key=applied.raw.reveal() if applied.raw else None,  # the one-time display
            )
        return cls(
            finding=FindingOut.model_validate(applied.finding.to_json()),
            key=KeyOut.of(applied.key),
            successor=successor,
        )


class ApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm: bool = Field(default=False, description="Needed for a revocation.")
    grace: str | None = Field(default=None, min_length=2, max_length=12, examples=["24h"])


@router.get(
    "/v1/review",
    operation_id="review_get",
    response_model=ReviewOut,
    responses={
        200: {
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
            "description": "The review: JSON, or with `format` Markdown or text.",
        }
    },
)
def get_review(
    principal: Reader,
    runtime: RuntimeDep,
    format: Annotated[Literal["json", "md", "text"], Query()] = "json",
) -> Any:
    """The findings on the active keys of the caller's tenant and environment."""
    review = runtime.review.review(principal.actor)
    if format == "json":
        return ReviewOut.model_validate(review.to_json())
    return Response(render(review, format), media_type=MEDIA_TYPES[format])


@router.post(
    "/v1/review/{finding_id}/apply",
    operation_id="review_apply",
    responses={**NOT_FOUND, **CONFLICT, **JSON_BODY, **UNAVAILABLE},
)
def apply_finding(
    finding_id: FindingId, principal: Writer, runtime: RuntimeDep, body: ApplyIn | None = None
) -> AppliedOut:
    """Apply one finding: a rotation with grace whose successor carries the proposal (into
    the key's vault, or returned once here), or with `confirm` a revocation."""
    body = body or ApplyIn()
    grace = DEFAULT_GRACE if body.grace is None else parse_duration(body.grace, field="grace")
    applied = runtime.review.apply(principal.actor, finding_id, confirm=body.confirm, grace=grace)
    return AppliedOut.of(applied)
