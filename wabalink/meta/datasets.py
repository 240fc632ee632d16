"""Conversions API for business messaging: Graph's `POST|GET /{waba_id}/dataset` (one dataset per
WABA: creating again answers the existing one) and `POST /{dataset_id}/events`; the sandbox lists
the events a dataset received."""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from wabalink.meta.access import authorize_waba
from wabalink.meta.calls import GraphCall, GraphHandler, SandboxCall, SandboxHandler
from wabalink.meta.errors import (
    GraphError,
    SandboxError,
    invalid_parameter_error,
    permission_error,
    unknown_object_error,
)
from wabalink.meta.routing import Route
from wabalink.meta.sandbox_input import meta_id
from wabalink.server.http import HttpResponse, json_response
from wabalink.store import meta_datasets

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

# Standard events of the Conversions API for business messaging.
EVENT_NAMES = ("Purchase", "LeadSubmitted", "InitiateCheckout", "AddToCart", "ViewContent", "OrderCreated",
               "OrderShipped", "OrderDelivered", "OrderCanceled", "OrderReturned", "CartAbandoned",
               "QualifiedLead", "RatingProvided", "ReviewProvided")
ACTION_SOURCE, MESSAGING_CHANNEL = "business_messaging", "whatsapp"
MAX_EVENTS_PER_REQUEST = 1000
MAX_EVENT_AGE_SECONDS = 7 * 24 * 3600
MAX_CLOCK_SKEW_SECONDS = 60
# Customer information parameters sent hashed (SHA-256, lowercase hex).
HASHED_FIELDS = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
CURRENCY = re.compile(r"[A-Za-z]{3}")
LIST_LIMIT = 100


def _new_dataset_id() -> str:
    return str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(15))


# --- Graph ----------------------------------------------------------------------------------------

def _create(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    waba_id = call.args["waba_id"]
    authorize_waba(sim, call.caller, waba_id, "POST")
    waba = sim.state.get_waba(waba_id)
    with sim.state.store.writer() as cursor:
        cursor.lock(f"meta-dataset:{waba_id}")
        existing = meta_datasets.dataset_of_waba(cursor, waba_id)
        if existing is not None:
            return {"id": existing["id"]}
        dataset_id = _new_dataset_id()
        meta_datasets.insert_dataset(cursor, dataset_id, waba_id, f"{waba.name if waba else waba_id} dataset",
                                     time.time())
    return {"id": dataset_id}


def _get(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    waba_id = call.args["waba_id"]
    authorize_waba(sim, call.caller, waba_id, "GET")
    with sim.state.store.reader() as cursor:
        existing = meta_datasets.dataset_of_waba(cursor, waba_id)
    return {"data": [{"id": existing["id"], "name": existing["name"]}] if existing else []}


def _events(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    dataset_id = call.args["dataset_id"]
    with sim.state.store.reader() as cursor:
        dataset = meta_datasets.get_dataset(cursor, dataset_id)
    if dataset is None:
        raise unknown_object_error(dataset_id, "POST")
    if not call.caller.may_manage(dataset["waba_id"]):
        raise permission_error(f"dataset {dataset_id}")
    events = _checked_events(call.params.get("data"), dataset["waba_id"])
    trace_id = secrets.token_urlsafe(20)
    now = time.time()
    with sim.state.store.writer() as cursor:
        for event in events:
            meta_datasets.insert_event(cursor, dataset_id, trace_id, event["event_name"], int(event["event_time"]),
                                       json.dumps(event), now)
    return {"events_received": len(events), "messages": [], "fbtrace_id": trace_id}


def _checked_events(raw: str | None, waba_id: str) -> list[dict[str, Any]]:
    if raw is None:
        raise invalid_parameter_error("The parameter data is required")
    try:
        events = json.loads(raw)
    except ValueError:
        raise invalid_parameter_error("Param data must be a JSON array of events") from None
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS_PER_REQUEST:
        raise invalid_parameter_error(f"Param data must be an array of 1 to {MAX_EVENTS_PER_REQUEST} events")
    now = time.time()
    for index, event in enumerate(events):
        problem = _event_problem(event, now, waba_id)
        if problem is not None:
            raise GraphError(400, f"(#100) Invalid parameter: data[{index}].{problem}", "OAuthException", 100)
    return events


def _event_problem(event: Any, now: float, waba_id: str) -> str | None:
    if not isinstance(event, dict):
        return " must be an event object"
    if event.get("event_name") not in EVENT_NAMES:
        return f"event_name must be one of {', '.join(EVENT_NAMES)}"
    event_time = event.get("event_time")
    if isinstance(event_time, bool) or not isinstance(event_time, int):
        return "event_time must be a Unix timestamp in seconds"
    if event_time > now + MAX_CLOCK_SKEW_SECONDS:
        return "event_time is in the future"
    if event_time < now - MAX_EVENT_AGE_SECONDS:
        return "event_time is more than 7 days old"
    if event.get("action_source") != ACTION_SOURCE:
        return f"action_source must be '{ACTION_SOURCE}'"
    if event.get("messaging_channel") != MESSAGING_CHANNEL:
        return f"messaging_channel must be '{MESSAGING_CHANNEL}'"
    return _user_data_problem(event.get("user_data"), waba_id) or _custom_data_problem(event)


def _user_data_problem(user_data: Any, waba_id: str) -> str | None:
    if not isinstance(user_data, dict):
        return "user_data is required (an object)"
    if str(user_data.get("whatsapp_business_account_id")) != waba_id:
        return "user_data.whatsapp_business_account_id must be the dataset's WhatsApp Business Account id"
    if not isinstance(user_data.get("ctwa_clid"), str) or not user_data["ctwa_clid"]:
        return "user_data.ctwa_clid is required (the click id of the ad that started the conversation)"
    for name in HASHED_FIELDS:
        value = user_data.get(name)
        values = value if isinstance(value, list) else [value]
        if value is not None and not all(isinstance(v, str) and SHA256_HEX.fullmatch(v) for v in values):
            return f"user_data.{name} must be hashed: SHA-256 as 64 lowercase hex digits"
    return None


def _custom_data_problem(event: dict[str, Any]) -> str | None:
    custom = event.get("custom_data")
    if event["event_name"] != "Purchase" and custom is None:
        return None
    if not isinstance(custom, dict):
        return "custom_data is required for Purchase (currency and value)"
    if "currency" in custom or event["event_name"] == "Purchase":
        if not isinstance(custom.get("currency"), str) or not CURRENCY.fullmatch(custom["currency"]):
            return "custom_data.currency must be an ISO 4217 code"
        value = custom.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            return "custom_data.value must be a non-negative number"
    return None


GRAPH_ROUTES: list[Route[GraphHandler]] = [
    Route("POST", "/{waba_id}/dataset", _create),
    Route("GET", "/{waba_id}/dataset", _get),
    Route("POST", "/{dataset_id}/events", _events),
]


# --- sandbox --------------------------------------------------------------------------------------

def _received(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    dataset_id = meta_id(call.args["dataset_id"], "datasetId")
    with sim.state.store.reader() as cursor:
        dataset = meta_datasets.get_dataset(cursor, dataset_id)
        if dataset is None:
            raise SandboxError(404, f"dataset {dataset_id} not found")
        rows = meta_datasets.recent_events(cursor, dataset_id, LIST_LIMIT)
    return json_response(200, {"datasetId": dataset_id, "wabaId": dataset["waba_id"], "events": [
        {"requestId": row["request_id"], "eventName": row["event_name"], "eventTime": row["event_time"],
         "receivedAt": row["received_at"], "event": json.loads(row["payload"])} for row in rows]})


SANDBOX_ROUTES: list[Route[SandboxHandler]] = [
    Route("GET", "/datasets/{dataset_id}/events", _received),
]
