"""The simulator's sandbox over HTTP (mounted at `/meta/sandbox`): JSON in and out, camelCase.

Routes:
  POST   /wabas                              create a WABA with numbers and a sign-up token
  GET    /wabas/{wabaId}                     its state (numbers, registration, subscriptions)
  POST   /wabas/{wabaId}/phone-numbers       add numbers
  POST   /tokens                             mint an embedded sign-up token
  POST   /tokens/expire, /tokens/revoke      {accessToken}
  PUT    /phone-numbers/{id}/quality-rating  {qualityRating}
  GET | PUT | DELETE /faults                 injected Graph failures and latency
Bad input answers 400 `{"error": {"message"}}` naming the field; unknown ids 404.
"""

from __future__ import annotations

import re
from typing import Any

from wabalink.meta.simulator import MetaSimulator, SandboxError
from wabalink.server.http import HttpRequest, HttpResponse, json_response
from wabalink.store.meta_state import FaultState, PhoneNumberRecord

MAX_PHONE_NUMBERS_PER_CALL = 100
MAX_TOKEN_LIFETIME_SECONDS = 10 * 365 * 86400
CURRENCY = re.compile(r"^[A-Z]{3}$")
NUMERIC_ID = re.compile(r"^[0-9]{1,32}$")


def handle_sandbox(simulator: MetaSimulator, request: HttpRequest, path_after_prefix: str) -> HttpResponse:
    try:
        segments = [s for s in path_after_prefix.split("/") if s]
        return _dispatch(simulator, request.method.upper(), segments, request)
    except SandboxError as error:
        return _error(error.status, error.message)


def _dispatch(sim: MetaSimulator, method: str, segments: list[str], request: HttpRequest) -> HttpResponse:
    match (method, segments):
        case ("POST", ["wabas"]):
            return _create_waba(sim, _body(request))
        case ("GET", ["wabas", waba_id]):
            return json_response(200, _waba_state(sim, waba_id))
        case ("POST", ["wabas", waba_id, "phone-numbers"]):
            return _add_phone_numbers(sim, waba_id, _body(request))
        case ("POST", ["tokens"]):
            return _mint_token(sim, _body(request))
        case ("POST", ["tokens", "expire"]):
            sim.expire_token(_required_str(_body(request), "accessToken"))
            return json_response(200, {"expired": True})
        case ("POST", ["tokens", "revoke"]):
            sim.revoke_token(_required_str(_body(request), "accessToken"))
            return json_response(200, {"revoked": True})
        case ("PUT", ["phone-numbers", phone_id, "quality-rating"]):
            rating = _required_str(_body(request), "qualityRating")
            return json_response(200, _phone_json(sim.set_quality_rating(phone_id, rating)))
        case ("GET", ["faults"]):
            return json_response(200, _faults_json(sim.get_faults()))
        case ("PUT", ["faults"]):
            return json_response(200, _faults_json(sim.set_faults(_faults_from(_body(request)))))
        case ("DELETE", ["faults"]):
            return json_response(200, _faults_json(sim.clear_faults()))
    return _error(404, f"no sandbox route {method} /{'/'.join(segments)}")


# --- handlers -----------------------------------------------------------------------------------

def _create_waba(sim: MetaSimulator, body: dict[str, Any]) -> HttpResponse:
    name = _required_str(body, "name")
    count = _optional_int(body, "phoneNumbers", 1, minimum=0, maximum=MAX_PHONE_NUMBERS_PER_CALL)
    currency = _optional_str(body, "currency") or "USD"
    if not CURRENCY.match(currency):
        raise SandboxError(400, "currency must be a 3-letter ISO 4217 code")
    timezone_id = _optional_str(body, "timezoneId") or "1"
    if not timezone_id.isdigit() or len(timezone_id) > 8:
        raise SandboxError(400, "timezoneId must be a numeric Meta timezone id")
    business_name = _optional_str(body, "businessName")
    created = sim.create_waba(name=name, phone_numbers=count, currency=currency, timezone_id=timezone_id,
                              business_name=business_name)
    waba = created.created.waba
    return json_response(201, {
        "wabaId": waba.id,
        "businessId": waba.business_id,
        "name": waba.name,
        "currency": waba.currency,
        "timezoneId": waba.timezone_id,
        "phoneNumbers": [_phone_json(p) for p in created.created.phone_numbers],
        "accessToken": created.token.access_token,
        "expiresAt": _epoch(created.token.expires_at),
    })


def _add_phone_numbers(sim: MetaSimulator, waba_id: str, body: dict[str, Any]) -> HttpResponse:
    count = _optional_int(body, "count", 1, minimum=1, maximum=MAX_PHONE_NUMBERS_PER_CALL)
    display = _optional_str(body, "displayPhoneNumber")
    if display is not None and not re.match(r"^\+?[0-9][0-9 ()\-]{4,19}$", display):
        raise SandboxError(400, "displayPhoneNumber must be a phone number like +1 555-010-1234")
    verified_name = _optional_str(body, "verifiedName")
    added = sim.add_phone_numbers(waba_id, count=count, display_phone_number=display, verified_name=verified_name)
    return json_response(201, {"wabaId": waba_id, "phoneNumbers": [_phone_json(p) for p in added]})


def _waba_state(sim: MetaSimulator, waba_id: str) -> dict[str, Any]:
    state = sim.waba_state(waba_id)
    return {
        "wabaId": state.waba.id,
        "businessId": state.waba.business_id,
        "name": state.waba.name,
        "currency": state.waba.currency,
        "timezoneId": state.waba.timezone_id,
        "phoneNumbers": [_phone_json(p) for p in state.phone_numbers],
        "subscribedApps": state.subscribed_app_ids,
    }


def _mint_token(sim: MetaSimulator, body: dict[str, Any]) -> HttpResponse:
    waba_ids = body.get("wabaIds", [])
    if not isinstance(waba_ids, list) or not all(isinstance(w, str) and NUMERIC_ID.match(w) for w in waba_ids):
        raise SandboxError(400, "wabaIds must be a list of Meta WABA ids (numeric strings)")
    scopes = body.get("scopes")
    if scopes is not None and (not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes)):
        raise SandboxError(400, "scopes must be a list of permission names")
    expires_in = body.get("expiresInSeconds")
    if expires_in is not None:
        expires_in = _optional_int(body, "expiresInSeconds", 0, minimum=0, maximum=MAX_TOKEN_LIFETIME_SECONDS)
    minted = sim.mint_token(waba_ids, scopes=scopes, expires_in_seconds=expires_in)
    return json_response(201, {"accessToken": minted.access_token, "expiresAt": _epoch(minted.expires_at)})


def _faults_from(body: dict[str, Any]) -> FaultState:
    status = _optional_int(body, "failStatus", 500, minimum=400, maximum=599)
    path_contains = _optional_str(body, "pathContains")
    return FaultState(
        fail_next_calls=_optional_int(body, "failNextCalls", 0, minimum=0, maximum=1_000_000),
        fail_status=status,
        fail_path_contains=path_contains or None,
        latency_ms=_optional_int(body, "latencyMs", 0, minimum=0, maximum=60_000),
    )


# --- JSON shapes --------------------------------------------------------------------------------

def _phone_json(phone: PhoneNumberRecord) -> dict[str, Any]:
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


def _faults_json(faults: FaultState) -> dict[str, Any]:
    return {"failNextCalls": faults.fail_next_calls, "failStatus": faults.fail_status,
            "pathContains": faults.fail_path_contains, "latencyMs": faults.latency_ms}


def _epoch(value: float | None) -> int | None:
    return None if value is None else int(value)


# --- input ----------------------------------------------------------------------------------------

def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise SandboxError(400, "request body must be JSON") from None
    if not isinstance(body, dict):
        raise SandboxError(400, "request body must be a JSON object")
    return body


def _required_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise SandboxError(400, f"{name} is required (a non-empty string)")
    if len(value) > 1000:
        raise SandboxError(400, f"{name} is too long")
    return value


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise SandboxError(400, f"{name} must be a string of at most 200 characters")
    return value


def _optional_int(body: dict[str, Any], name: str, default: int, *, minimum: int, maximum: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise SandboxError(400, f"{name} must be an integer from {minimum} to {maximum}")
    return value


def _error(status: int, message: str) -> HttpResponse:
    return json_response(status, {"error": {"message": message}})


__all__ = ["handle_sandbox"]
