"""WhatsApp calling on Meta's side: Graph's `GET /{phone_id}/call_permissions?user_wa_id=...` and
`POST /{phone_id}/calls` (connect, pre_accept, accept, reject, terminate); the sandbox plays the
WhatsApp user (grants or revokes call permission, calls the business, answers, rejects, hangs up).

Call states: RINGING -> (PRE_ACCEPTED ->) ACCEPTED -> TERMINATED, or REJECTED / TERMINATED
before being answered. Each change is a `calls` webhook. Error codes are the simulator's within
Meta's calling range: 138006 no call permission, 138003 a call with that user is in progress,
138004 the call is not in a state that allows the action, 138005 the start_call limit is reached."""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from wabalink.meta.access import authorize_phone
from wabalink.meta.calls import GraphCall, GraphHandler, SandboxCall, SandboxHandler
from wabalink.meta.errors import GraphError, SandboxError, invalid_parameter_error, unknown_object_error
from wabalink.meta.routing import Route
from wabalink.meta.sandbox_input import meta_id, optional_int, required_str
from wabalink.meta.webhooks import enqueue_webhook
from wabalink.server.http import HttpResponse, json_response
from wabalink.store import meta_calling
from wabalink.store.db import Cursor, Query
from wabalink.store.schema import meta_phone_numbers

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

NO_PERMISSION, PERMISSION_CONFLICT, STATE_CONFLICT, CALL_LIMIT = 138006, 138003, 138004, 138005
USER_ID = re.compile(r"\+?[1-9][0-9]{1,14}|[A-Z]{2}\.[0-9A-Za-z]{1,96}")  # a wa_id, or a BSUID (CC.<id>)
SDP_TYPES = {"connect": "offer", "pre_accept": "answer", "accept": "answer"}
START_CALL_LIMIT, START_CALL_PERIOD = 100, ("PT24H", 24 * 3600)
REQUEST_LIMITS = (("PT24H", 1), ("P7D", 2))  # call permission requests a business may send
TEMPORARY_PERMISSION_SECONDS = 7 * 24 * 3600
PERMISSION_STATUSES = ("temporary", "permanent", "no_permission")
# (action, direction, states it applies to) -> the new state
TRANSITIONS = {
    ("pre_accept", "USER_INITIATED"): (("RINGING",), "PRE_ACCEPTED"),
    ("accept", "USER_INITIATED"): (("RINGING", "PRE_ACCEPTED"), "ACCEPTED"),
    ("reject", "USER_INITIATED"): (("RINGING", "PRE_ACCEPTED"), "REJECTED"),
    ("terminate", "USER_INITIATED"): (meta_calling.ACTIVE_STATUSES, "TERMINATED"),
    ("terminate", "BUSINESS_INITIATED"): (meta_calling.ACTIVE_STATUSES, "TERMINATED"),
}


_PHONE = Query(select(meta_phone_numbers.c.waba_id, meta_phone_numbers.c.display_phone_number)
               .where(meta_phone_numbers.c.id == bindparam("phone")))


def user_key(value: str) -> str:
    """A user as the permission and call tables key them: wa_id digits, or the BSUID."""
    return value.lstrip("+")


def _permission(cursor: Cursor, phone_id: str, user: str, now: float) -> tuple[str, float | None]:
    row = meta_calling.get_permission(cursor, phone_id, user)
    if row is None or (row["expires_at"] is not None and row["expires_at"] <= now):
        return "no_permission", None
    return row["status"], row["expires_at"]


def permission_answer(cursor: Cursor, phone_id: str, user: str, now: float) -> dict[str, Any]:
    status, expires_at = _permission(cursor, phone_id, user, now)
    used, oldest = meta_calling.calls_started_since(cursor, phone_id, user, now - START_CALL_PERIOD[1])
    start_limit: dict[str, Any] = {"time_period": START_CALL_PERIOD[0], "max_allowed": START_CALL_LIMIT,
                                   "current_usage": used}
    if used >= START_CALL_LIMIT and oldest is not None:
        start_limit["limit_expiration_time"] = int(oldest + START_CALL_PERIOD[1])
    permission: dict[str, Any] = {"status": status}
    if expires_at is not None:
        permission["expiration_time"] = int(expires_at)
    return {"messaging_product": "whatsapp", "permission": permission, "actions": [
        {"action_name": "send_call_permission_request", "can_perform_action": status == "no_permission",
         "limits": [{"time_period": period, "max_allowed": allowed, "current_usage": 0}
                    for period, allowed in REQUEST_LIMITS]},
        {"action_name": "start_call", "can_perform_action": status != "no_permission" and used < START_CALL_LIMIT,
         "limits": [start_limit]}]}


def _notify(sim: MetaSimulator, cursor: Cursor, phone_id: str, call: dict[str, Any], event: str) -> None:
    """The `calls` webhook of a state change, queued in the change's transaction."""
    phone = cursor.row(_PHONE, phone=phone_id)  # inside the caller's transaction
    if phone is None:
        return
    business = "".join(ch for ch in phone["display_phone_number"] if ch.isdigit())
    caller, callee = ((business, call["user_id"]) if call["direction"] == "BUSINESS_INITIATED"
                      else (call["user_id"], business))
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": business, "phone_number_id": phone_id},
             "calls": [{"id": call["id"], "from": caller, "to": callee, "event": event, "status": call["status"],
                        "direction": call["direction"], "timestamp": str(int(time.time()))}]}
    enqueue_webhook(sim, cursor, phone["waba_id"], "calls", value)


# --- Graph ----------------------------------------------------------------------------------------

def _get_permission(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    phone_id = call.args["phone_id"]
    authorize_phone(sim, call.caller, phone_id, "GET")
    user = call.params.get("user_wa_id") or call.params.get("user_id")
    if not user or not USER_ID.fullmatch(user):
        raise invalid_parameter_error("Param user_wa_id must be a WhatsApp user id (digits) or user_id a BSUID")
    if sim.state.get_phone_number(phone_id) is None:
        raise unknown_object_error(phone_id, "GET")
    with sim.state.store.reader() as cursor:
        return permission_answer(cursor, phone_id, user_key(user), time.time())


def _call_action(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    phone_id, params = call.args["phone_id"], call.params
    authorize_phone(sim, call.caller, phone_id, "POST")
    if params.get("messaging_product") != "whatsapp":
        raise invalid_parameter_error("The parameter messaging_product is required and must be 'whatsapp'")
    action = params.get("action")
    if action not in ("connect", "pre_accept", "accept", "reject", "terminate"):
        raise invalid_parameter_error("Param action must be one of connect, pre_accept, accept, reject, terminate")
    if action in SDP_TYPES:
        _check_session(params.get("session"), SDP_TYPES[action])
    if sim.state.get_phone_number(phone_id) is None:
        raise unknown_object_error(phone_id, "POST")
    if action == "connect":
        return _connect(sim, phone_id, params.get("to"))
    call_id = params.get("call_id")
    if not call_id or len(call_id) > 64:
        raise invalid_parameter_error("The parameter call_id is required")
    with sim.state.store.writer() as cursor:
        found = meta_calling.get_call(cursor, call_id)
        if found is None or found["phone_id"] != phone_id:
            raise GraphError(400, f"(#100) Invalid parameter call_id: call {call_id} not found", "OAuthException",
                             100, 33)
        allowed = TRANSITIONS.get((action, found["direction"]))
        if allowed is None or found["status"] not in allowed[0]:
            raise GraphError(400, f"Call {call_id} is {found['status']} ({found['direction']}): the action "
                             f"'{action}' does not apply to it now.", "OAuthException", STATE_CONFLICT)
        meta_calling.set_call_status(cursor, call_id, allowed[1], time.time())
        _notify(sim, cursor, phone_id, {**found, "status": allowed[1]}, action)
    return {"messaging_product": "whatsapp", "success": True}


def _check_session(session_text: str | None, sdp_type: str) -> None:
    try:
        session = json.loads(session_text) if session_text else None
    except ValueError:
        session = None
    if (not isinstance(session, dict) or session.get("sdp_type") != sdp_type
            or not isinstance(session.get("sdp"), str) or not session["sdp"].startswith("v=0")):
        raise invalid_parameter_error(f"Param session must be {{\"sdp_type\": \"{sdp_type}\", \"sdp\": \"v=0...\"}} "
                                      "(an RFC 8866 SDP)")


def _connect(sim: MetaSimulator, phone_id: str, to: str | None) -> dict[str, Any]:
    if not to or not USER_ID.fullmatch(to):
        raise invalid_parameter_error("Param to must be the WhatsApp user's phone number or BSUID")
    user, now = user_key(to), time.time()
    with sim.state.store.writer() as cursor:
        cursor.lock(f"meta-calls:{phone_id}:{user}")
        status, _ = _permission(cursor, phone_id, user, now)
        if status == "no_permission":
            raise GraphError(400, "No approved call permission from the recipient: send a call permission request "
                             "first.", "OAuthException", NO_PERMISSION)
        if meta_calling.active_call(cursor, phone_id, user) is not None:
            raise GraphError(400, "A call with this user is already in progress.", "OAuthException",
                             PERMISSION_CONFLICT)
        used, _ = meta_calling.calls_started_since(cursor, phone_id, user, now - START_CALL_PERIOD[1])
        if used >= START_CALL_LIMIT:
            raise GraphError(400, "Limit of business-initiated calls to this user reached.", "OAuthException",
                             CALL_LIMIT)
        call_id = "wacid." + secrets.token_urlsafe(24)
        meta_calling.insert_call(cursor, call_id, phone_id, user, "BUSINESS_INITIATED", now)
        _notify(sim, cursor, phone_id, meta_calling.get_call(cursor, call_id) or {}, "connect")
    return {"messaging_product": "whatsapp", "calls": [{"id": call_id}]}


GRAPH_ROUTES: list[Route[GraphHandler]] = [
    Route("GET", "/{phone_id}/call_permissions", _get_permission),
    Route("POST", "/{phone_id}/calls", _call_action),
]


# --- sandbox: the WhatsApp user ------------------------------------------------------------------

def _sandbox_user(call: SandboxCall) -> tuple[str, str]:
    phone_id = meta_id(call.args["phone_id"], "phoneNumberId")
    user = call.args["user"]
    if not USER_ID.fullmatch(user):
        raise SandboxError(400, "user must be a WhatsApp user's phone number (digits) or BSUID")
    return phone_id, user_key(user)


def _set_permission(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    """The user's answer to a call permission request: temporary (7 days by default), permanent,
    or no_permission (declined or revoked)."""
    phone_id, user = _sandbox_user(call)
    body = call.body()
    status = required_str(body, "status")
    if status not in PERMISSION_STATUSES:
        raise SandboxError(400, f"status must be one of {', '.join(PERMISSION_STATUSES)}")
    lifetime = optional_int(body, "expiresInSeconds", TEMPORARY_PERMISSION_SECONDS, minimum=-10 ** 9,
                            maximum=10 ** 9)
    if sim.state.get_phone_number(phone_id) is None:
        raise SandboxError(404, f"phone number {phone_id} not found")
    now = time.time()
    with sim.state.store.writer() as cursor:
        meta_calling.set_permission(cursor, phone_id, user, None if status == "no_permission" else status,
                                    now + lifetime if status == "temporary" else None, now)
        return json_response(200, {"phoneNumberId": phone_id, "user": user,
                                   **permission_answer(cursor, phone_id, user, now)})


def _inbound_call(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    """The user calls the business number: a RINGING call the business pre-accepts, accepts or rejects."""
    phone_id, user = _sandbox_user(call)
    if sim.state.get_phone_number(phone_id) is None:
        raise SandboxError(404, f"phone number {phone_id} not found")
    with sim.state.store.writer() as cursor:
        cursor.lock(f"meta-calls:{phone_id}:{user}")
        if meta_calling.active_call(cursor, phone_id, user) is not None:
            raise SandboxError(409, f"user {user} is already in a call with {phone_id}")
        call_id = "wacid." + secrets.token_urlsafe(24)
        meta_calling.insert_call(cursor, call_id, phone_id, user, "USER_INITIATED", time.time())
        row = meta_calling.get_call(cursor, call_id) or {}
        _notify(sim, cursor, phone_id, row, "connect")
    return json_response(201, _call_json(row))


def _user_action(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    """The user answers, rejects or hangs up (`action`: answer | reject | hangup)."""
    call_id, action = call.args["call_id"], call.args["action"]
    changes = {"answer": (("RINGING",), "ACCEPTED"), "reject": (("RINGING",), "REJECTED"),
               "hangup": (meta_calling.ACTIVE_STATUSES, "TERMINATED")}
    if action not in changes or len(call_id) > 64:
        raise SandboxError(404, f"no sandbox route for call action {action}")
    with sim.state.store.writer() as cursor:
        row = meta_calling.get_call(cursor, call_id)
        if row is None:
            raise SandboxError(404, f"call {call_id} not found")
        states, new_status = changes[action]
        if row["status"] not in states or (action != "hangup" and row["direction"] != "BUSINESS_INITIATED"):
            raise SandboxError(409, f"call {call_id} is {row['status']} ({row['direction']}): the user cannot "
                               f"{action} it")
        meta_calling.set_call_status(cursor, call_id, new_status, time.time())
        row = {**row, "status": new_status}
        _notify(sim, cursor, row["phone_id"], row, {"answer": "accept"}.get(action, action))
    return json_response(200, _call_json(row))


def _show_call(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    with sim.state.store.reader() as cursor:
        row = meta_calling.get_call(cursor, call.args["call_id"][:64])
    if row is None:
        raise SandboxError(404, f"call {call.args['call_id']} not found")
    return json_response(200, _call_json(row))


def _call_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"callId": row["id"], "phoneNumberId": row["phone_id"], "user": row["user_id"],
            "direction": row["direction"], "status": row["status"], "createdAt": row["created_at"],
            "updatedAt": row["updated_at"]}


SANDBOX_ROUTES: list[Route[SandboxHandler]] = [
    Route("PUT", "/phone-numbers/{phone_id}/call-permissions/{user}", _set_permission),
    Route("POST", "/phone-numbers/{phone_id}/calls/{user}", _inbound_call),
    Route("GET", "/calls/{call_id}", _show_call),
    Route("POST", "/calls/{call_id}/{action}", _user_action),
]
