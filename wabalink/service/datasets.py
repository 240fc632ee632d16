"""Conversions API datasets of a linked WABA and the conversion events sent to them. The dataset
and its events live at Meta (one dataset per WABA: creating again answers the same one)."""

from __future__ import annotations

import json
from typing import Any

from wabalink.aws.exceptions import InvalidParametersException, ResourceNotFoundException
from wabalink.aws.shapes import (
    CreateWhatsAppDatasetInput,
    CreateWhatsAppDatasetOutput,
    SendWhatsAppConversionEventInput,
    SendWhatsAppConversionEventOutput,
)
from wabalink.service.meta_linked import complete_waba, meta_refusals
from wabalink.service.operations import Operations, RequestContext, operation


def conversion_events(event_data: bytes) -> list[Any]:
    """The events of `eventData`: a Conversions API payload `{"data": [...]}`, a list of events or
    one event object."""
    try:
        payload = json.loads(event_data)
    except (ValueError, RecursionError):
        raise InvalidParametersException("eventData must be JSON: a Conversions API payload "
                                         '({"data": [events]}), a list of events or one event.') from None
    if isinstance(payload, dict) and "data" in payload:
        payload = payload["data"]
    events = payload if isinstance(payload, list) else [payload]
    if not events or not all(isinstance(event, dict) for event in events):
        raise InvalidParametersException("eventData must hold at least one event, each a JSON object with "
                                         "event_name, event_time, action_source, messaging_channel and user_data.")
    return events


class Datasets(Operations):

    @operation("CreateWhatsAppDataset")
    def create_whatsapp_dataset(self, ctx: RequestContext, params: CreateWhatsAppDatasetInput
                                ) -> CreateWhatsAppDatasetOutput:
        with self.store.reader() as conn:
            waba = complete_waba(conn, ctx, params["id"], "id")
        with meta_refusals("id", not_found=f"id: WhatsApp Business Account {params['id']}"):
            return {"datasetId": self.graph.create_dataset(waba["meta_waba_id"])}

    @operation("SendWhatsAppConversionEvent")
    def send_whatsapp_conversion_event(self, ctx: RequestContext, params: SendWhatsAppConversionEventInput
                                       ) -> SendWhatsAppConversionEventOutput:
        events = conversion_events(params["eventData"])
        with self.store.reader() as conn:
            waba = complete_waba(conn, ctx, params["id"], "id")
        dataset_id = params["datasetId"]
        with meta_refusals("id", not_found=f"id: WhatsApp Business Account {params['id']}"):
            own = self.graph.waba_dataset_id(waba["meta_waba_id"])
        if own != dataset_id:
            raise ResourceNotFoundException(
                f"datasetId: dataset {dataset_id} is not the dataset of linked WhatsApp Business Account "
                f"{params['id']}; CreateWhatsAppDataset answers its datasetId.")
        with meta_refusals("eventData", not_found=f"datasetId: dataset {dataset_id}"):
            return {"requestId": self.graph.send_conversion_events(dataset_id, events)}
