"""The whole loop against the built-in simulator: send with boto3, Meta's status webhooks signed by
the simulator, verified by the receiver, published to SNS (moto) with the AWS messageId; a customer
reply arrives the same way. Needs the simulator's messages endpoint (wabalink.meta.messages)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

from tests.support import REPO_ROOT
from tests.support.service_messaging import AWS_TEST_ENV, MotoServer, read_events
from tests.support.service_messaging_flows import link_number

pytestmark = pytest.mark.skipif(importlib.util.find_spec("wabalink.meta.messages") is None,
                                reason="needs the simulator's messages endpoint")

CUSTOMER = "+14255550150"


def statuses_of(envelopes: list[dict[str, Any]]) -> list[str]:
    found = []
    for envelope in envelopes:
        change = json.loads(envelope["whatsAppWebhookEntry"])["changes"][0]
        if change["field"] == "messages" and change["value"].get("statuses"):
            found.append(change["value"]["statuses"][0]["status"])
    return found


def inbound(server: Any, meta_phone_id: str, text: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "wabalink.cli.main", "meta", "send-inbound", "--phone-number-id", meta_phone_id,
         "--from", CUSTOMER, "--text", text, "--endpoint", server.endpoint],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)["wamid"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_send_status_and_reply_loop_through_the_simulator(start_server: Any, moto: MotoServer, database: str) -> None:
    server = start_server(database, ["--sns-endpoint-url", moto.endpoint], env=AWS_TEST_ENV)
    topic_arn, queue_url = moto.topic_with_queue("e2e-" + uuid.uuid4().hex[:8])
    client = server.client()
    number = link_number(server, client, topic_arn)

    inbound_wamid = inbound(server, number.meta_phone_id, "Hi")  # opens the customer service window
    [received] = read_events(moto, queue_url, lambda found: len(found) >= 1)
    message = json.loads(received["whatsAppWebhookEntry"])["changes"][0]["value"]["messages"][0]
    assert message["id"] == inbound_wamid and message["text"]["body"] == "Hi"

    reply = {"messaging_product": "whatsapp", "to": CUSTOMER, "context": {"message_id": inbound_wamid},
             "text": {"body": "Hello!"}}
    message_id = client.send_whatsapp_message(originationPhoneNumberId=number.phone_id,
                                              message=json.dumps(reply).encode(), metaApiVersion="v20.0")["messageId"]
    envelopes = read_events(moto, queue_url, lambda found: len(statuses_of(found)) >= 3, timeout=60)
    assert {e["messageId"] for e in envelopes} == {message_id}
    assert statuses_of(envelopes) == ["sent", "delivered", "read"]

    # A recipient the simulator fails by rule: the failed status carries Meta's code.
    failing = {"messaging_product": "whatsapp", "to": "+14255550000", "type": "template",
               "template": {"name": "hello_world", "language": {"code": "en_US"}}}
    failed_id = client.send_whatsapp_message(originationPhoneNumberId=number.phone_id,
                                             message=json.dumps(failing).encode(), metaApiVersion="v20.0")["messageId"]
    envelopes = read_events(moto, queue_url, lambda found: "failed" in statuses_of(found), timeout=60)
    failed = [e for e in envelopes if "failed" in statuses_of([e])]
    assert failed and failed[0]["messageId"] == failed_id
    status = json.loads(failed[0]["whatsAppWebhookEntry"])["changes"][0]["value"]["statuses"][0]
    assert status["errors"][0]["code"] == 131026
