"""Businesses and WhatsApp Business Accounts: Graph's object read `GET /{object_id}` (a WABA or a
phone number, with `phone_numbers{...}` field expansion) and the `subscribed_apps` edge; the
sandbox's WABA creation and state."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from wabalink.meta import webhooks
from wabalink.meta.access import APPLICATION_NAME, DEFAULT_SCOPES, authorize_waba, require_waba
from wabalink.meta.calls import GraphCall, GraphHandler, SandboxCall, SandboxHandler
from wabalink.meta.errors import SandboxError, permission_error, unknown_object_error
from wabalink.meta.phone_numbers import (
    MAX_PHONE_NUMBERS_PER_CALL,
    phone_fields,
    phone_json,
    phone_numbers_page,
    random_display_phone_number,
)
from wabalink.meta.routing import Route
from wabalink.meta.sandbox_input import meta_id, optional_int, optional_str, required_str
from wabalink.meta.tokens import epoch, new_token_record
from wabalink.server.http import HttpResponse, json_response
from wabalink.store.meta_state import NewPhoneNumber, WabaRecord

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

CURRENCY = re.compile(r"[A-Z]{3}")
TIMEZONE_ID = re.compile(r"[0-9]{1,8}")


def waba_fields(waba: WabaRecord) -> dict[str, Any]:
    return {"id": waba.id, "name": waba.name, "currency": waba.currency, "timezone_id": waba.timezone_id,
            "message_template_namespace": f"wabalink_{waba.id}", "account_review_status": "APPROVED",
            "owner_business_info": {"id": waba.business_id}}


# --- Graph --------------------------------------------------------------------------------------

def read_object(sim: MetaSimulator, call: GraphCall) -> dict[str, Any] | None:
    """`GET /{object_id}` for a WABA or a phone number; None for other ids."""
    object_id, caller = call.args["object_id"], call.caller
    fields, expansions = parse_fields(call.params.get("fields", ""))
    waba = sim.state.get_waba(object_id)
    if waba is not None:
        if not caller.may_manage(waba.id):
            raise permission_error(f"WhatsApp Business Account {waba.id}")
        node = select_fields(waba_fields(waba), fields, default=["id", "name"])
        if "phone_numbers" in expansions:
            # Field expansion (`phone_numbers{id,...}`): the edge's first page inside the node.
            node["phone_numbers"] = phone_numbers_page(sim, object_id, {})
        return node
    phone = sim.state.get_phone_number(object_id)
    if phone is not None:
        if not caller.may_manage(phone.waba_id):
            raise permission_error(f"phone number {phone.id}")
        return select_fields(phone_fields(phone), fields, default=list(phone_fields(phone)))
    return None


def _subscribe(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    waba_id, caller = call.args["waba_id"], call.caller
    if not caller.is_app:
        authorize_waba(sim, caller, waba_id, "POST")
    webhooks.check_override(call.params)  # before subscribing: a refused call changes nothing
    if not sim.state.subscribe_app(waba_id, caller.app_id):
        raise unknown_object_error(waba_id, "POST")
    webhooks.save_subscription_override(sim, waba_id, caller.app_id, call.params)
    return {"success": True}


def _unsubscribe(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    authorize_waba(sim, call.caller, call.args["waba_id"], "DELETE")
    sim.state.unsubscribe_app(call.args["waba_id"], call.caller.app_id)
    webhooks.remove_subscription_override(sim, call.args["waba_id"], call.caller.app_id)
    return {"success": True}


def _subscribed_apps(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    waba_id = call.args["waba_id"]
    authorize_waba(sim, call.caller, waba_id, "GET")
    return {"data": [
        {"whatsapp_business_api_data": {"id": app_id, "name": APPLICATION_NAME,
                                        "link": f"https://www.facebook.com/games/?app_id={app_id}"}}
        for app_id in sim.state.subscribed_app_ids(waba_id)
    ]}


GRAPH_ROUTES: list[Route[GraphHandler]] = [
    Route("POST", "/{waba_id}/subscribed_apps", _subscribe),
    Route("DELETE", "/{waba_id}/subscribed_apps", _unsubscribe),
    Route("GET", "/{waba_id}/subscribed_apps", _subscribed_apps),
]


def parse_fields(text: str) -> tuple[list[str], dict[str, str]]:
    """`id,name,phone_numbers{id,quality_rating}` -> (["id", "name"], {"phone_numbers": "id,quality_rating"})."""
    fields: list[str] = []
    expansions: dict[str, str] = {}
    depth, start = 0, 0
    for index, char in enumerate(text + ","):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            item = text[start:index].strip()
            start = index + 1
            if "{" in item:
                name, _, inner = item.partition("{")
                expansions[name.strip()] = inner.rstrip("}")
            elif item:
                fields.append(item)
    return fields, expansions


def select_fields(node: dict[str, Any], fields: list[str] | None, default: list[str]) -> dict[str, Any]:
    wanted = fields or default
    selected = {name: node[name] for name in wanted if name in node}
    selected["id"] = node["id"]
    return selected


# --- sandbox ------------------------------------------------------------------------------------

def _create(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    """A business, its WABA with N numbers, and a fresh embedded sign-up token granted it."""
    body = call.body()
    name = required_str(body, "name")
    count = optional_int(body, "phoneNumbers", 1, minimum=0, maximum=MAX_PHONE_NUMBERS_PER_CALL)
    currency = optional_str(body, "currency") or "USD"
    if not CURRENCY.fullmatch(currency):
        raise SandboxError(400, "currency must be a 3-letter ISO 4217 code")
    timezone_id = optional_str(body, "timezoneId") or "1"
    if not TIMEZONE_ID.fullmatch(timezone_id):
        raise SandboxError(400, "timezoneId must be a numeric Meta timezone id")
    business_name = optional_str(body, "businessName")
    numbers = [NewPhoneNumber(random_display_phone_number(), name) for _ in range(count)]
    token = new_token_record(sim, [], DEFAULT_SCOPES, sim.token_lifetime_seconds)
    created = sim.state.create_waba(business_name=business_name or name, name=name, currency=currency,
                                    timezone_id=timezone_id, phone_numbers=numbers, token=token)
    waba = created.waba
    return json_response(201, {
        "wabaId": waba.id,
        "businessId": waba.business_id,
        "name": waba.name,
        "currency": waba.currency,
        "timezoneId": waba.timezone_id,
        "phoneNumbers": [phone_json(p) for p in created.phone_numbers],
        "accessToken": token.token,
        "expiresAt": epoch(token.expires_at),
    })


def _state(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    waba_id = meta_id(call.args["waba_id"], "wabaId")
    waba = sim.state.get_waba(waba_id)
    if waba is None:
        raise SandboxError(404, f"WABA {waba_id} not found")
    return json_response(200, {
        "wabaId": waba.id,
        "businessId": waba.business_id,
        "name": waba.name,
        "currency": waba.currency,
        "timezoneId": waba.timezone_id,
        "phoneNumbers": [phone_json(p) for p in sim.state.list_phone_numbers(waba_id)],
        "subscribedApps": sim.state.subscribed_app_ids(waba_id),
    })


SANDBOX_ROUTES: list[Route[SandboxHandler]] = [
    Route("POST", "/wabas", _create),
    Route("GET", "/wabas/{waba_id}", _state),
]

__all__ = ["GRAPH_ROUTES", "SANDBOX_ROUTES", "require_waba"]
