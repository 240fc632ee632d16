"""Stored rows -> the model's output members (serialized by the protocol layer)."""

from __future__ import annotations

from typing import Any

import orjson

from wabalink.aws.shapes import LinkedWhatsAppBusinessAccountSummary, WhatsAppPhoneNumberSummary
from wabalink.service import ids
from wabalink.service.operations import RequestContext

Row = dict[str, Any]


def render_phone(ctx: RequestContext, phone: Row) -> WhatsAppPhoneNumberSummary:
    rendered: WhatsAppPhoneNumberSummary = {
        "arn": ids.phone_number_arn(ctx.region, ctx.account_id, phone["id"]),
        "phoneNumber": phone["phone_number"],
        "phoneNumberId": ids.phone_number_id(phone["id"]),
        "metaPhoneNumberId": phone["meta_phone_number_id"],
        "displayPhoneNumberName": phone["display_phone_number_name"],
        "displayPhoneNumber": phone["display_phone_number"],
        "qualityRating": phone["quality_rating"],
    }
    if phone.get("data_localization_region"):
        rendered["dataLocalizationRegion"] = phone["data_localization_region"]
    return rendered


def render_waba(ctx: RequestContext, waba: Row) -> LinkedWhatsAppBusinessAccountSummary:
    return {
        "arn": ids.waba_arn(ctx.region, ctx.account_id, waba["id"]),
        "id": ids.waba_id(waba["id"]),
        "wabaId": waba["meta_waba_id"],
        "registrationStatus": waba["registration_status"],
        "linkDate": waba["link_date"],
        "wabaName": waba["waba_name"],
        "eventDestinations": orjson.loads(waba["event_destinations"]),
    }
