"""Who is calling the simulator's Graph API, and what the caller may touch: the app (its app
token) may act on every WABA and number; a user token only on the WABAs it was granted."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wabalink.meta.errors import (
    expired_token_error,
    missing_token_error,
    permission_error,
    revoked_token_error,
    unknown_object_error,
    unknown_token_error,
)
from wabalink.secret_compare import same_secret
from wabalink.store.meta_state import WabaRecord

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

SCOPE_MANAGEMENT = "whatsapp_business_management"
SCOPE_MESSAGING = "whatsapp_business_messaging"
SCOPE_BUSINESS = "business_management"
DEFAULT_SCOPES = [SCOPE_MANAGEMENT, SCOPE_MESSAGING, SCOPE_BUSINESS]
# Scopes whose grants are per WABA (debug_token lists them in granular_scopes with target ids).
WABA_SCOPES = (SCOPE_MANAGEMENT, SCOPE_MESSAGING)
APPLICATION_NAME = "wabalink"


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


def is_app_token(sim: MetaSimulator, token: str) -> bool:
    return same_secret(token.encode(), sim.app.app_token.encode())


def authenticate(sim: MetaSimulator, token: str | None) -> Caller:
    """The caller behind `token`; a Graph error saying why when there is none (missing, unknown,
    revoked or expired, each with Meta's own wording and subcode)."""
    if not token:
        raise missing_token_error()
    if is_app_token(sim, token):
        return Caller(is_app=True, app_id=sim.app.app_id)
    record = sim.state.find_token(token)
    if record is None:
        raise unknown_token_error()
    if record.revoked:
        raise revoked_token_error()
    if record.expires_at is not None and record.expires_at <= time.time():
        raise expired_token_error(record.expires_at)
    return Caller(False, record.app_id, tuple(record.scopes), tuple(record.granted_waba_ids))


def require_waba(sim: MetaSimulator, waba_id: str, method: str) -> WabaRecord:
    waba = sim.state.get_waba(waba_id)
    if waba is None:
        raise unknown_object_error(waba_id, method)
    return waba


def authorize_waba(sim: MetaSimulator, caller: Caller, waba_id: str, method: str) -> None:
    require_waba(sim, waba_id, method)
    if not caller.may_manage(waba_id):
        raise permission_error(f"WhatsApp Business Account {waba_id}")


def authorize_phone(sim: MetaSimulator, caller: Caller, phone_id: str, method: str) -> None:
    """The app may act on any number (an unknown one is reported by the change itself, saving
    a read); a user token only on numbers of the WABAs it was granted."""
    if caller.is_app:
        return
    phone = sim.state.get_phone_number(phone_id)
    if phone is None:
        raise unknown_object_error(phone_id, method)
    if not caller.may_message(phone.waba_id):
        raise permission_error(f"phone number {phone_id}")
