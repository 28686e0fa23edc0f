"""/v1/mail/send, message status and the sandbox: thin routes over keyguard.mail.

The send and campaign-send routes write their own usage events, inside the transaction that
queues the mail (or, for a refusal, right after it), and tell enforcement so with
`mark_usage_recorded`; every other route leaves its usage event to enforcement.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Body, Header, Path, Query, Request
from pydantic import Discriminator, Field, Tag, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from keyguard.api import problems
from keyguard.api.context import Principal, RuntimeDep, api_state, context_of, mark_usage_recorded
from keyguard.api.direct import DirectHandler, json_body
from keyguard.api.documented import JSON_BODY, NOT_FOUND
from keyguard.api.enforcement import EnforcedRoute, authorize, require_scope
from keyguard.errors import InvalidInput, RateLimited
from keyguard.logging import scrub
from keyguard.mail import (
    MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_REQUEST_BYTES,
    BatchIn,
    Caller,
    MessageIn,
    Partition,
    SendOutcome,
)
from keyguard.runtime import Runtime
from keyguard.usage import NOWHERE

router = APIRouter(route_class=EnforcedRoute, tags=["mail"])

Sender = Annotated[Principal, require_scope("mail:send")]
StatsReader = Annotated[Principal, require_scope("stats:read")]
SandboxReader = Annotated[Principal, require_scope("sandbox:read")]
MessageId = Annotated[str, Path(min_length=1, max_length=40)]
Limit = Annotated[int | None, Query(ge=1, le=500)]
After = Annotated[str | None, Query(max_length=40)]
Json = dict[str, Any]


def _kind(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "messages" in value else "message"


SendIn = Annotated[
    Annotated[BatchIn, Tag("batch")] | Annotated[MessageIn, Tag("message")],
    Discriminator(_kind),
]
SendBody = Annotated[
    SendIn, Body(description='One message, or `{"messages": [...]}` with up to 1,000.')
]
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        max_length=MAX_IDEMPOTENCY_KEY_CHARS,
        description="Retries with the same key and body get the first answer again.",
    ),
]
# The same two parameters as the direct route validates them (keyguard.api.direct).
SEND_BODY: Final = TypeAdapter[BatchIn | MessageIn](SendIn)
IDEMPOTENCY_KEY: Final = TypeAdapter[str | None](
    Annotated[str | None, Field(max_length=MAX_IDEMPOTENCY_KEY_CHARS)]
)
MessageStatus = Literal["queued", "sending", "sent", "deferred", "dead", "sandboxed"]


def caller_of(principal: Principal, request: Request, scope: str) -> Caller:
    """The mail domain's view of an HTTP caller; HTTP statuses come from the problem table.

    The send writes its usage event in its own transaction, not through the usage writer, so
    the address is located here (a cached lookup; this route runs in a thread)."""
    ip = str(principal.ip) if principal.ip else None
    context = context_of(request)
    locator = api_state(request).runtime.locator
    where = locator.locate(ip) if locator is not None and ip is not None else NOWHERE
    return Caller(
        principal.key,
        ip=ip,
        user_agent=principal.user_agent,
        method=request.method,
        path=request.url.path,
        scope=scope,
        accepted_status=202,
        status_of=problems.status_for,
        request_id=context.request_id,
        key_last_used_at=context.key_last_used_at,
        geo=where.geo,
        asn=where.asn,
    )


@router.post(
    "/v1/mail/send",
    status_code=202,
    operation_id="mail_send",
    openapi_extra={"x-max-body-bytes": MAX_REQUEST_BYTES},
    responses={
        202: {"description": 'Queued: `{"messages": [{"id", "status"}]}`.'},
        **JSON_BODY,
    },
)
def send(
    body: SendBody,
    principal: Sender,
    runtime: RuntimeDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Queue one message or a batch. 202 means the messages are durably in the outbox.

    A batch is all-or-nothing unless it says `"partial": true`; then each item's answer says
    whether it was queued (with its id) or rejected (with its code).
    """
    return _sent(request, principal, runtime, body, idempotency_key)


async def send_directly(request: Request) -> Response:
    """The same route as `send`, as KeyguardMiddleware serves it (keyguard.api.direct):
    authorised, then the header and the body validated together as FastAPI does, then the
    same synchronous send in the thread pool (it waits on the database)."""
    principal = await authorize(request, "mail:send")
    idempotency_key, errors = _idempotency_key(request)
    body = await json_body(request, SEND_BODY, errors=errors)
    runtime = api_state(request).runtime
    return await run_in_threadpool(_sent, request, principal, runtime, body, idempotency_key)


# Served directly, by operation id (create_app; keyguard.api.direct says why): every message
# an application sends over HTTP comes through here.
DIRECT: Final[dict[str, DirectHandler]] = {"mail_send": send_directly}


def _idempotency_key(request: Request) -> tuple[str | None, list[Any]]:
    """The header as FastAPI's Header parameter reads it, or its validation errors."""
    value = request.headers.get(IDEMPOTENCY_HEADER)
    try:
        return IDEMPOTENCY_KEY.validate_python(value), []
    except ValidationError as exc:
        errors = exc.errors(include_input=False)
        return None, [{**e, "loc": ("header", IDEMPOTENCY_HEADER, *e["loc"])} for e in errors]


def _sent(
    request: Request,
    principal: Principal,
    runtime: Runtime,
    body: BatchIn | MessageIn,
    idempotency_key: str | None,
) -> Response:
    _refuse_key_as_idempotency_key(idempotency_key)
    caller = caller_of(principal, request, "mail:send")
    mark_usage_recorded(request)  # the service writes this request's usage event(s)
    outcome = runtime.mail.sending.send(caller, body, idempotency_key)
    # For the quota metric: each kind of refusal counts once per request, however many
    # messages of a batch it hit.
    refusals = {item.error.code: item.error for item in outcome.errors if item.error}
    for error in refusals.values():
        runtime.limits.count_refusal(error)
    if outcome.refused and not outcome.batch:
        raise outcome.first_error
    if outcome.refused:
        return batch_problem(request, outcome)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body(), status_code=202, headers=headers)


def _refuse_key_as_idempotency_key(value: str | None) -> None:
    """Idempotency keys are stored for a day: one holding an API key is refused, not stored
    (masking it instead would make two such keys collide)."""
    if value is not None and scrub(value) != value:
        raise InvalidInput(
            "the Idempotency-Key must not contain an API key: use a random value of your own "
            "(and rotate the key, since it may have been recorded on its way here)",
            code="invalid_idempotency_key",
            field="Idempotency-Key",
        )


def batch_problem(request: Request, outcome: SendOutcome) -> JSONResponse:
    """A refused all-or-nothing batch: the first refusal's status and code, every item's."""
    first = outcome.first_error
    context_of(request).problem_code = first.code
    errors = [
        {
            "location": "body",
            "field": f"messages.{item.index}",
            "code": item.error.code,
            "message": item.error.message,
        }
        for item in outcome.errors
        if item.error is not None
    ]
    return problems.problem_response(
        problems.status_for(first),
        first.code,
        f"{len(errors)} of {len(outcome.items)} messages were refused, so none was queued",
        errors=errors,
        retry_after=first.retry_after if isinstance(first, RateLimited) else None,
    )


@router.get("/v1/mail/messages", operation_id="messages_list")
def list_messages(
    principal: StatsReader,
    runtime: RuntimeDep,
    status: Annotated[MessageStatus | None, Query()] = None,
    limit: Limit = None,
    after: After = None,
) -> Json:
    """The caller's environment's messages, newest first; follow `next` with `after`."""
    return runtime.mail.messages.page(
        Partition.of(principal.key), limit=limit, after=after, status=status
    )


@router.get("/v1/mail/messages/{message_id}", operation_id="messages_get", responses=NOT_FOUND)
def get_message(message_id: MessageId, principal: StatsReader, runtime: RuntimeDep) -> Json:
    """A message's status and its delivery events, in order."""
    return runtime.mail.messages.get(Partition.of(principal.key), message_id)


@router.get(
    "/v1/mail/messages/{message_id}/events", operation_id="messages_events", responses=NOT_FOUND
)
def message_events(message_id: MessageId, principal: StatsReader, runtime: RuntimeDep) -> Json:
    """Only the delivery events of a message."""
    found = runtime.mail.messages.get(Partition.of(principal.key), message_id)
    return {"id": found["id"], "events": found["events"]}


@router.get("/v1/sandbox/messages", operation_id="sandbox_list")
def list_sandbox(
    principal: SandboxReader, runtime: RuntimeDep, limit: Limit = None, after: After = None
) -> Json:
    """Mail that test and dev keys sent, captured instead of delivered; newest first."""
    return runtime.mail.sandbox.page(Partition.of(principal.key), limit=limit, after=after)


@router.get("/v1/sandbox/messages/{message_id}", operation_id="sandbox_get", responses=NOT_FOUND)
def get_sandbox_message(
    message_id: MessageId, principal: SandboxReader, runtime: RuntimeDep
) -> Json:
    """One captured message: headers, text, HTML, attachment names and the raw MIME."""
    return runtime.mail.sandbox.get(Partition.of(principal.key), message_id)
