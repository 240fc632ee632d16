"""Linking a WABA in one call: the simulator creates it with its numbers and a sign-up token, then
both association phases run through the AWS API, as a real application's sign-up flow would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wabalink.testing.sandbox import SandboxClient

DEFAULT_PIN = "123456"


@dataclass(frozen=True)
class LinkedPhoneNumber:
    id: str  # AWS's phone-number-id-<hex>: originationPhoneNumberId of SendWhatsAppMessage
    arn: str
    meta_phone_number_id: str  # Meta's id: what the sandbox's per-number calls take
    phone_number: str
    display_phone_number: str


@dataclass(frozen=True)
class LinkedWaba:
    id: str  # AWS's waba-<hex>
    arn: str
    meta_waba_id: str
    name: str
    account_id: str
    region: str
    phone_numbers: tuple[LinkedPhoneNumber, ...]

    @property
    def phone_number(self) -> LinkedPhoneNumber:
        """The first (often the only) number."""
        return self.phone_numbers[0]


def link(client: Any, meta: SandboxClient, *, name: str = "Acme", phone_numbers: int = 1,
         event_destinations: list[str | dict[str, str]] | None = None, pin: str = DEFAULT_PIN,
         data_localization_region: str | None = None, callback_url: str | None = None) -> LinkedWaba:
    """Creates a WABA with `phone_numbers` numbers on the simulator (`meta`) and links it with
    `client` (a boto3 socialmessaging client: its account and region own the link). Event
    destinations are SNS topic ARNs (or `{"eventDestinationArn", "roleArn"}` dicts)."""
    meta_waba = meta.create_waba(name, phone_numbers)
    phase1 = client.associate_whatsapp_business_account(signupCallback=_given(
        accessToken=meta_waba["accessToken"], callbackUrl=callback_url))
    result = phase1["signupCallbackResult"]
    entry = result["linkedAccountsWithIncompleteSetup"][meta_waba["wabaId"]]
    waba: dict[str, Any] = {"id": entry["wabaId"]}
    if event_destinations is not None:
        waba["eventDestinations"] = [
            {"eventDestinationArn": item} if isinstance(item, str) else item for item in event_destinations]
    client.associate_whatsapp_business_account(setupFinalization={
        "associateInProgressToken": result["associateInProgressToken"],
        "phoneNumbers": [_given(id=phone["phoneNumberId"], twoFactorPin=pin,
                                dataLocalizationRegion=data_localization_region)
                         for phone in entry["unregisteredWhatsAppPhoneNumbers"]],
        "waba": waba,
    })
    account = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    return LinkedWaba(
        id=account["id"], arn=account["arn"], meta_waba_id=account["wabaId"], name=account["wabaName"],
        account_id=account["arn"].split(":")[4], region=client.meta.region_name,
        phone_numbers=tuple(LinkedPhoneNumber(
            id=phone["phoneNumberId"], arn=phone["arn"], meta_phone_number_id=phone["metaPhoneNumberId"],
            phone_number=phone["phoneNumber"], display_phone_number=phone["displayPhoneNumber"])
            for phone in account.get("phoneNumbers", [])))


def _given(**members: Any) -> dict[str, Any]:
    return {name: value for name, value in members.items() if value is not None}


__all__ = ["link", "LinkedWaba", "LinkedPhoneNumber", "DEFAULT_PIN"]
