"""The built-in simulator of Meta's side: businesses, WABAs, phone numbers, webhook subscriptions and
access tokens, kept in the store (meta_* tables) so a restart keeps both sides consistent.

`graph_api.py` exposes the Graph-facing methods over HTTP, `sandbox_api.py` the sandbox ones. Graph
failures are raised as `GraphError`, which carries everything Meta puts in an error answer.
"""

from __future__ import annotations

import hmac
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from wabalink.config import Settings
from wabalink.store.db import Store
from wabalink.store.meta_state import (
    CreatedWaba,
    FaultState,
    MetaState,
    NewPhoneNumber,
    NewToken,
    PhoneNumberRecord,
    RegistrationOutcome,
    TokenRecord,
    WabaRecord,
    new_numeric_id,
)

SCOPE_MANAGEMENT = "whatsapp_business_management"
SCOPE_MESSAGING = "whatsapp_business_messaging"
SCOPE_BUSINESS = "business_management"
DEFAULT_SCOPES = [SCOPE_MANAGEMENT, SCOPE_MESSAGING, SCOPE_BUSINESS]
# Scopes whose grants are per WABA (debug_token lists them in granular_scopes with target ids).
WABA_SCOPES = (SCOPE_MANAGEMENT, SCOPE_MESSAGING)

QUALITY_RATINGS = ("GREEN", "YELLOW", "RED", "UNKNOWN")
PIN_PATTERN = re.compile(r"^[0-9]{6}$")
REGION_PATTERN = re.compile(r"^[A-Z]{2}$")
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600
FAULT_CACHE_SECONDS = 1.0
APPLICATION_NAME = "wabalink"
USER_TOKEN_PREFIX = "EAAW"  # Meta user tokens start with "EAA"


def new_fbtrace_id() -> str:
    alphabet = string.ascii_letters + string.digits + "_-"
    return "".join(secrets.choice(alphabet) for _ in range(27))


def new_user_token() -> str:
    alphabet = string.ascii_letters + string.digits
    return USER_TOKEN_PREFIX + "".join(secrets.choice(alphabet) for _ in range(180))


def random_display_phone_number() -> str:
    # Area code 555 is not assigned in North America: never a real subscriber.
    return f"+1 555-01{secrets.randbelow(10)}-{secrets.randbelow(10000):04d}"


class GraphError(Exception):
    """A Graph API error answer: HTTP status and the `error` object Meta sends."""

    def __init__(self, status: int, message: str, type_: str, code: int, subcode: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = new_fbtrace_id()

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = self.fbtrace_id
        return {"error": error}


class SandboxError(Exception):
    """A sandbox request the simulator refuses: 400 for bad input, 404 for unknown ids."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- Graph errors as Meta words them --------------------------------------------------------

def missing_token_error() -> GraphError:
    return GraphError(400, "An access token is required to request this resource.", "OAuthException", 104)


def invalid_token_error() -> GraphError:
    return GraphError(400, "Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)


def expired_token_error(expires_at: float) -> GraphError:
    when = time.strftime("%A, %d-%b-%y %H:%M:%S UTC", time.gmtime(expires_at))
    return GraphError(400, f"Error validating access token: Session has expired on {when}.",
                      "OAuthException", 190, 463)


def revoked_token_error(app_id: str) -> GraphError:
    return GraphError(400, f"Error validating access token: The user has not authorized application {app_id}.",
                      "OAuthException", 190, 458)


def permission_error(what: str) -> GraphError:
    return GraphError(403, f"(#200) Permissions error: the access token lacks permission for {what}",
                      "OAuthException", 200)


def unknown_object_error(object_id: str, method: str) -> GraphError:
    return GraphError(400, f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
                      "cannot be loaded due to missing permissions, or does not support this operation.",
                      "GraphMethodException", 100, 33)


def invalid_parameter_error(message: str) -> GraphError:
    return GraphError(400, f"(#100) {message}", "OAuthException", 100)


def injected_failure_error(status: int) -> GraphError:
    if status >= 500:
        return GraphError(status, "An unexpected error has occurred. Please retry your request later.",
                          "OAuthException", 2)
    return GraphError(status, "(#1) An unknown error occurred (injected by the wabalink sandbox)",
                      "OAuthException", 1)


# --- who is calling -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    """The holder of a valid access token: the app itself, or a user token's grants."""
    is_app: bool
    app_id: str
    scopes: tuple[str, ...] = ()
    granted_waba_ids: tuple[str, ...] = ()

    def may_manage(self, waba_id: str) -> bool:
        return self.is_app or (SCOPE_MANAGEMENT in self.scopes and waba_id in self.granted_waba_ids)

    def may_message(self, waba_id: str) -> bool:
        return self.is_app or (
            (SCOPE_MESSAGING in self.scopes or SCOPE_MANAGEMENT in self.scopes) and waba_id in self.granted_waba_ids)


@dataclass(frozen=True)
class MintedToken:
    access_token: str
    expires_at: float | None


@dataclass(frozen=True)
class SandboxWaba:
    created: CreatedWaba
    token: MintedToken


@dataclass(frozen=True)
class WabaState:
    waba: WabaRecord
    phone_numbers: list[PhoneNumberRecord]
    subscribed_app_ids: list[str]


class FaultCache:
    """The fault row, cached: every Graph call consults it, and reading it from the store each time
    would cost a query per call. The store stays the authority for consuming failures (conditional
    UPDATE); the cache only decides whether to try. Changes made through this process show at once;
    changes made by another replica sharing the database show within FAULT_CACHE_SECONDS."""

    def __init__(self, state: MetaState) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._faults = FaultState()
        self._fetched_at = float("-inf")

    def get(self) -> FaultState:
        with self._lock:
            if time.monotonic() - self._fetched_at < FAULT_CACHE_SECONDS:
                return self._faults
        return self.refresh()

    def refresh(self) -> FaultState:
        faults = self._state.get_faults()
        with self._lock:
            self._faults, self._fetched_at = faults, time.monotonic()
        return faults

    def consumed_one(self) -> None:
        with self._lock:
            self._faults = replace(self._faults, fail_next_calls=max(0, self._faults.fail_next_calls - 1))


# One cache per database, shared by every simulator on it in this process (the Graph and sandbox
# handlers must see the same faults even if the app built two simulators).
_FAULT_CACHES: dict[str, FaultCache] = {}
_FAULT_CACHES_LOCK = threading.Lock()


def _fault_cache_for(store: Store, state: MetaState) -> FaultCache:
    with _FAULT_CACHES_LOCK:
        cache = _FAULT_CACHES.get(store.url)
        if cache is None or cache._state.store is not store:
            cache = _FAULT_CACHES[store.url] = FaultCache(state)
        return cache


class MetaSimulator:
    """Meta's side. Graph-facing methods take the caller's access token and raise GraphError;
    sandbox methods raise SandboxError."""

    def __init__(self, store: Store, settings: Settings, *,
                 token_lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME_SECONDS) -> None:
        self.state = MetaState(store)
        self.settings = settings
        self.token_lifetime_seconds = token_lifetime_seconds
        self._faults = _fault_cache_for(store, self.state)

    # --- faults (applied first on every Graph call) -----------------------------------------

    def apply_faults(self, path: str) -> None:
        """Sleep the injected latency, then fail if a pending failure matches this path."""
        faults = self._faults.get()
        if faults.latency_ms > 0:
            time.sleep(faults.latency_ms / 1000)  # handlers run in worker threads
        if faults.fail_next_calls <= 0:
            return
        if faults.fail_path_contains and faults.fail_path_contains not in path:
            return
        if self.state.consume_failure(faults):
            self._faults.consumed_one()
            raise injected_failure_error(faults.fail_status)
        self._faults.refresh()  # another caller took the last one, or they were changed

    # --- authentication ---------------------------------------------------------------------

    def is_app_token(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.settings.meta_app_token.encode())

    def authenticate(self, token: str | None) -> Caller:
        if not token:
            raise missing_token_error()
        if self.is_app_token(token):
            return Caller(is_app=True, app_id=self.settings.meta_app_id)
        record = self.state.find_token(token)
        if record is None:
            raise invalid_token_error()
        if record.revoked:
            raise revoked_token_error(record.app_id)
        if record.expires_at is not None and record.expires_at <= time.time():
            raise expired_token_error(record.expires_at)
        return Caller(False, record.app_id, tuple(record.scopes), tuple(record.granted_waba_ids))

    # --- Graph: token introspection ---------------------------------------------------------

    def debug_token(self, input_token: str | None, access_token: str | None) -> dict[str, Any]:
        """The `data` object of GET /debug_token. The caller must be the app (its app token)."""
        if not access_token:
            raise missing_token_error()
        if not self.is_app_token(access_token):
            caller = self.authenticate(access_token)  # raises for bad tokens
            if not caller.is_app:
                raise GraphError(400, "(#100) You must provide an app access token, or a user access token "
                                 "that is an owner or developer of the app", "OAuthException", 100)
        if not input_token:
            raise invalid_parameter_error("The parameter input_token is required")
        if self.is_app_token(input_token):
            return {"app_id": self.settings.meta_app_id, "type": "APP", "application": APPLICATION_NAME,
                    "is_valid": True, "scopes": []}
        record = self.state.find_token(input_token)
        if record is None:
            return {"is_valid": False, "scopes": [],
                    "error": {"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"}}
        return self._describe_token(record)

    def _describe_token(self, record: TokenRecord) -> dict[str, Any]:
        now = time.time()
        data: dict[str, Any] = {
            "app_id": record.app_id,
            "type": "USER" if record.kind == "USER" else "SYSTEM_USER",
            "application": APPLICATION_NAME,
            "data_access_expires_at": int(record.issued_at) + 90 * 86400,
            "expires_at": int(record.expires_at) if record.expires_at is not None else 0,
            "is_valid": True,
            "issued_at": int(record.issued_at),
            "scopes": list(record.scopes),
            "granular_scopes": [
                {"scope": scope, "target_ids": list(record.granted_waba_ids)} if scope in WABA_SCOPES
                else {"scope": scope}
                for scope in record.scopes
            ],
            "user_id": record.user_id,
        }
        if record.revoked:
            data["is_valid"] = False
            data["error"] = {"code": 190, "subcode": 458,
                             "message": f"The user has not authorized application {record.app_id}."}
        elif record.expires_at is not None and record.expires_at <= now:
            data["is_valid"] = False
            data["error"] = {"code": 190, "subcode": 463,
                             "message": expired_token_error(record.expires_at).message.removeprefix(
                                 "Error validating access token: ")}
        return data

    # --- Graph: WABAs and phone numbers -----------------------------------------------------

    def graph_get_object(self, object_id: str, token: str | None, fields: list[str] | None) -> dict[str, Any]:
        caller = self.authenticate(token)
        waba = self.state.get_waba(object_id)
        if waba is not None:
            if not caller.may_manage(waba.id):
                raise permission_error(f"WhatsApp Business Account {waba.id}")
            return _select_fields(_waba_fields(waba), fields, default=["id", "name"])
        phone = self.state.get_phone_number(object_id)
        if phone is not None:
            if not caller.may_manage(phone.waba_id):
                raise permission_error(f"phone number {phone.id}")
            return _select_fields(_phone_fields(phone), fields, default=list(_phone_fields(phone)))
        raise unknown_object_error(object_id, "GET")

    def graph_list_phone_numbers(self, waba_id: str, token: str | None, *, limit: int,
                                 after: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a WABA's numbers and the cursor of the next page (None on the last)."""
        caller = self.authenticate(token)
        self._require_waba(waba_id, "GET")
        if not caller.may_manage(waba_id):
            raise permission_error(f"WhatsApp Business Account {waba_id}")
        page = self.state.list_phone_numbers(waba_id, after_id=after, limit=limit + 1)
        next_cursor = page[limit - 1].id if len(page) > limit else None
        return [_phone_fields(p) for p in page[:limit]], next_cursor

    def graph_register(self, phone_id: str, token: str | None, *, messaging_product: str | None,
                       pin: str | None, data_localization_region: str | None) -> None:
        self._authorize_phone(phone_id, token, "POST")
        if messaging_product != "whatsapp":
            raise invalid_parameter_error("The parameter messaging_product is required and must be 'whatsapp'")
        if pin is None:
            raise invalid_parameter_error("The parameter pin is required")
        if not PIN_PATTERN.match(pin):
            raise invalid_parameter_error("Param pin must be 6 digits")
        if data_localization_region is not None and not REGION_PATTERN.match(data_localization_region):
            raise invalid_parameter_error(
                "Param data_localization_region must be a 2-letter ISO 3166 country code")
        outcome = self.state.register_phone_number(phone_id, pin, data_localization_region)
        if outcome == RegistrationOutcome.NOT_FOUND:
            raise unknown_object_error(phone_id, "POST")
        if outcome == RegistrationOutcome.PIN_MISMATCH:
            raise GraphError(400, "Two step verification PIN Mismatch", "OAuthException", 133005)
        if outcome == RegistrationOutcome.CONFLICT:
            raise GraphError(503, "Service temporarily unavailable. Please retry your request.", "OAuthException", 2)

    def graph_deregister(self, phone_id: str, token: str | None) -> None:
        self._authorize_phone(phone_id, token, "POST")
        if not self.state.deregister_phone_number(phone_id):
            raise unknown_object_error(phone_id, "POST")

    def _authorize_phone(self, phone_id: str, token: str | None, method: str) -> Caller:
        """The app may act on any number (an unknown one is reported by the change itself, saving
        a read); a user token only on numbers of the WABAs it was granted."""
        caller = self.authenticate(token)
        if caller.is_app:
            return caller
        phone = self.state.get_phone_number(phone_id)
        if phone is None:
            raise unknown_object_error(phone_id, method)
        if not caller.may_message(phone.waba_id):
            raise permission_error(f"phone number {phone_id}")
        return caller

    def graph_subscribe(self, waba_id: str, token: str | None) -> None:
        caller = self.authenticate(token)
        if not caller.is_app:
            self._authorize_waba(waba_id, token, "POST")
        if not self.state.subscribe_app(waba_id, caller.app_id):
            raise unknown_object_error(waba_id, "POST")

    def graph_unsubscribe(self, waba_id: str, token: str | None) -> None:
        caller = self._authorize_waba(waba_id, token, "DELETE")
        self.state.unsubscribe_app(waba_id, caller.app_id)

    def graph_subscribed_apps(self, waba_id: str, token: str | None) -> list[dict[str, Any]]:
        self._authorize_waba(waba_id, token, "GET")
        return [
            {"whatsapp_business_api_data": {"id": app_id, "name": APPLICATION_NAME,
                                            "link": f"https://www.facebook.com/games/?app_id={app_id}"}}
            for app_id in self.state.subscribed_app_ids(waba_id)
        ]

    def _authorize_waba(self, waba_id: str, token: str | None, method: str) -> Caller:
        caller = self.authenticate(token)
        self._require_waba(waba_id, method)
        if not caller.may_manage(waba_id):
            raise permission_error(f"WhatsApp Business Account {waba_id}")
        return caller

    def _require_waba(self, waba_id: str, method: str) -> WabaRecord:
        waba = self.state.get_waba(waba_id)
        if waba is None:
            raise unknown_object_error(waba_id, method)
        return waba

    # --- sandbox ----------------------------------------------------------------------------

    def create_waba(self, *, name: str, phone_numbers: int = 1, currency: str = "USD",
                    timezone_id: str = "1", business_name: str | None = None) -> SandboxWaba:
        """A business, its WABA with N numbers, and a fresh embedded sign-up token granted it."""
        numbers = [NewPhoneNumber(random_display_phone_number(), name) for _ in range(phone_numbers)]
        token = self._new_user_token([], DEFAULT_SCOPES, self.token_lifetime_seconds)
        created = self.state.create_waba(business_name=business_name or name, name=name, currency=currency,
                                         timezone_id=timezone_id, phone_numbers=numbers, token=token)
        return SandboxWaba(created, MintedToken(token.token, token.expires_at))

    def add_phone_numbers(self, waba_id: str, *, count: int = 1, display_phone_number: str | None = None,
                          verified_name: str | None = None) -> list[PhoneNumberRecord]:
        waba = self.state.get_waba(waba_id)
        if waba is None:
            raise SandboxError(404, f"WABA {waba_id} not found")
        if display_phone_number is not None and count != 1:
            raise SandboxError(400, "displayPhoneNumber can only be given with count 1")
        numbers = [NewPhoneNumber(display_phone_number or random_display_phone_number(), verified_name or waba.name)
                   for _ in range(count)]
        added = self.state.add_phone_numbers(waba_id, numbers)
        if added is None:
            raise SandboxError(404, f"WABA {waba_id} not found")
        return added

    def waba_state(self, waba_id: str) -> WabaState:
        waba = self.state.get_waba(waba_id)
        if waba is None:
            raise SandboxError(404, f"WABA {waba_id} not found")
        return WabaState(waba, self.state.list_phone_numbers(waba_id), self.state.subscribed_app_ids(waba_id))

    def mint_token(self, waba_ids: list[str], *, scopes: list[str] | None = None,
                   expires_in_seconds: int | None = None) -> MintedToken:
        for waba_id in waba_ids:
            if self.state.get_waba(waba_id) is None:
                raise SandboxError(404, f"WABA {waba_id} not found")
        lifetime = self.token_lifetime_seconds if expires_in_seconds is None else expires_in_seconds
        token = self._new_user_token(waba_ids, DEFAULT_SCOPES if scopes is None else scopes, lifetime)
        self.state.add_token(token)
        return MintedToken(token.token, token.expires_at)

    def _new_user_token(self, waba_ids: list[str], scopes: list[str], lifetime_seconds: int) -> NewToken:
        return NewToken(token=new_user_token(), app_id=self.settings.meta_app_id, user_id=new_numeric_id(),
                        scopes=list(scopes), granted_waba_ids=list(waba_ids),
                        expires_at=time.time() + lifetime_seconds)

    def expire_token(self, access_token: str) -> None:
        if not self.state.expire_token(access_token):
            raise SandboxError(404, "accessToken is not a token the simulator issued")

    def revoke_token(self, access_token: str) -> None:
        if not self.state.revoke_token(access_token):
            raise SandboxError(404, "accessToken is not a token the simulator issued")

    def set_quality_rating(self, phone_id: str, rating: str) -> PhoneNumberRecord:
        if rating not in QUALITY_RATINGS:
            raise SandboxError(400, f"qualityRating must be one of {', '.join(QUALITY_RATINGS)}")
        if not self.state.set_quality_rating(phone_id, rating):
            raise SandboxError(404, f"phone number {phone_id} not found")
        phone = self.state.get_phone_number(phone_id)
        assert phone is not None
        return phone

    def get_faults(self) -> FaultState:
        return self._faults.refresh()

    def set_faults(self, faults: FaultState) -> FaultState:
        self.state.set_faults(faults)
        return self._faults.refresh()

    def clear_faults(self) -> FaultState:
        self.state.clear_faults()
        return self._faults.refresh()


# --- Graph node shapes ----------------------------------------------------------------------

def _waba_fields(waba: WabaRecord) -> dict[str, Any]:
    return {"id": waba.id, "name": waba.name, "currency": waba.currency, "timezone_id": waba.timezone_id,
            "message_template_namespace": f"wabalink_{waba.id}", "account_review_status": "APPROVED",
            "owner_business_info": {"id": waba.business_id}}


def _phone_fields(phone: PhoneNumberRecord) -> dict[str, Any]:
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


def _select_fields(node: dict[str, Any], fields: list[str] | None, default: list[str]) -> dict[str, Any]:
    wanted = fields or default
    selected = {name: node[name] for name in wanted if name in node}
    selected["id"] = node["id"]
    return selected
