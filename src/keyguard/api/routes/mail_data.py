"""/v1/contacts, /v1/lists, /v1/templates, /v1/campaigns, /v1/suppressions: thin CRUD routes.

Every route works in the caller's tenant and environment (a test key never sees live data);
the scope each needs is declared next to it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from keyguard.api.context import Principal, RuntimeDep, mark_usage_recorded
from keyguard.api.documented import JSON_BODY, NOT_FOUND, TOO_LARGE
from keyguard.api.enforcement import EnforcedRoute, require_scope
from keyguard.api.routes.mail import caller_of
from keyguard.errors import KeyguardError
from keyguard.mail import (
    MAX_CSV_BYTES,
    CampaignIn,
    CampaignPatch,
    ContactIn,
    ContactPatch,
    ListIn,
    ListPatch,
    MembersIn,
    Partition,
    SuppressionIn,
    TemplateIn,
    TemplatePatch,
)

router = APIRouter(route_class=EnforcedRoute, tags=["mail data"])

Json = dict[str, Any]
Id = Annotated[str, Path(min_length=1, max_length=40)]
Ref = Annotated[str, Path(min_length=1, max_length=200, description="Template id or name.")]
Limit = Annotated[int | None, Query(ge=1, le=500)]
After = Annotated[str | None, Query(max_length=320)]

ContactsRead = Annotated[Principal, require_scope("contacts:read")]
ContactsWrite = Annotated[Principal, require_scope("contacts:write")]
ListsRead = Annotated[Principal, require_scope("lists:read")]
ListsWrite = Annotated[Principal, require_scope("lists:write")]
TemplatesRead = Annotated[Principal, require_scope("templates:read")]
TemplatesWrite = Annotated[Principal, require_scope("templates:write")]
CampaignsRead = Annotated[Principal, require_scope("campaigns:read")]
CampaignsWrite = Annotated[Principal, require_scope("campaigns:write")]
CampaignsSend = Annotated[Principal, require_scope("campaigns:send")]
SuppressionsRead = Annotated[Principal, require_scope("suppressions:read")]
SuppressionsWrite = Annotated[Principal, require_scope("suppressions:write")]


def _part(principal: Principal) -> Partition:
    return Partition.of(principal.key)


# -- contacts --------------------------------------------------------------------------------


@router.get("/v1/contacts", operation_id="contacts_list")
def list_contacts(
    principal: ContactsRead,
    runtime: RuntimeDep,
    limit: Limit = None,
    after: After = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> Json:
    """Contacts in id order; `email` finds one."""
    return runtime.mail.contacts.page(_part(principal), limit=limit, after=after, email=email)


@router.post("/v1/contacts", operation_id="contacts_create", responses=JSON_BODY, status_code=201)
def create_contact(body: ContactIn, principal: ContactsWrite, runtime: RuntimeDep) -> Json:
    return runtime.mail.contacts.create(_part(principal), body)


@router.post(
    "/v1/contacts/import",
    operation_id="contacts_import",
    openapi_extra={
        "x-max-body-bytes": MAX_CSV_BYTES,
        "requestBody": {
            "required": True,
            "description": "UTF-8 CSV: a header row with an `email` column, then one contact "
            "per row (`first_name`, `last_name`; any other column becomes an attribute).",
            # The body is read as bytes whatever its type; octet-stream is listed for the
            # generators that know no text/csv (openapi-python-client).
            "content": {
                "text/csv": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "email,first_name\nada@example.com,Ada\n",
                },
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        },
    },
    responses={**NOT_FOUND, **TOO_LARGE},
)
async def import_contacts(
    request: Request,
    principal: ContactsWrite,
    runtime: RuntimeDep,
    list_id: Annotated[str | None, Query(max_length=40)] = None,
) -> Json:
    """CSV with a header row and an `email` column; good rows are imported (and added to
    `list_id`), bad rows are reported with their line number."""
    data = await request.body()
    return await run_in_threadpool(
        runtime.mail.contacts.import_csv, _part(principal), data, list_id
    )


@router.get("/v1/contacts/{contact_id}", operation_id="contacts_get", responses=NOT_FOUND)
def get_contact(contact_id: Id, principal: ContactsRead, runtime: RuntimeDep) -> Json:
    return runtime.mail.contacts.get(_part(principal), contact_id)


@router.patch(
    "/v1/contacts/{contact_id}",
    operation_id="contacts_update",
    responses={**NOT_FOUND, **JSON_BODY},
)
def update_contact(
    contact_id: Id, body: ContactPatch, principal: ContactsWrite, runtime: RuntimeDep
) -> Json:
    return runtime.mail.contacts.update(_part(principal), contact_id, body)


@router.delete(
    "/v1/contacts/{contact_id}",
    operation_id="contacts_delete",
    responses=NOT_FOUND,
    status_code=204,
)
def delete_contact(contact_id: Id, principal: ContactsWrite, runtime: RuntimeDep) -> Response:
    runtime.mail.contacts.delete(_part(principal), contact_id)
    return Response(status_code=204)


# -- lists -----------------------------------------------------------------------------------


@router.get("/v1/lists", operation_id="lists_list")
def list_lists(
    principal: ListsRead, runtime: RuntimeDep, limit: Limit = None, after: After = None
) -> Json:
    return runtime.mail.lists.page(_part(principal), limit=limit, after=after)


@router.post("/v1/lists", operation_id="lists_create", responses=JSON_BODY, status_code=201)
def create_list(body: ListIn, principal: ListsWrite, runtime: RuntimeDep) -> Json:
    return runtime.mail.lists.create(_part(principal), body)


@router.get("/v1/lists/{list_id}", operation_id="lists_get", responses=NOT_FOUND)
def get_list(list_id: Id, principal: ListsRead, runtime: RuntimeDep) -> Json:
    return runtime.mail.lists.get(_part(principal), list_id)


@router.patch(
    "/v1/lists/{list_id}", operation_id="lists_update", responses={**NOT_FOUND, **JSON_BODY}
)
def update_list(list_id: Id, body: ListPatch, principal: ListsWrite, runtime: RuntimeDep) -> Json:
    return runtime.mail.lists.update(_part(principal), list_id, body)


@router.delete(
    "/v1/lists/{list_id}", operation_id="lists_delete", responses=NOT_FOUND, status_code=204
)
def delete_list(list_id: Id, principal: ListsWrite, runtime: RuntimeDep) -> Response:
    runtime.mail.lists.delete(_part(principal), list_id)
    return Response(status_code=204)


@router.get("/v1/lists/{list_id}/members", operation_id="lists_members_list", responses=NOT_FOUND)
def list_members(
    list_id: Id, principal: ListsRead, runtime: RuntimeDep, limit: Limit = None, after: After = None
) -> Json:
    return runtime.mail.lists.members(_part(principal), list_id, limit=limit, after=after)


@router.post(
    "/v1/lists/{list_id}/members",
    operation_id="lists_members_add",
    responses={**NOT_FOUND, **JSON_BODY},
)
def add_members(list_id: Id, body: MembersIn, principal: ListsWrite, runtime: RuntimeDep) -> Json:
    """Add existing contacts, by id or by email."""
    return runtime.mail.lists.add_members(_part(principal), list_id, body)


@router.delete(
    "/v1/lists/{list_id}/members/{contact_id}",
    operation_id="lists_members_remove",
    responses=NOT_FOUND,
    status_code=204,
)
def remove_member(
    list_id: Id, contact_id: Id, principal: ListsWrite, runtime: RuntimeDep
) -> Response:
    runtime.mail.lists.remove_member(_part(principal), list_id, contact_id)
    return Response(status_code=204)


# -- templates -------------------------------------------------------------------------------


@router.get("/v1/templates", operation_id="templates_list")
def list_templates(
    principal: TemplatesRead, runtime: RuntimeDep, limit: Limit = None, after: After = None
) -> Json:
    return runtime.mail.templates.page(_part(principal), limit=limit, after=after)


@router.post("/v1/templates", operation_id="templates_create", responses=JSON_BODY, status_code=201)
def create_template(body: TemplateIn, principal: TemplatesWrite, runtime: RuntimeDep) -> Json:
    """Subject, text and/or HTML with `{{ variables }}`; names are unique per environment."""
    return runtime.mail.templates.create(_part(principal), body)


@router.get("/v1/templates/{ref}", operation_id="templates_get", responses=NOT_FOUND)
def get_template(ref: Ref, principal: TemplatesRead, runtime: RuntimeDep) -> Json:
    return runtime.mail.templates.get(_part(principal), ref)


@router.patch(
    "/v1/templates/{ref}", operation_id="templates_update", responses={**NOT_FOUND, **JSON_BODY}
)
def update_template(
    ref: Ref, body: TemplatePatch, principal: TemplatesWrite, runtime: RuntimeDep
) -> Json:
    return runtime.mail.templates.update(_part(principal), ref, body)


@router.delete(
    "/v1/templates/{ref}", operation_id="templates_delete", responses=NOT_FOUND, status_code=204
)
def delete_template(ref: Ref, principal: TemplatesWrite, runtime: RuntimeDep) -> Response:
    runtime.mail.templates.delete(_part(principal), ref)
    return Response(status_code=204)


# -- campaigns -------------------------------------------------------------------------------


@router.get("/v1/campaigns", operation_id="campaigns_list")
def list_campaigns(
    principal: CampaignsRead, runtime: RuntimeDep, limit: Limit = None, after: After = None
) -> Json:
    return runtime.mail.campaigns.page(_part(principal), limit=limit, after=after)


@router.post("/v1/campaigns", operation_id="campaigns_create", responses=JSON_BODY, status_code=201)
def create_campaign(body: CampaignIn, principal: CampaignsWrite, runtime: RuntimeDep) -> Json:
    """A draft: a template (id or name), a list and a sender."""
    return runtime.mail.campaigns.create(_part(principal), body)


@router.get("/v1/campaigns/{campaign_id}", operation_id="campaigns_get", responses=NOT_FOUND)
def get_campaign(campaign_id: Id, principal: CampaignsRead, runtime: RuntimeDep) -> Json:
    return runtime.mail.campaigns.get(_part(principal), campaign_id)


@router.patch(
    "/v1/campaigns/{campaign_id}",
    operation_id="campaigns_update",
    responses={**NOT_FOUND, **JSON_BODY},
)
def update_campaign(
    campaign_id: Id, body: CampaignPatch, principal: CampaignsWrite, runtime: RuntimeDep
) -> Json:
    return runtime.mail.campaigns.update(_part(principal), campaign_id, body)


@router.delete(
    "/v1/campaigns/{campaign_id}",
    operation_id="campaigns_delete",
    responses=NOT_FOUND,
    status_code=204,
)
def delete_campaign(campaign_id: Id, principal: CampaignsWrite, runtime: RuntimeDep) -> Response:
    runtime.mail.campaigns.delete(_part(principal), campaign_id)
    return Response(status_code=204)


@router.post(
    "/v1/campaigns/{campaign_id}/send",
    operation_id="campaigns_send",
    responses=NOT_FOUND,
    status_code=202,
)
def send_campaign(
    campaign_id: Id, principal: CampaignsSend, runtime: RuntimeDep, request: Request
) -> Json:
    """Queue the campaign through the sending policy and the outbox; all or nothing, once."""
    mark_usage_recorded(request)  # the service writes this request's usage event
    try:
        return runtime.mail.campaigns.send(
            caller_of(principal, request, "campaigns:send"), campaign_id
        )
    except KeyguardError as error:
        runtime.limits.count_refusal(error)  # the quota metric (keyguard_rate_limit_hits)
        raise


# -- suppressions ----------------------------------------------------------------------------


@router.get("/v1/suppressions", operation_id="suppressions_list")
def list_suppressions(
    principal: SuppressionsRead, runtime: RuntimeDep, limit: Limit = None, after: After = None
) -> Json:
    return runtime.mail.suppressions.page(_part(principal), limit=limit, after=after)


@router.post(
    "/v1/suppressions", operation_id="suppressions_create", responses=JSON_BODY, status_code=201
)
def add_suppression(body: SuppressionIn, principal: SuppressionsWrite, runtime: RuntimeDep) -> Json:
    """Never send to this address (or `@domain`) again from this environment."""
    return runtime.mail.suppressions.add(_part(principal), body)


@router.delete(
    "/v1/suppressions/{address}",
    operation_id="suppressions_delete",
    responses=NOT_FOUND,
    status_code=204,
)
def remove_suppression(
    address: Annotated[str, Path(max_length=320)], principal: SuppressionsWrite, runtime: RuntimeDep
) -> Response:
    runtime.mail.suppressions.remove(_part(principal), address)
    return Response(status_code=204)
