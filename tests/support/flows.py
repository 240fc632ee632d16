"""The two association phases as a test drives them through boto3."""

from __future__ import annotations

from typing import Any


def sign_up(client: Any, waba: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    answer = client.associate_whatsapp_business_account(signupCallback={"accessToken": waba["accessToken"]})
    assert answer["statusCode"] == 200
    result = answer["signupCallbackResult"]
    return result["associateInProgressToken"], result["linkedAccountsWithIncompleteSetup"]


def finalize(client: Any, token: str, entry: dict[str, Any], **waba_extra: Any) -> dict[str, Any]:
    return client.associate_whatsapp_business_account(setupFinalization={
        "associateInProgressToken": token,
        "phoneNumbers": [{"id": phone["phoneNumberId"], "twoFactorPin": "123456"}
                         for phone in entry["unregisteredWhatsAppPhoneNumbers"]],
        "waba": {"id": entry["wabaId"], **waba_extra},
    })


def linked_waba(server: Any, client: Any, name: str, phone_numbers: int = 1) -> tuple[dict[str, Any], dict[str, Any]]:
    """A WABA created on the simulator and linked through both phases: (Meta's WABA, its phase-1 entry)."""
    meta_waba = server.create_waba(name, phone_numbers=phone_numbers)
    token, incomplete = sign_up(client, meta_waba)
    entry = incomplete[meta_waba["wabaId"]]
    finalize(client, token, entry)
    return meta_waba, entry
