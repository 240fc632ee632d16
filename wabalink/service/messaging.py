"""SendWhatsAppMessage: checks, a UUID messageId at once, and an asynchronous hand-over to Meta.

The call stores the message (its body is never logged) as an outbox row in one transaction and
answers its AWS `messageId`; the hand-over worker (`handover.py`) sends it to Meta's Graph API and
records the outcome as an AWS-generated event ("handover succeeded" with Meta's wamid, or "handover
failed" with Meta's error code). Meta's own validation (recipient, type, fields) happens there, as at
AWS: this call rejects only what AWS rejects before Meta sees the message.

`metaApiVersion`: `v{major}.{minor}`. When Meta is the built-in simulator, a version it does not serve
(it would answer Graph error 2500) is refused here with InvalidParametersException, since that is
known before the hand-over; with an external Graph API a 2500 arrives as a hand-over-failed event.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from wabalink.aws.exceptions import InvalidParametersException, ResourceNotFoundException
from wabalink.aws.shapes import SendWhatsAppMessageInput, SendWhatsAppMessageOutput
from wabalink.service import ids
from wabalink.service.operations import Operations, RequestContext, operation
from wabalink.service.ownership import owned_phone
from wabalink.store import links, messages
from wabalink.store.db import Cursor

META_API_VERSION = re.compile(r"v(\d{1,3})\.(\d{1,3})")
# The built-in simulator's Graph versions (Meta answers 2500 "Unknown path components" for others).
SIMULATOR_VERSIONS = ((17, 0), (25, 0))
# How long a freshly accepted message is left to its own process's hand-over before any worker
# (another replica, or this one after a restart) may take it.
DIRECT_HANDOVER_GRACE_SECONDS = 3.0


class Messaging(Operations):

    @operation("SendWhatsAppMessage")
    def send_whatsapp_message(self, ctx: RequestContext, params: SendWhatsAppMessageInput) -> SendWhatsAppMessageOutput:
        body = checked_message(params["message"])
        version = checked_version(params["metaApiVersion"], self.deps.extensions.get("graph_versions"))
        message_id = ids.new_uuid()
        now = time.time()

        def accept(conn: Cursor) -> None:
            phone = owned_phone(conn, ctx, params["originationPhoneNumberId"], "originationPhoneNumberId",
                                missing=ResourceNotFoundException, linked_only=False)
            waba = links.get_waba(conn, ctx.account_id, ctx.region, phone["waba_link_id"])
            if waba is None or waba["registration_status"] != "COMPLETE" or not phone["linked"]:
                raise InvalidParametersException(
                    f"originationPhoneNumberId {params['originationPhoneNumberId']} belongs to a WhatsApp Business "
                    "Account whose setup is not complete; finish AssociateWhatsAppBusinessAccount "
                    "(setupFinalization) first.")
            messages.insert_message(conn, {
                "id": message_id, "account_id": ctx.account_id, "region": ctx.region,
                "waba_link_id": waba["id"], "phone_link_id": phone["id"],
                "meta_phone_number_id": phone["meta_phone_number_id"], "meta_api_version": version,
                "body": body, "state": messages.QUEUED, "claimed_until": now + DIRECT_HANDOVER_GRACE_SECONDS,
                "created_at": now})

        # Committed together with other threads' writes under load (store/group_commit.py).
        self.store.write_grouped(accept)
        handover = self.deps.extensions.get("handover")
        if handover is not None:
            handover.submit(message_id)
        return {"messageId": message_id}


def checked_message(raw: bytes | str) -> str:
    """The `message` blob as JSON text: a JSON object for the WhatsApp product."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        # orjson, not json: it refuses lone surrogates ("\ud800"), which no store or Graph body can carry.
        message: Any = orjson.loads(text)
    except (UnicodeDecodeError, orjson.JSONDecodeError):
        raise InvalidParametersException(
            "message is not JSON: it must be Meta's message object, e.g. "
            '{"messaging_product":"whatsapp","to":"+14255550150","text":{"body":"Hi"}} (with the AWS CLI, '
            "pass --cli-binary-format raw-in-base64-out to send raw JSON).") from None
    if not isinstance(message, dict):
        raise InvalidParametersException("message must be a JSON object (Meta's message object), not "
                                         f"a JSON {type(message).__name__}.")
    if message.get("messaging_product") != "whatsapp":
        raise InvalidParametersException('message.messaging_product must be "whatsapp".')
    return text


def checked_version(value: str, served: tuple[tuple[int, int], tuple[int, int]] | None) -> str:
    match = META_API_VERSION.fullmatch(value)
    if match is None:
        raise InvalidParametersException(
            f"metaApiVersion {value[:40]} must be formatted as v{{major}}.{{minor}}, e.g. v20.0.")
    if served is not None:
        version = (int(match[1]), int(match[2]))
        low, high = served
        if not low <= version <= high:
            raise InvalidParametersException(
                f"metaApiVersion {value}: Meta's Graph API does not serve this version (error 2500, unknown path "
                f"components); use v{low[0]}.{low[1]} to v{high[0]}.{high[1]}.")
    return value
