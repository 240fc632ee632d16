"""Races between a finalization and a disassociation, staged deterministically: the service runs
against a Meta stand-in that lets the other call land while Meta is being told."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wabalink.aws.errors import AwsError
from wabalink.meta.client import MetaPhoneNumber, MetaWaba, TokenInfo
from wabalink.service.association import Association
from wabalink.service.linked_accounts import LinkedAccounts
from wabalink.service.operations import Dependencies, RequestContext
from wabalink.service.pagination import PageTokens
from wabalink.store.db import Store

CTX = RequestContext("123456789012", "us-east-1")


class StagedMeta:
    """A Graph client stand-in with one WABA and one number; `during_register` runs inside the
    registration call, as if another request landed at that moment."""

    def __init__(self) -> None:
        self.registered: set[str] = set()
        self.subscribed: set[str] = set()
        self.during_register: Callable[[], None] | None = None

    def debug_token(self, token: str) -> TokenInfo:
        return TokenInfo(is_valid=True, app_id="1", user_id="2", type="USER",
                         scopes=["whatsapp_business_management"], granted_waba_ids=["111"], expires_at=None)

    def get_waba_with_phone_numbers(self, waba_id: str, token: str) -> tuple[MetaWaba, list[MetaPhoneNumber]]:
        return MetaWaba("111", "Staged", "USD", "1"), [MetaPhoneNumber("555", "+1 555-010-0001", "Staged", "GREEN")]

    def register_phone_number(self, phone_id: str, pin: str, region: str | None = None) -> None:
        self.registered.add(phone_id)
        if self.during_register is not None:
            staged, self.during_register = self.during_register, None
            staged()

    def deregister_phone_number(self, phone_id: str) -> None:
        self.registered.discard(phone_id)

    def subscribe_app(self, waba_id: str) -> None:
        self.subscribed.add(waba_id)

    def unsubscribe_app(self, waba_id: str) -> None:
        self.subscribed.discard(waba_id)


class Service(Association, LinkedAccounts):
    """The association and the linked-account operations on one object, as the races need them."""


@pytest.fixture
def service(tmp_path: Path) -> Any:
    store = Store(f"sqlite:///{tmp_path / 'races.db'}")
    store.migrate()
    meta = StagedMeta()
    deps = Dependencies(store, meta, PageTokens(b"test-secret"))  # type: ignore[arg-type]
    yield Service(deps), meta
    store.dispose()


def phase_one(provider: Any) -> tuple[str, dict[str, Any]]:
    result = provider.associate_whatsapp_business_account(CTX, {"signupCallback": {"accessToken": "EAAG"}})
    answer = result["signupCallbackResult"]
    return answer["associateInProgressToken"], answer["linkedAccountsWithIncompleteSetup"]["111"]


def finalization(token: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {"setupFinalization": {
        "associateInProgressToken": token, "waba": {"id": entry["wabaId"]},
        "phoneNumbers": [{"id": entry["unregisteredWhatsAppPhoneNumbers"][0]["phoneNumberId"], "twoFactorPin": "123456"}],
    }}


def test_a_disassociation_during_finalization_leaves_nothing_at_meta(service: Any) -> None:
    provider, meta = service
    token, entry = phase_one(provider)
    meta.during_register = lambda: provider.disassociate_whatsapp_business_account(CTX, {"id": entry["wabaId"]})
    with pytest.raises(AwsError) as caught:
        provider.associate_whatsapp_business_account(CTX, finalization(token, entry))
    assert caught.value.code == "InvalidParametersException"
    assert "disassociated meanwhile" in caught.value.message
    assert meta.registered == set() and meta.subscribed == set()
    assert provider.list_linked_whatsapp_business_accounts(CTX, {})["linkedAccounts"] == []


def test_a_finalization_during_disassociation_is_seen_and_released(service: Any) -> None:
    provider, meta = service
    token, entry = phase_one(provider)
    # The disassociation reads the INCOMPLETE link; a finalization completes before it deletes.
    original_deregister = meta.deregister_phone_number
    landed: list[bool] = []

    def deregister_then_let_finalization_land(phone_id: str) -> None:
        original_deregister(phone_id)
        if not landed:
            landed.append(True)
            provider.associate_whatsapp_business_account(CTX, finalization(token, entry))

    meta.deregister_phone_number = deregister_then_let_finalization_land
    provider.disassociate_whatsapp_business_account(CTX, {"id": entry["wabaId"]})
    assert landed == [True]
    assert meta.registered == set() and meta.subscribed == set()
    assert provider.list_linked_whatsapp_business_accounts(CTX, {})["linkedAccounts"] == []
