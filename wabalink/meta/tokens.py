"""Access tokens: Graph's `GET /debug_token`, and the sandbox's embedded sign-up tokens (mint,
expire, revoke). Tokens are stored as digests (meta_state); the app token is the simulator's own
generated credential (`MetaSimulator.app`)."""

from __future__ import annotations

import re
import secrets
import string
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wabalink.meta.access import APPLICATION_NAME, DEFAULT_SCOPES, WABA_SCOPES, authenticate, is_app_token
from wabalink.meta.calls import GraphCall, GraphHandler, SandboxCall, SandboxHandler
from wabalink.meta.errors import (
    REVOKED_TOKEN_MESSAGE,
    SUBCODE_SESSION_EXPIRED,
    SUBCODE_SESSION_INVALIDATED,
    GraphError,
    SandboxError,
    expired_token_message,
    invalid_parameter_error,
    unknown_token_error,
)
from wabalink.meta.routing import Route
from wabalink.meta.sandbox_input import NUMERIC_ID, TOKEN_MAX_LENGTH, optional_int, required_str, string_list
from wabalink.server.http import HttpResponse, json_response
from wabalink.store.meta_state import NewToken, TokenRecord, new_numeric_id

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

USER_TOKEN_PREFIX = "EAAW"  # Meta user tokens start with "EAA"
MAX_TOKEN_LIFETIME_SECONDS = 10 * 365 * 86400
MAX_WABAS_PER_TOKEN = 100
MAX_SCOPES = 50
SCOPE_NAME = re.compile(r"[a-z_]{1,100}")


@dataclass(frozen=True)
class MintedToken:
    access_token: str
    expires_at: float | None


def new_user_token() -> str:
    alphabet = string.ascii_letters + string.digits
    return USER_TOKEN_PREFIX + "".join(secrets.choice(alphabet) for _ in range(180))


def new_token_record(sim: MetaSimulator, waba_ids: list[str], scopes: list[str], lifetime_seconds: int) -> NewToken:
    return NewToken(token=new_user_token(), app_id=sim.app.app_id, user_id=new_numeric_id(),
                    scopes=list(scopes), granted_waba_ids=list(waba_ids),
                    expires_at=time.time() + lifetime_seconds)


# --- Graph --------------------------------------------------------------------------------------

def debug_token(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    """GET /debug_token: the caller must be the app (its app token)."""
    if not call.caller.is_app:
        raise GraphError(400, "(#100) You must provide an app access token, or a user access token "
                         "that is an owner or developer of the app", "OAuthException", 100)
    input_token = call.params.get("input_token")
    if not input_token:
        raise invalid_parameter_error("The parameter input_token is required")
    if is_app_token(sim, input_token):
        return {"data": {"app_id": sim.app.app_id, "type": "APP", "application": APPLICATION_NAME,
                         "is_valid": True, "scopes": []}}
    record = sim.state.find_token(input_token)
    if record is None:
        unknown = unknown_token_error()
        return {"data": {"is_valid": False, "scopes": [], "error": {"code": unknown.code, "message": unknown.message}}}
    return {"data": _describe_token(record)}


def _describe_token(record: TokenRecord) -> dict[str, Any]:
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
        data["error"] = {"code": 190, "subcode": SUBCODE_SESSION_INVALIDATED, "message": REVOKED_TOKEN_MESSAGE}
    elif record.expires_at is not None and record.expires_at <= time.time():
        data["is_valid"] = False
        data["error"] = {"code": 190, "subcode": SUBCODE_SESSION_EXPIRED,
                         "message": expired_token_message(record.expires_at)}
    return data


GRAPH_ROUTES: list[Route[GraphHandler]] = [Route("GET", "/debug_token", debug_token)]


# --- sandbox ------------------------------------------------------------------------------------

def mint_token(sim: MetaSimulator, waba_ids: list[str], *, scopes: list[str] | None = None,
               expires_in_seconds: int | None = None) -> MintedToken:
    for waba_id in waba_ids:
        if sim.state.get_waba(waba_id) is None:
            raise SandboxError(404, f"WABA {waba_id} not found")
    lifetime = sim.token_lifetime_seconds if expires_in_seconds is None else expires_in_seconds
    token = new_token_record(sim, waba_ids, DEFAULT_SCOPES if scopes is None else scopes, lifetime)
    sim.state.add_token(token)
    return MintedToken(token.token, token.expires_at)


MINT_FIELDS = ("wabaIds", "scopes", "expiresInSeconds")


def _mint(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    body = call.body()
    unknown = sorted(set(body) - set(MINT_FIELDS))
    if unknown:  # a misspelt field would otherwise mint a token that silently grants nothing
        raise SandboxError(400, f"unknown field {unknown[0][:40]}; a token takes {', '.join(MINT_FIELDS)} "
                                "(wabaIds: the Meta WABA ids it grants)")
    waba_ids = string_list(body, "wabaIds", max_items=MAX_WABAS_PER_TOKEN, item_pattern=NUMERIC_ID,
                           what="Meta WABA ids (numeric strings)") or []
    scopes = string_list(body, "scopes", max_items=MAX_SCOPES, item_pattern=SCOPE_NAME, what="permission names")
    expires_in = None
    if body.get("expiresInSeconds") is not None:
        expires_in = optional_int(body, "expiresInSeconds", 0, minimum=0, maximum=MAX_TOKEN_LIFETIME_SECONDS)
    minted = mint_token(sim, waba_ids, scopes=scopes, expires_in_seconds=expires_in)
    return json_response(201, {"accessToken": minted.access_token, "expiresAt": epoch(minted.expires_at)})


def _expire(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    if not sim.state.expire_token(required_str(call.body(), "accessToken", max_length=TOKEN_MAX_LENGTH)):
        raise SandboxError(404, "accessToken is not a token the simulator issued")
    return json_response(200, {"expired": True})


def _revoke(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    if not sim.state.revoke_token(required_str(call.body(), "accessToken", max_length=TOKEN_MAX_LENGTH)):
        raise SandboxError(404, "accessToken is not a token the simulator issued")
    return json_response(200, {"revoked": True})


def epoch(value: float | None) -> int | None:
    return None if value is None else int(value)


SANDBOX_ROUTES: list[Route[SandboxHandler]] = [
    Route("POST", "/tokens", _mint),
    Route("POST", "/tokens/expire", _expire),
    Route("POST", "/tokens/revoke", _revoke),
]

__all__ = ["GRAPH_ROUTES", "SANDBOX_ROUTES", "MintedToken", "mint_token", "new_token_record", "authenticate"]
