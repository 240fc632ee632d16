"""SendWhatsAppMessage end to end through boto3: checks, every payload real clients send, the
hand-over events on an SNS topic (moto), status webhooks mapped to the AWS messageId."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from tests.support.service_messaging import (
    FakeGraph,
    MotoServer,
    read_events,
    sample_payloads,
    signed_post,
    status_webhook,
    wait_for_events,
)
from tests.support.service_messaging_flows import link_number, start_messaging_server

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_every_payload_kind_is_accepted_handed_over_and_reported_on_sns(
        start_server: Any, fake: FakeGraph, moto: MotoServer, database: str) -> None:
    server = start_messaging_server(start_server, fake, moto, database)
    topic_arn, queue_url = moto.topic_with_queue("events-" + uuid.uuid4().hex[:8])
    client = server.client()
    number = link_number(server, client, topic_arn)
    payloads = sample_payloads("+14255550150", "wamid.inbound" + uuid.uuid4().hex)
    sent: dict[str, str] = {}
    for kind, payload in payloads.items():
        answer = client.send_whatsapp_message(originationPhoneNumberId=number.phone_id,
                                              message=json.dumps(payload).encode(), metaApiVersion="v20.0")
        assert UUID.fullmatch(answer["messageId"]), kind
        sent[answer["messageId"]] = kind
    envelopes = read_events(moto, queue_url, lambda found: len(found) >= len(sent))
    by_message = {envelope["messageId"]: envelope for envelope in envelopes}
    assert set(by_message) == set(sent)
    for message_id, envelope in by_message.items():
        assert envelope["aws_account_id"] == client._request_signer._credentials.access_key
        assert TIMESTAMP.fullmatch(envelope["message_timestamp"])
        assert envelope["context"]["MetaWabaIds"][0]["wabaId"] == number.meta_waba_id
        assert envelope["context"]["MetaWabaIds"][0]["arn"].endswith(":waba/" + number.waba_id[len("waba-"):])
        assert envelope["context"]["MetaPhoneNumberIds"][0]["metaPhoneNumberId"] == number.meta_phone_id
        change = envelope["entry"]["changes"][0]
        assert envelope["entry"]["id"] == number.meta_waba_id and len(envelope["entry"]["changes"]) == 1
        assert change["value"]["handover"]["status"] == "succeeded", sent[message_id]
        if sent[message_id] != "read_receipt":
            assert change["value"]["handover"]["wamid"].startswith("wamid.")
    # Meta received each body as sent, under the version asked for.
    assert sorted(json.dumps(item["body"], sort_keys=True) for item in fake.sent) == sorted(
        json.dumps(payload, sort_keys=True) for kind, payload in payloads.items() if kind != "read_receipt")

    # Status webhooks of those messages arrive with the AWS messageId of the message.
    target = next(item for item in fake.sent if item["body"].get("type") == "template")
    message_id = next(mid for mid, env in by_message.items()
                      if env["entry"]["changes"][0]["value"]["handover"].get("wamid") == target["wamid"])
    for status in ("sent", "delivered", "read"):
        code, _ = signed_post(server.endpoint + "/_wabalink/webhooks/meta",
                              status_webhook(number.meta_waba_id, number.meta_phone_id, target["wamid"], status))
        assert code == 200
    statuses = read_events(moto, queue_url, lambda found: len(found) >= 3)
    assert [json.loads(env["whatsAppWebhookEntry"])["changes"][0]["value"]["statuses"][0]["status"]
            for env in statuses] == ["sent", "delivered", "read"]
    assert {env["messageId"] for env in statuses} == {message_id}


def test_meta_refusals_become_handover_failed_events_with_the_meta_code(
        start_server: Any, fake: FakeGraph, moto: MotoServer) -> None:
    server = start_messaging_server(start_server, fake, moto)
    client = server.client()
    number = link_number(server, client, None)
    refused = client.send_whatsapp_message(
        originationPhoneNumberId=number.phone_id, metaApiVersion="v20.0",
        message=json.dumps({"messaging_product": "whatsapp", "to": "+14255550999", "text": {"body": "x"}}).encode())
    # An external Graph API: the version is only known to be unserved when Meta answers 2500.
    old_version = client.send_whatsapp_message(
        originationPhoneNumberId=number.phone_id, metaApiVersion="v12.0",
        message=json.dumps({"messaging_product": "whatsapp", "to": "+14255550150", "text": {"body": "x"}}).encode())
    found = wait_for_events(server.endpoint, lambda events: len(events) >= 2, wabaId=number.waba_id)
    codes = {event["messageId"]: event["envelope"] for event in found}
    for message_id, code in ((refused["messageId"], 131009), (old_version["messageId"], 2500)):
        entry = json.loads(codes[message_id]["whatsAppWebhookEntry"])
        handover = entry["changes"][0]["value"]["handover"]
        assert handover["status"] == "failed" and handover["errors"][0]["code"] == code
    assert {event["kind"] for event in found} == {"handover_failed"}
    assert {event["status"] for event in found} == {"no_destination"}


def test_bad_requests_are_modeled_errors_naming_the_field(server: Any) -> None:
    client = server.client()
    from tests.support.flows import linked_waba

    _, entry = linked_waba(server, client, "Checks")
    phone_id = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]["phoneNumbers"][0]
    good = json.dumps({"messaging_product": "whatsapp", "to": "+14255550150", "text": {"body": "Hi"}}).encode()
    cases = [
        (dict(message=b"not json"), "InvalidParametersException", "message"),
        (dict(message=b"[1, 2]"), "InvalidParametersException", "message"),
        (dict(message=b'{"messaging_product": "sms", "to": "1"}'), "InvalidParametersException", "messaging_product"),
        (dict(metaApiVersion="20"), "InvalidParametersException", "metaApiVersion"),
        (dict(metaApiVersion="v99.0"), "InvalidParametersException", "metaApiVersion"),
        (dict(originationPhoneNumberId="phone-number-id-" + "0" * 32), "ResourceNotFoundException",
         "originationPhoneNumberId"),
        (dict(originationPhoneNumberId=phone_id["metaPhoneNumberId"]), "ValidationException", "originationPhoneNumberId"),
    ]
    for override, error, named in cases:
        params = {"originationPhoneNumberId": phone_id["phoneNumberId"], "message": good, "metaApiVersion": "v20.0",
                  **override}
        with pytest.raises(client.exceptions.ClientError) as raised:
            client.send_whatsapp_message(**params)
        assert raised.value.response["Error"]["Code"] == error, override
        assert named in raised.value.response["Error"]["Message"], override
    # Another account cannot send from this number.
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        server.client().send_whatsapp_message(originationPhoneNumberId=phone_id["phoneNumberId"], message=good,
                                              metaApiVersion="v20.0")
