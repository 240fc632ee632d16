"""Business public keys (Flows data-exchange encryption): Graph's
`POST|GET /{phone_id}/whatsapp_business_encryption`; the sandbox's view and out-of-band change.

Meta signs each uploaded key for the number's current registration. The signature here is an
HMAC (the simulator app's secret) over the number id, its registration (the stored PIN hash, which
a new registration replaces) and the key: re-registering the number makes the stored key's status
MISMATCH until it is uploaded again."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import bindparam, select

from wabalink.meta.access import authorize_phone
from wabalink.meta.calls import GraphCall, GraphHandler, SandboxCall, SandboxHandler
from wabalink.meta.errors import SandboxError, invalid_parameter_error, unknown_object_error
from wabalink.meta.routing import Route
from wabalink.meta.sandbox_input import meta_id
from wabalink.server.http import HttpResponse, json_response
from wabalink.store import meta_public_keys
from wabalink.store.db import Cursor, Query
from wabalink.store.schema import meta_phone_numbers

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

REQUIRED_KEY_BITS = 2048
PEM_MAX_LENGTH = 8192
_REGISTRATION = Query(select(meta_phone_numbers.c.pin_hash).where(meta_phone_numbers.c.id == bindparam("phone")))
_PHONE_EXISTS = Query(select(meta_phone_numbers.c.id).where(meta_phone_numbers.c.id == bindparam("phone")))


def rsa_key_problem(pem: str) -> str | None:
    """Why `pem` is not a PEM-encoded 2048-bit RSA public key; None when it is."""
    if len(pem) > PEM_MAX_LENGTH or "-----BEGIN" not in pem:
        return "is not a PEM-encoded public key (-----BEGIN PUBLIC KEY----- ...)"
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError):
        return "is not a readable PEM-encoded public key"
    except Exception:  # noqa: BLE001 - the library raises its own classes for unsupported algorithms
        return "is not a readable PEM-encoded public key"
    if not isinstance(key, rsa.RSAPublicKey):
        return "is not an RSA public key"
    if key.key_size != REQUIRED_KEY_BITS:
        return f"is a {key.key_size}-bit RSA key; a {REQUIRED_KEY_BITS}-bit key is required"
    return None


def key_fingerprint(pem: str) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo: the same key in any PEM layout."""
    key = serialization.load_pem_public_key(pem.strip().encode())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _signature(sim: MetaSimulator, cursor: Cursor, phone_id: str, pem: str) -> str:
    registration = cursor.scalar(_REGISTRATION, phone=phone_id) or ""
    message = f"{phone_id}\n{registration}\n{pem}".encode()
    return hmac.new(sim.app.app_secret.encode(), message, hashlib.sha256).hexdigest()


def _store_key(sim: MetaSimulator, phone_id: str, pem: str) -> bool:
    with sim.state.store.writer() as cursor:
        if cursor.scalar(_PHONE_EXISTS, phone=phone_id) is None:
            return False
        meta_public_keys.put_key(cursor, phone_id, pem, _signature(sim, cursor, phone_id, pem), time.time())
    return True


def _current(sim: MetaSimulator, phone_id: str) -> dict[str, Any] | None:
    with sim.state.store.reader() as cursor:
        if cursor.scalar(_PHONE_EXISTS, phone=phone_id) is None:
            return None
        row = meta_public_keys.get_key(cursor, phone_id)
        if row is None:
            return {}
        valid = hmac.compare_digest(row["signature"], _signature(sim, cursor, phone_id, row["public_key"]))
    return {"business_public_key": row["public_key"],
            "business_public_key_signature_status": "VALID" if valid else "MISMATCH"}


# --- Graph ----------------------------------------------------------------------------------------

def _put(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    phone_id = call.args["phone_id"]
    authorize_phone(sim, call.caller, phone_id, "POST")
    pem = call.params.get("business_public_key")
    if not pem:
        raise invalid_parameter_error("The parameter business_public_key is required")
    problem = rsa_key_problem(pem)
    if problem is not None:
        raise invalid_parameter_error(f"Param business_public_key {problem}")
    if not _store_key(sim, phone_id, pem):
        raise unknown_object_error(phone_id, "POST")
    return {"success": True}


def _get(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    phone_id = call.args["phone_id"]
    authorize_phone(sim, call.caller, phone_id, "GET")
    current = _current(sim, phone_id)
    if current is None:
        raise unknown_object_error(phone_id, "GET")
    return {"data": [current] if current else []}


GRAPH_ROUTES: list[Route[GraphHandler]] = [
    Route("POST", "/{phone_id}/whatsapp_business_encryption", _put),
    Route("GET", "/{phone_id}/whatsapp_business_encryption", _get),
]


# --- sandbox --------------------------------------------------------------------------------------

def _sandbox_put(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    """A key set at Meta outside the service (WhatsApp Manager, another app): the service's
    GetWhatsAppBusinessPublicKey then reports MISMATCH."""
    phone_id = meta_id(call.args["phone_id"], "phoneNumberId")
    pem = call.body().get("businessPublicKey")
    if not isinstance(pem, str):  # a PEM has line breaks: not a sandbox single-line string
        raise SandboxError(400, "businessPublicKey is required (a PEM-encoded 2048-bit RSA public key)")
    problem = rsa_key_problem(pem)
    if problem is not None:
        raise SandboxError(400, f"businessPublicKey {problem}")
    if not _store_key(sim, phone_id, pem):
        raise SandboxError(404, f"phone number {phone_id} not found")
    return _sandbox_get(sim, call)


def _sandbox_get(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    phone_id = meta_id(call.args["phone_id"], "phoneNumberId")
    current = _current(sim, phone_id)
    if current is None:
        raise SandboxError(404, f"phone number {phone_id} not found")
    return json_response(200, {"phoneNumberId": phone_id,
                               "businessPublicKey": current.get("business_public_key"),
                               "signatureStatus": current.get("business_public_key_signature_status")})


SANDBOX_ROUTES: list[Route[SandboxHandler]] = [
    Route("PUT", "/phone-numbers/{phone_id}/business-public-key", _sandbox_put),
    Route("GET", "/phone-numbers/{phone_id}/business-public-key", _sandbox_get),
]
