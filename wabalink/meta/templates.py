"""Message templates on Meta's side: Graph's `/{waba_id}/message_templates` (create, list with
filters and cursors, delete by name or `hsm_id`), `GET|POST /{template_id}` (read, edit), and the
check a template send must pass (`check_template_send`, used by the messages endpoint). Reviews and
their webhooks are in `template_reviews.py`, the rules in `template_rules.py`.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from wabalink.meta import template_library, template_reviews, template_uploads
from wabalink.meta.access import authorize_waba
from wabalink.meta.calls import GraphCall
from wabalink.meta.errors import GraphError, invalid_parameter_error, permission_error
from wabalink.meta.paging import page_answer, page_request
from wabalink.meta.routing import Route
from wabalink.meta.template_reviews import (
    REVIEW_TIMERS,
    approval_delay,
    before_template_call,
    change_status,
    effective_status,
)
from wabalink.meta.template_rules import (
    TemplateError,
    check_category,
    check_components,
    check_identity,
    check_parameter_format,
    duplicate_error,
    expected_parameters,
    given_parameters,
)
from wabalink.store import meta_templates as rows
from wabalink.store.db import Cursor
from wabalink.store.meta_state import new_numeric_id

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

SUBCODE_NOT_FOUND = 2593002  # "Message template not found"
UNKNOWN_OBJECT_SUBCODE = 33  # unknown_object_error: "Object with ID ... does not exist"
LIST_FILTERS = ("name", "status", "category", "language")


class TemplateSendError(GraphError):
    """A template send Meta refuses (132000, 132001, 132015, 132016), with `error_data.details`."""

    def __init__(self, code: int, title: str, details: str) -> None:
        super().__init__(400, f"(#{code}) {title}", "OAuthException", code)
        self.details = details

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["error"]["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        return body


def template_not_found(what: str) -> TemplateError:
    return TemplateError(f"Message template {what} was not found.", subcode=SUBCODE_NOT_FOUND,
                         title="Message template not found")


# --- Graph: rendering -----------------------------------------------------------------------------

def template_json(row: rows.Row, now: float) -> dict[str, Any]:
    node: dict[str, Any] = {
        "name": row["name"], "parameter_format": row["parameter_format"],
        "components": json.loads(row["components"]), "language": row["language"],
        "status": effective_status(row, now), "category": row["category"], "id": row["id"],
        "quality_score": {"score": "UNKNOWN"}, "rejected_reason": row["reason"] or "NONE"}
    if row["previous_category"]:
        node["previous_category"] = row["previous_category"]
    if row["library_template_name"]:
        node["library_template_name"] = row["library_template_name"]
    if row["cta_url_link_tracking_opted_out"]:
        node["cta_url_link_tracking_opted_out"] = True
    return node


def json_param(params: dict[str, str], name: str) -> Any:
    value = params.get(name)
    if value is None:
        return None
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value  # a plain string where JSON was expected: the rules name the field


def _template_of_caller(sim: MetaSimulator, call: GraphCall, template_id: str) -> rows.Row:
    with sim.state.store.reader() as cursor:
        row = rows.get_template(cursor, template_id)
    if row is None:
        raise template_not_found(template_id)
    if not call.caller.may_manage(row["waba_id"]):
        raise permission_error(f"message template {template_id}")
    return row


# --- Graph: handlers ------------------------------------------------------------------------------

def _create(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    waba_id, params = call.args["waba_id"], call.params
    authorize_waba(sim, call.caller, waba_id, "POST")
    before_template_call(sim)
    if params.get("library_template_name") is not None:
        params = template_library.expanded_params(params, json_param)
    name, language, category = check_identity(params.get("name"), params.get("language"),
                                              params.get("category"))
    parameter_format = check_parameter_format(params.get("parameter_format"))
    with sim.state.store.reader() as cursor:
        components = check_components(json_param(params, "components"), category, parameter_format,
                                      known_handle=lambda handle: rows.handle_exists(cursor, handle))
    now, delay = time.time(), approval_delay(sim)
    row = {"id": new_numeric_id(), "waba_id": waba_id, "name": name, "language": language, "category": category,
           "previous_category": None, "status": "PENDING", "reason": None, "parameter_format": parameter_format,
           "components": json.dumps(components), "library_template_name": params.get("library_template_name"),
           "cta_url_link_tracking_opted_out": False, "review_due_at": now + delay, "created_at": now,
           "updated_at": now}
    try:
        with sim.state.store.writer() as cursor:
            if rows.find_template(cursor, waba_id, name, language) is not None:
                raise duplicate_error(name, language)
            rows.insert_template(cursor, row)
            if delay <= 0:
                change_status(sim, cursor, row, "APPROVED", None, now)
    except IntegrityError:  # a concurrent create of the same name and language won
        raise duplicate_error(name, language) from None
    if delay > 0:
        REVIEW_TIMERS.schedule(sim, now + delay)
    return {"id": row["id"], "status": "APPROVED" if delay <= 0 else "PENDING", "category": category}


def _list(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    waba_id, params = call.args["waba_id"], call.params
    authorize_waba(sim, call.caller, waba_id, "GET")
    before_template_call(sim)
    request = page_request(params)
    filters = {name: params[name] for name in LIST_FILTERS if params.get(name)}
    if "status" in filters:
        filters["status"] = filters["status"].upper()
    if "category" in filters:
        filters["category"] = filters["category"].upper()
    now = time.time()
    with sim.state.store.reader() as cursor:
        page = rows.list_templates(cursor, waba_id, filters, request.after, request.limit + 1)
    data = [template_json(row, now) for row in page[:request.limit]]
    return page_answer(data, len(page) > request.limit, request, f"{waba_id}/message_templates")


def _delete(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    waba_id, params = call.args["waba_id"], call.params
    authorize_waba(sim, call.caller, waba_id, "DELETE")
    name, hsm_id = params.get("name"), params.get("hsm_id") or None
    if not name:
        raise invalid_parameter_error("The parameter name is required")
    with sim.state.store.writer() as cursor:
        if hsm_id is None:
            if rows.delete_templates_named(cursor, waba_id, name) == 0:
                raise template_not_found(repr(name))
            return {"success": True}
        row = rows.get_template(cursor, hsm_id)
        if row is None or row["waba_id"] != waba_id or row["name"] != name:
            raise template_not_found(f"{name!r} with hsm_id {hsm_id}")
        rows.delete_template(cursor, hsm_id)
    return {"success": True}


def get_template_node(sim: MetaSimulator, call: GraphCall) -> dict[str, Any] | None:
    """`GET /{object_id}` for a template id; None when the id is not a template's."""
    with sim.state.store.reader() as cursor:
        found = rows.get_template(cursor, call.args["object_id"])
    if found is None:
        return None
    before_template_call(sim)
    return template_json(_template_of_caller(sim, call, found["id"]), time.time())


def read_object(sim: MetaSimulator, call: GraphCall) -> dict[str, Any] | None:
    """`GET /{object_id}` for a template or an upload session; None for other ids."""
    if call.args["object_id"].startswith(template_uploads.UPLOAD_PREFIX):
        return template_uploads.status(sim, call, call.args["object_id"])
    return get_template_node(sim, call)


def post_object(sim: MetaSimulator, call: GraphCall) -> dict[str, Any] | None:
    """`POST /{object_id}` for an upload session (the bytes) or a template (an edit); None for other ids."""
    object_id = call.args["object_id"]
    if object_id.startswith(template_uploads.UPLOAD_PREFIX):
        return template_uploads.receive(sim, call, object_id)
    with sim.state.store.reader() as cursor:
        if rows.get_template(cursor, object_id) is None:
            return None
    return _edit(sim, call, object_id)


def _edit(sim: MetaSimulator, call: GraphCall, template_id: str) -> dict[str, Any]:
    """`POST /{template_id}`: new components and/or category; Meta reviews the template again."""
    before_template_call(sim)
    row = _template_of_caller(sim, call, template_id)
    params = call.params
    now = time.time()
    if effective_status(row, now) == "PENDING":
        raise TemplateError("a template in review (PENDING) cannot be edited; wait for its review.")
    if row["status"] == "DISABLED":
        raise TemplateError("a DISABLED template cannot be edited.")
    category = check_category(params["category"]) if params.get("category") else row["category"]
    parameter_format = check_parameter_format(params.get("parameter_format") or row["parameter_format"])
    components = json_param(params, "components")
    if components is None:
        components = json.loads(row["components"])
    with sim.state.store.reader() as cursor:
        components = check_components(components, category, parameter_format,
                                      known_handle=lambda handle: rows.handle_exists(cursor, handle))
    delay = approval_delay(sim)
    opted_out = params.get("cta_url_link_tracking_opted_out", "").lower() == "true"
    with sim.state.store.writer() as cursor:
        current = rows.get_template(cursor, template_id)
        if current is None:
            raise template_not_found(template_id)
        rows.edit_template(cursor, template_id, {
            "category": category, "components": json.dumps(components), "parameter_format": parameter_format,
            "cta_url_link_tracking_opted_out": opted_out, "status": "PENDING", "review_due_at": now + delay,
            "updated_at": now})
        if delay <= 0:
            change_status(sim, cursor, {**current, "category": category, "status": "PENDING"}, "APPROVED",
                          None, now)
    if delay > 0:
        REVIEW_TIMERS.schedule(sim, now + delay)
    return {"success": True}


GRAPH_ROUTES = [
    Route("GET", "/message_template_library", template_library.list_library),
    Route("POST", "/{waba_id}/message_templates", _create),
    Route("GET", "/{waba_id}/message_templates", _list),
    Route("DELETE", "/{waba_id}/message_templates", _delete),
    Route("POST", "/{app_id}/uploads", template_uploads.start),
]


# --- sending (called by the messages endpoint) ----------------------------------------------------

def check_template_send(sim: MetaSimulator, waba_id: str, template_json_: Any, cursor: Cursor | None = None) -> None:
    """Refuses a send of `template` (the Cloud API's `template` object) as Meta does: 132001 when the
    WABA has no APPROVED template of that name and language, 132015 / 132016 paused / disabled,
    132000 when a component gets another number of parameters than the template has variables.
    Pass `cursor` when calling inside an open transaction of the store."""
    template = template_json_ if isinstance(template_json_, dict) else {}
    name = template.get("name")
    language = template.get("language")
    code = language.get("code") if isinstance(language, dict) else language
    if not isinstance(name, str) or not isinstance(code, str):
        raise TemplateSendError(132001, "Template name does not exist in the translation",
                                "template name and language code are required")
    if cursor is not None:
        row = rows.find_template(cursor, waba_id, name, code)
    else:
        with sim.state.store.reader(snapshot=False) as own:  # one SELECT, on every template send
            row = rows.find_template(own, waba_id, name, code)
    missing = f"template name ({name}) does not exist in {code}"
    if row is None:
        raise TemplateSendError(132001, "Template name does not exist in the translation", missing)
    status = effective_status(row, time.time())
    if status == "PAUSED":
        raise TemplateSendError(132015, "Template is Paused", f"template {name} ({code}) is paused")
    if status == "DISABLED":
        raise TemplateSendError(132016, "Template is Disabled", f"template {name} ({code}) is disabled")
    if status != "APPROVED":
        raise TemplateSendError(132001, "Template name does not exist in the translation",
                                f"{missing} in APPROVED status (it is {status})")
    expected = expected_parameters(json.loads(row["components"]), row["parameter_format"])
    given = given_parameters(template.get("components"))
    for key in sorted(set(expected) | set(given)):
        if expected.get(key, 0) != given.get(key, 0):
            where = key.replace(":", " ")
            raise TemplateSendError(132000, "Number of parameters does not match the expected number of params",
                                    f"{where}: number of localizable_params ({given.get(key, 0)}) does not "
                                    f"match the expected number of params ({expected.get(key, 0)})")


SANDBOX_ROUTES = template_reviews.SANDBOX_ROUTES

__all__ = ["GRAPH_ROUTES", "SANDBOX_ROUTES", "check_template_send", "TemplateSendError"]
