"""Phone numbers: Graph's `/{waba_id}/phone_numbers` edge, `/{phone_id}/register` and
`/deregister`; the sandbox's number creation and quality-rating changes."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from wabalink.meta.access import authorize_phone, authorize_waba
from wabalink.meta.calls import GraphCall, GraphHandler, SandboxCall, SandboxHandler
from wabalink.meta.errors import GraphError, SandboxError, invalid_parameter_error, unknown_object_error
from wabalink.meta.paging import page_answer, page_request
from wabalink.meta.routing import Route
from wabalink.meta.sandbox_input import meta_id, optional_int, optional_str, required_str
from wabalink.server.http import HttpResponse, json_response
from wabalink.store.meta_state import NewPhoneNumber, PhoneNumberRecord, RegistrationOutcome

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

QUALITY_RATINGS = ("GREEN", "YELLOW", "RED", "UNKNOWN")
PIN_PATTERN = re.compile(r"[0-9]{6}")
REGION_PATTERN = re.compile(r"[A-Z]{2}")
# meta_phone_numbers.display_phone_number holds 20 characters.
DISPLAY_PHONE_NUMBER = re.compile(r"\+?[0-9][0-9 ()\-]{4,18}")
MAX_PHONE_NUMBERS_PER_CALL = 100
PIN_CONFLICT_CODE = 133005


def random_display_phone_number() -> str:
    # Area code 555 is not assigned in North America: never a real subscriber.
    return f"+1 555-01{secrets.randbelow(10)}-{secrets.randbelow(10000):04d}"


def phone_fields(phone: PhoneNumberRecord) -> dict[str, Any]:
    """A number as Graph shows it."""
    registered = phone.status == "REGISTERED"
    return {
        "id": phone.id,
        "display_phone_number": phone.display_phone_number,
        "verified_name": phone.verified_name,
        "quality_rating": phone.quality_rating,
        "code_verification_status": "VERIFIED",
        "platform_type": "CLOUD_API" if registered else "NOT_APPLICABLE",
        "status": "CONNECTED" if registered else "PENDING",
        "name_status": "APPROVED",
        "throughput": {"level": "STANDARD"},
    }


# --- Graph --------------------------------------------------------------------------------------

def phone_numbers_page(sim: MetaSimulator, waba_id: str, params: dict[str, str]) -> dict[str, Any]:
    """One page of a WABA's numbers, with Meta's paging object (also used by field expansion).
    The caller has checked access to the WABA."""
    request = page_request(params)
    page = sim.state.list_phone_numbers(waba_id, after_id=request.after, limit=request.limit + 1)
    rows = [phone_fields(p) for p in page[:request.limit]]
    return page_answer(rows, len(page) > request.limit, request, f"{waba_id}/phone_numbers")


def _list(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    waba_id = call.args["waba_id"]
    authorize_waba(sim, call.caller, waba_id, "GET")
    return phone_numbers_page(sim, waba_id, call.params)


def _register(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    phone_id, params = call.args["phone_id"], call.params
    authorize_phone(sim, call.caller, phone_id, "POST")
    if params.get("messaging_product") != "whatsapp":
        raise invalid_parameter_error("The parameter messaging_product is required and must be 'whatsapp'")
    pin = params.get("pin")
    if pin is None:
        raise invalid_parameter_error("The parameter pin is required")
    if not PIN_PATTERN.fullmatch(pin):
        raise invalid_parameter_error("Param pin must be 6 digits")
    region = params.get("data_localization_region") or None
    if region is not None and not REGION_PATTERN.fullmatch(region):
        raise invalid_parameter_error("Param data_localization_region must be a 2-letter ISO 3166 country code")
    outcome = sim.state.register_phone_number(phone_id, pin, region)
    if outcome == RegistrationOutcome.NOT_FOUND:
        raise unknown_object_error(phone_id, "POST")
    if outcome == RegistrationOutcome.PIN_MISMATCH:
        raise GraphError(400, "Two step verification PIN Mismatch", "OAuthException", PIN_CONFLICT_CODE)
    if outcome == RegistrationOutcome.CONFLICT:
        raise GraphError(503, "Service temporarily unavailable. Please retry your request.", "OAuthException", 2)
    return {"success": True}


def _deregister(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    phone_id = call.args["phone_id"]
    authorize_phone(sim, call.caller, phone_id, "POST")
    if not sim.state.deregister_phone_number(phone_id):
        raise unknown_object_error(phone_id, "POST")
    return {"success": True}


GRAPH_ROUTES: list[Route[GraphHandler]] = [
    Route("GET", "/{waba_id}/phone_numbers", _list),
    Route("POST", "/{phone_id}/register", _register),
    Route("POST", "/{phone_id}/deregister", _deregister),
]


# --- sandbox ------------------------------------------------------------------------------------

def phone_json(phone: PhoneNumberRecord) -> dict[str, Any]:
    return {
        "id": phone.id,
        "wabaId": phone.waba_id,
        "displayPhoneNumber": phone.display_phone_number,
        "verifiedName": phone.verified_name,
        "qualityRating": phone.quality_rating,
        "status": phone.status,
        "dataLocalizationRegion": phone.data_localization_region,
        "pinSet": phone.has_pin,
    }


def _add(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    waba_id = meta_id(call.args["waba_id"], "wabaId")
    body = call.body()
    count = optional_int(body, "count", 1, minimum=1, maximum=MAX_PHONE_NUMBERS_PER_CALL)
    display = optional_str(body, "displayPhoneNumber", max_length=20)
    if display is not None and not DISPLAY_PHONE_NUMBER.fullmatch(display):
        raise SandboxError(400, "displayPhoneNumber must be a phone number of at most 20 characters "
                           "like +1 555-010-1234")
    verified_name = optional_str(body, "verifiedName")
    waba = sim.state.get_waba(waba_id)
    if waba is None:
        raise SandboxError(404, f"WABA {waba_id} not found")
    if display is not None and count != 1:
        raise SandboxError(400, "displayPhoneNumber can only be given with count 1")
    numbers = [NewPhoneNumber(display or random_display_phone_number(), verified_name or waba.name)
               for _ in range(count)]
    added = sim.state.add_phone_numbers(waba_id, numbers)
    if added is None:
        raise SandboxError(404, f"WABA {waba_id} not found")
    return json_response(201, {"wabaId": waba_id, "phoneNumbers": [phone_json(p) for p in added]})


def _set_quality_rating(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    phone_id = meta_id(call.args["phone_id"], "phoneNumberId")
    rating = required_str(call.body(), "qualityRating")
    if rating not in QUALITY_RATINGS:
        raise SandboxError(400, f"qualityRating must be one of {', '.join(QUALITY_RATINGS)}")
    if not sim.state.set_quality_rating(phone_id, rating):
        raise SandboxError(404, f"phone number {phone_id} not found")
    phone = sim.state.get_phone_number(phone_id)
    if phone is None:
        raise SandboxError(404, f"phone number {phone_id} not found")
    return json_response(200, phone_json(phone))


SANDBOX_ROUTES: list[Route[SandboxHandler]] = [
    Route("POST", "/wabas/{waba_id}/phone-numbers", _add),
    Route("PUT", "/phone-numbers/{phone_id}/quality-rating", _set_quality_rating),
]
