"""WhatsApp Flows on Meta's side: `POST|GET /{waba_id}/flows`, `GET|POST|DELETE /{flow_id}`,
`GET|POST /{flow_id}/assets`, `POST /{flow_id}/publish|deprecate`; the sandbox's flow view and
health changes. Life cycle: DRAFT -> PUBLISHED -> DEPRECATED (a PUBLISHED flow may also be
BLOCKED or THROTTLED by Meta's health checks). Refusals use the Flows API error codes (139001
update, 139002 publish, 139003 deprecate, 139004 delete)."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from wabalink.meta import wabas
from wabalink.meta.access import APPLICATION_NAME, authorize_waba
from wabalink.meta.calls import GraphCall, GraphHandler, SandboxCall, SandboxHandler
from wabalink.meta.errors import (
    GraphError,
    SandboxError,
    invalid_parameter_error,
    permission_error,
    unknown_object_error,
)
from wabalink.meta.flow_json import check_flow_json
from wabalink.meta.flow_pages import asset_download_url, preview_url, timestamp
from wabalink.meta.paging import page_answer, page_request
from wabalink.meta.routing import Route
from wabalink.meta.sandbox_input import NUMERIC_ID, meta_id, required_str
from wabalink.meta.webhooks import enqueue_webhook
from wabalink.server.http import HttpResponse, json_response
from wabalink.store import meta_flows
from wabalink.store.db import Cursor
from wabalink.store.meta_flows import FlowRecord
from wabalink.store.meta_state import new_numeric_id

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

CATEGORIES = ("SIGN_UP", "SIGN_IN", "APPOINTMENT_BOOKING", "LEAD_GENERATION", "SHOPPING", "CONTACT_US",
              "CUSTOMER_SUPPORT", "SURVEY", "OTHER")
NAME_MAX_LENGTH = 200
ENDPOINT_MAX_LENGTH = 2048
FLOW_JSON_MAX_BYTES = 10 * 1024 * 1024
ASSET_NAME, ASSET_TYPE = "flow.json", "FLOW_JSON"
UPDATE_ERROR, PUBLISH_ERROR, DEPRECATE_ERROR, DELETE_ERROR = 139001, 139002, 139003, 139004
LIVE_STATUSES = ("PUBLISHED", "BLOCKED", "THROTTLED")
DEFAULT_FIELDS = ["id", "name", "status", "categories", "validation_errors"]



def flow_error(code: int, message: str) -> GraphError:
    return GraphError(400, message, "OAuthException", code)


# --- parameters -----------------------------------------------------------------------------------

def _name(params: dict[str, str], required: bool) -> str | None:
    name = params.get("name")
    if name is None and not required:
        return None
    if not name or not name.strip() or len(name) > NAME_MAX_LENGTH:
        raise invalid_parameter_error(f"Param name must be a non-empty string of at most {NAME_MAX_LENGTH} characters")
    return name


def _categories(params: dict[str, str], required: bool) -> list[str] | None:
    raw = params.get("categories")
    if raw is None and not required:
        return None
    try:
        categories = json.loads(raw) if raw is not None else None
    except ValueError:
        categories = [raw]  # a single category, unquoted
    if (not isinstance(categories, list) or not 1 <= len(categories) <= len(CATEGORIES)
            or any(c not in CATEGORIES for c in categories)):
        raise invalid_parameter_error(f"Param categories must be a list of 1 to 9 of {', '.join(CATEGORIES)}")
    return list(dict.fromkeys(categories))


def _endpoint_uri(params: dict[str, str]) -> str | None:
    uri = params.get("endpoint_uri")
    if uri is None:
        return None
    if not uri.startswith("https://") or len(uri) > ENDPOINT_MAX_LENGTH or any(c.isspace() for c in uri):
        raise invalid_parameter_error("Param endpoint_uri must be an https:// URL")
    return uri


def _flow_json(text: str | None) -> str | None:
    if text is not None and len(text.encode()) > FLOW_JSON_MAX_BYTES:
        raise invalid_parameter_error("The Flow JSON is larger than 10 MB")
    return text


def _with_json(flow: FlowRecord, flow_json: str | None) -> FlowRecord:
    """The flow with this JSON (or its own), validated against its endpoint."""
    text = flow_json if flow_json is not None else flow.flow_json
    if text is None:
        return flow
    check = check_flow_json(text, endpoint_uri=flow.endpoint_uri)
    return replace(flow, flow_json=text, validation_errors=check.errors, json_version=check.json_version,
                   data_api_version=check.data_api_version)


def _save_with_status(sim: MetaSimulator, cursor: Cursor, before: FlowRecord, after: FlowRecord) -> None:
    """Saves the flow; a new status is Meta's `flows` webhook (FLOW_STATUS_CHANGE), queued in the
    same transaction."""
    meta_flows.save_flow(cursor, after)
    if before.status != after.status:
        enqueue_webhook(sim, cursor, after.waba_id, "flows", {
            "event": "FLOW_STATUS_CHANGE", "flow_id": after.id, "old_status": before.status,
            "new_status": after.status,
            "message": f"Flow {after.name} changed status from {before.status} to {after.status}"})


def _owned_flow(sim: MetaSimulator, call: GraphCall, cursor: Any, *, for_update: bool = False) -> FlowRecord:
    flow_id = call.args.get("flow_id") or call.args["object_id"]
    flow = meta_flows.get_flow(cursor, flow_id, for_update=for_update)
    if flow is None:
        raise unknown_object_error(flow_id, call.method)
    if not call.caller.may_manage(flow.waba_id):
        raise permission_error(f"Flow {flow_id}")
    return flow


# --- Graph ----------------------------------------------------------------------------------------

def _create(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    waba_id, params = call.args["waba_id"], call.params
    authorize_waba(sim, call.caller, waba_id, "POST")
    name, categories = _name(params, True), _categories(params, True)
    endpoint, flow_json = _endpoint_uri(params), _flow_json(params.get("flow_json"))
    publish = params.get("publish", "false").lower() == "true"
    clone_id = params.get("clone_flow_id")
    now = time.time()
    with sim.state.store.writer() as cursor:
        cursor.lock(f"meta-flows:{waba_id}")
        if meta_flows.name_taken(cursor, waba_id, name or ""):
            raise invalid_parameter_error(f"Invalid parameter: a Flow named '{name}' already exists in this "
                                          "WhatsApp Business Account")
        if clone_id is not None:
            source = meta_flows.get_flow(cursor, clone_id) if NUMERIC_ID.fullmatch(clone_id) else None
            if source is None or source.waba_id != waba_id:
                raise invalid_parameter_error(f"Invalid parameter clone_flow_id: Flow {clone_id} is not a Flow of "
                                              "this WhatsApp Business Account")
            flow_json = flow_json if flow_json is not None else source.flow_json
            endpoint = endpoint if endpoint is not None else source.endpoint_uri
        flow = _with_json(FlowRecord(
            id=new_numeric_id(), waba_id=waba_id, name=name or "", categories=categories or [], status="DRAFT",
            flow_json=None, json_version=None, data_api_version=None, endpoint_uri=endpoint, validation_errors=[],
            app_id=sim.app.app_id, preview_token=None, preview_expires_at=None, created_at=now, updated_at=now),
            flow_json)
        if publish and flow.flow_json is not None and not flow.validation_errors:
            flow = replace(flow, status="PUBLISHED")
        meta_flows.insert_flow(cursor, flow)
    answer: dict[str, Any] = {"id": flow.id, "success": True}
    if flow.flow_json is not None:
        answer["validation_errors"] = flow.validation_errors
    return answer


def _list(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    waba_id, params = call.args["waba_id"], call.params
    request = page_request(params)
    authorize_waba(sim, call.caller, waba_id, "GET")
    with sim.state.store.reader() as cursor:
        page = meta_flows.list_flows(cursor, waba_id, request.after, request.limit + 1)
    rows = [{"id": f.id, "name": f.name, "status": f.status, "categories": f.categories,
             "validation_errors": f.validation_errors} for f in page[:request.limit]]
    return page_answer(rows, len(page) > request.limit, request, f"{waba_id}/flows")


def read_object(sim: MetaSimulator, call: GraphCall) -> dict[str, Any] | None:
    """`GET /{object_id}` of a flow (None for other ids): its fields, a preview link on request."""
    if not _is_flow(sim, call.args["object_id"]):
        return None
    fields = _fields(call.params.get("fields", ""))
    with sim.state.store.writer() as cursor:
        flow = _owned_flow(sim, call, cursor, for_update=True)
        if "preview" in fields:
            flow = _fresh_preview(sim, cursor, flow, invalidate=fields["preview"] == "true")
    return _flow_node(sim, flow, list(fields) or DEFAULT_FIELDS)


def _is_flow(sim: MetaSimulator, flow_id: str) -> bool:
    with sim.state.store.reader() as cursor:
        return meta_flows.get_flow(cursor, flow_id) is not None


def _fields(text: str) -> dict[str, str]:
    """`id,name,preview.invalidate(true)` -> {"id": "", "name": "", "preview": "true"}."""
    fields: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, modifier = item.partition(".")
        fields[name] = modifier.removeprefix("invalidate(").removesuffix(")").lower() if modifier else ""
    return fields


def _fresh_preview(sim: MetaSimulator, cursor: Any, flow: FlowRecord, *, invalidate: bool) -> FlowRecord:
    now = time.time()
    if flow.preview_token and flow.preview_expires_at and flow.preview_expires_at > now and not invalidate:
        return flow
    flow = replace(flow, preview_token=secrets.token_urlsafe(32),
                   preview_expires_at=now + sim.settings.flow_preview_lifetime_seconds)
    meta_flows.save_flow(cursor, flow)
    return flow


def _flow_node(sim: MetaSimulator, flow: FlowRecord, fields: list[str]) -> dict[str, Any]:
    waba = sim.state.get_waba(flow.waba_id)
    health = {"BLOCKED": "BLOCKED", "THROTTLED": "LIMITED"}.get(flow.status, "AVAILABLE")
    node: dict[str, Any] = {
        "id": flow.id, "name": flow.name, "status": flow.status, "categories": flow.categories,
        "validation_errors": flow.validation_errors, "json_version": flow.json_version,
        "data_api_version": flow.data_api_version, "endpoint_uri": flow.endpoint_uri,
        "application": {"link": f"https://www.facebook.com/games/?app_id={flow.app_id}", "name": APPLICATION_NAME,
                        "id": flow.app_id},
        "health_status": {"can_send_message": health, "entities": [
            {"entity_type": "FLOW", "id": flow.id, "can_send_message": health},
            {"entity_type": "WABA", "id": flow.waba_id, "can_send_message": "AVAILABLE"},
            {"entity_type": "BUSINESS", "id": waba.business_id if waba else flow.waba_id,
             "can_send_message": "AVAILABLE"},
            {"entity_type": "APP", "id": flow.app_id, "can_send_message": "AVAILABLE"}]},
    }
    if waba is not None:
        node["whatsapp_business_account"] = {k: v for k, v in wabas.waba_fields(waba).items()
                                             if k in ("id", "name", "currency", "timezone_id",
                                                      "message_template_namespace")}
    if flow.preview_token and flow.preview_expires_at:
        node["preview"] = {"preview_url": preview_url(sim, flow.preview_token),
                           "expires_at": timestamp(flow.preview_expires_at)}
    selected = {name: node[name] for name in fields if node.get(name) is not None}
    selected["id"] = flow.id
    return selected


def post_object(sim: MetaSimulator, call: GraphCall) -> dict[str, Any] | None:
    """`POST /{object_id}` of a flow (None for other ids): its metadata."""
    if not _is_flow(sim, call.args["object_id"]):
        return None
    params = call.params
    name, categories, endpoint = _name(params, False), _categories(params, False), _endpoint_uri(params)
    app_id = params.get("application_id")
    if app_id is not None and app_id != sim.app.app_id:
        raise invalid_parameter_error(f"Invalid parameter application_id: app {app_id} does not exist or is not "
                                      "connected to this WhatsApp Business Account")
    with sim.state.store.writer() as cursor:
        flow = _owned_flow(sim, call, cursor, for_update=True)
        if flow.status == "DEPRECATED":
            raise flow_error(UPDATE_ERROR, "Flow can't be updated: it is DEPRECATED.")
        if name is not None and meta_flows.name_taken(cursor, flow.waba_id, name, other_than=flow.id):
            raise invalid_parameter_error(f"Invalid parameter: a Flow named '{name}' already exists in this "
                                          "WhatsApp Business Account")
        flow = replace(flow, name=name or flow.name, categories=categories or flow.categories,
                       endpoint_uri=endpoint or flow.endpoint_uri, app_id=app_id or flow.app_id,
                       updated_at=time.time())
        meta_flows.save_flow(cursor, _with_json(flow, None))  # the endpoint may settle a validation error
    return {"success": True}


def _upload_assets(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    params = call.params
    if params.get("name") != ASSET_NAME or params.get("asset_type") != ASSET_TYPE:
        raise invalid_parameter_error(f"Params name and asset_type must be '{ASSET_NAME}' and '{ASSET_TYPE}'")
    text = _flow_json(params.get("file"))
    if text is None:
        raise invalid_parameter_error("The parameter file is required")
    with sim.state.store.writer() as cursor:
        flow = _owned_flow(sim, call, cursor, for_update=True)
        if flow.status == "DEPRECATED":
            raise flow_error(UPDATE_ERROR, "Flow can't be updated: it is DEPRECATED.")
        # A published flow's new JSON is a new draft: it must be published again.
        before, flow = flow, _with_json(replace(flow, status="DRAFT", updated_at=time.time()), text)
        _save_with_status(sim, cursor, before, flow)
    return {"success": True, "validation_errors": flow.validation_errors}


def _list_assets(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    with sim.state.store.reader() as cursor:
        flow = _owned_flow(sim, call, cursor)
    if flow.flow_json is None:
        return {"data": [], "paging": {}}
    asset = {"name": ASSET_NAME, "asset_type": ASSET_TYPE, "download_url": asset_download_url(sim, flow.id)}
    return {"data": [asset], "paging": {"cursors": {"before": "MAZDZD", "after": "MAZDZD"}}}


def _transition(action: str) -> Any:
    """Publish (DRAFT -> PUBLISHED) or deprecate (PUBLISHED -> DEPRECATED)."""

    def handler(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
        with sim.state.store.writer() as cursor:
            flow = _owned_flow(sim, call, cursor, for_update=True)
            if action == "publish":
                if flow.status != "DRAFT":
                    raise flow_error(PUBLISH_ERROR, f"Flow can't be published: it is {flow.status}, not DRAFT.")
                if flow.flow_json is None or flow.validation_errors:
                    raise flow_error(PUBLISH_ERROR, "Flow can't be published: its Flow JSON is missing or has "
                                     "validation errors.")
                status = "PUBLISHED"
            else:
                if flow.status not in LIVE_STATUSES:
                    raise flow_error(DEPRECATE_ERROR, f"Flow can't be deprecated: it is {flow.status}, "
                                     "not PUBLISHED.")
                status = "DEPRECATED"
            _save_with_status(sim, cursor, flow, replace(flow, status=status, updated_at=time.time()))
        return {"success": True}

    return handler


def delete_object(sim: MetaSimulator, call: GraphCall) -> dict[str, Any] | None:
    """`DELETE /{object_id}` of a flow (None for other ids): only drafts."""
    if not _is_flow(sim, call.args["object_id"]):
        return None
    with sim.state.store.writer() as cursor:
        flow = _owned_flow(sim, call, cursor, for_update=True)
        if flow.status != "DRAFT":
            raise flow_error(DELETE_ERROR, f"Flow can't be deleted: it is {flow.status}; only DRAFT Flows can be "
                             "deleted (deprecate a published Flow instead).")
        meta_flows.delete_flow(cursor, flow.id)
    return {"success": True}


# `GET|POST|DELETE /{flow_id}` are `read_object`, `post_object` and `delete_object` (meta/objects.py).
GRAPH_ROUTES: list[Route[GraphHandler]] = [
    Route("POST", "/{waba_id}/flows", _create),
    Route("GET", "/{waba_id}/flows", _list),
    Route("GET", "/{flow_id}/assets", _list_assets),
    Route("POST", "/{flow_id}/assets", _upload_assets),
    Route("POST", "/{flow_id}/publish", _transition("publish")),
    Route("POST", "/{flow_id}/deprecate", _transition("deprecate")),
]


# --- sandbox --------------------------------------------------------------------------------------

def _sandbox_flow(sim: MetaSimulator, flow_id: str) -> FlowRecord:
    with sim.state.store.reader() as cursor:
        flow = meta_flows.get_flow(cursor, meta_id(flow_id, "flowId"))
    if flow is None:
        raise SandboxError(404, f"flow {flow_id} not found")
    return flow


def flow_json_view(flow: FlowRecord) -> dict[str, Any]:
    return {"flowId": flow.id, "wabaId": flow.waba_id, "name": flow.name, "status": flow.status,
            "categories": flow.categories, "jsonVersion": flow.json_version, "endpointUri": flow.endpoint_uri,
            "validationErrors": flow.validation_errors,
            "flowJson": json.loads(flow.flow_json) if flow.flow_json and not flow.validation_errors else flow.flow_json}


def _show(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    return json_response(200, flow_json_view(_sandbox_flow(sim, call.args["flow_id"])))


def _set_health(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    """Meta's health checks: a live flow becomes BLOCKED or THROTTLED, or recovers (PUBLISHED)."""
    status = required_str(call.body(), "status")
    if status not in LIVE_STATUSES:
        raise SandboxError(400, f"status must be one of {', '.join(LIVE_STATUSES)}")
    flow_id = meta_id(call.args["flow_id"], "flowId")
    with sim.state.store.writer() as cursor:
        flow = meta_flows.get_flow(cursor, flow_id, for_update=True)
        if flow is None:
            raise SandboxError(404, f"flow {flow_id} not found")
        if flow.status not in LIVE_STATUSES:
            raise SandboxError(409, f"flow {flow_id} is {flow.status}: only a published flow has a health status")
        before, flow = flow, replace(flow, status=status, updated_at=time.time())
        _save_with_status(sim, cursor, before, flow)
    return json_response(200, flow_json_view(flow))


SANDBOX_ROUTES: list[Route[SandboxHandler]] = [
    Route("GET", "/flows/{flow_id}", _show),
    Route("PUT", "/flows/{flow_id}/status", _set_health),
]
