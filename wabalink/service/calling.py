"""WhatsApp calling: an end user's call permission, and call events (connect, pre_accept, accept,
reject, terminate) passed through to Meta. A call event is handed over at once: the answer carries
the call id, and what then happens to the call arrives later as Meta's `calls` webhooks (events),
after an AWS-generated hand-over event. A call event that conflicts with the call's state (accept
a terminated call, terminate twice, connect while a call with that user is active) is a
ConflictException."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from wabalink.aws.exceptions import InvalidParametersException
from wabalink.aws.shapes import (
    GetWhatsAppCallPermissionInput,
    GetWhatsAppCallPermissionOutput,
    SendWhatsAppCallEventInput,
    SendWhatsAppCallEventOutput,
    WhatsAppCallPermissionAction,
)
from wabalink.service.events import notify_new_events, record_event
from wabalink.service.meta_linked import linked_phone, meta_refusals
from wabalink.service.operations import Operations, RequestContext, operation

META_API_VERSION = re.compile(r"v[0-9]{1,3}\.[0-9]{1,3}")
CALL_HANDOVER_FIELD = "aws_call_handover"  # the change field of AWS-generated call hand-over events
Row = dict[str, Any]


def _actions(answer: Row) -> list[WhatsAppCallPermissionAction]:
    actions: list[WhatsAppCallPermissionAction] = []
    for action in answer["actions"]:
        limits = []
        for limit in action["limits"]:
            rendered: Any = {"timePeriod": limit["time_period"], "maxAllowed": limit["max_allowed"],
                             "currentUsage": limit["current_usage"]}
            if isinstance(limit.get("limit_expiration_time"), int):
                rendered["limitExpirationTime"] = float(limit["limit_expiration_time"])
            limits.append(rendered)
        actions.append({"actionName": action["action_name"], "canPerformAction": action["can_perform_action"],
                        "limits": limits})
    return actions


def call_event(blob: bytes) -> Row:
    try:
        event = json.loads(blob)
    except (ValueError, RecursionError):
        event = None
    if not isinstance(event, dict):
        raise InvalidParametersException('callEvent must be a JSON object in Meta\'s calling format, e.g. '
                                         '{"messaging_product": "whatsapp", "call_id": "wacid...", "action": '
                                         '"terminate"}.')
    if event.setdefault("messaging_product", "whatsapp") != "whatsapp":
        raise InvalidParametersException("callEvent.messaging_product must be whatsapp.")
    if event.get("action") != "connect" and not isinstance(event.get("call_id"), str):
        raise InvalidParametersException("callEvent.call_id is required for every action but connect.")
    return event


class Calling(Operations):

    @operation("GetWhatsAppCallPermission")
    def get_whatsapp_call_permission(self, ctx: RequestContext, params: GetWhatsAppCallPermissionInput
                                     ) -> GetWhatsAppCallPermissionOutput:
        number, bsuid = params.get("destinationPhoneNumber"), params.get("endUserBsuid")
        if (number is None) == (bsuid is None):
            raise InvalidParametersException("Give exactly one of destinationPhoneNumber and endUserBsuid.")
        field, origination = "originationPhoneNumberId", params["originationPhoneNumberId"]
        with self.store.reader() as conn:
            phone = linked_phone(conn, ctx, origination, field)
        query = {"user_wa_id": number.lstrip("+")} if number is not None else {"user_id": bsuid or ""}
        with meta_refusals("destinationPhoneNumber" if number is not None else "endUserBsuid",
                           not_found=f"{field}: {origination}"):
            answer = self.graph.get_call_permission(phone["meta_phone_number_id"], query)
        permission: Any = {"status": answer["permission"]["status"]}
        if isinstance(answer["permission"].get("expiration_time"), int):
            permission["expirationTime"] = float(answer["permission"]["expiration_time"])
        return {"permission": permission, "actions": _actions(answer)}

    @operation("SendWhatsAppCallEvent")
    def send_whatsapp_call_event(self, ctx: RequestContext, params: SendWhatsAppCallEventInput
                                 ) -> SendWhatsAppCallEventOutput:
        if not META_API_VERSION.fullmatch(params["metaApiVersion"]):
            raise InvalidParametersException(f"metaApiVersion {params['metaApiVersion']} is not a Graph API version "
                                             "like v21.0.")
        event = call_event(params["callEvent"])
        with self.store.reader() as conn:
            phone = linked_phone(conn, ctx, params["originationPhoneNumberId"], "originationPhoneNumberId")
        with meta_refusals("callEvent", not_found=f"callEvent.call_id {event.get('call_id')}", conflicts=True,
                           unknown_path="metaApiVersion"):
            assigned = self.graph.send_call_event(phone["meta_phone_number_id"], params["metaApiVersion"], event)
        call_id = assigned or str(event["call_id"])
        self._record_handover(phone, call_id, str(event.get("action")), event.get("biz_opaque_callback_data"))
        return {"callId": call_id}

    def _record_handover(self, phone: Row, call_id: str, action: str, opaque: Any) -> None:
        """The AWS-generated "call hand-over succeeded" event."""
        waba = phone["waba"]
        handover: Row = {"status": "succeeded", "callId": call_id, "action": action,
                         "timestamp": str(int(time.time()))}
        if isinstance(opaque, str):
            handover["biz_opaque_callback_data"] = opaque
        value = {"messaging_product": "whatsapp", "metadata": {
            "display_phone_number": phone["phone_number"].lstrip("+"),
            "phone_number_id": phone["meta_phone_number_id"]}, "handover": handover}
        entry = {"id": waba["meta_waba_id"], "changes": [{"field": CALL_HANDOVER_FIELD, "value": value}]}
        with self.store.writer() as conn:
            record_event(conn, waba=waba, phone=phone, kind="call_handover_succeeded", entry=entry)
        notify_new_events()
