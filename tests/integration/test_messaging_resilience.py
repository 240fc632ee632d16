"""The outboxes under faults: a SIGKILL during a stream of sends, two replicas on one PostgreSQL
database, the retry budget, and the request quotas (--throttle aws)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from tests.support.service_messaging import (
    FakeGraph,
    MotoServer,
    SwitchableProxy,
    events_api,
    read_events,
    signed_post,
    status_webhook,
    wait_for_events,
)
from tests.support.service_messaging_flows import link_number, start_messaging_server, wire_fake

TEXT = json.dumps({"messaging_product": "whatsapp", "to": "+14255550150", "text": {"body": "Hi"}}).encode()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_sigkill_during_sends_every_accepted_message_is_handed_over_after_restart(
        start_server: Any, fake: FakeGraph, database: str) -> None:
    server = start_messaging_server(start_server, fake, None, database)
    client = server.client(retries=1)
    number = link_number(server, client, None)
    fake.delay_seconds = 0.2  # hand-overs are in flight when the kill comes
    accepted: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            try:
                accepted.append(client.send_whatsapp_message(originationPhoneNumberId=number.phone_id,
                                                             message=TEXT, metaApiVersion="v20.0")["messageId"])
            except Exception:  # the server is gone
                return

    sender = threading.Thread(target=stream)
    sender.start()
    time.sleep(1.5)
    server.kill()
    stop.set()
    sender.join(30)
    assert len(accepted) >= 5
    fake.delay_seconds = 0.0
    restarted = start_messaging_server(start_server, fake, None, database_url=server.database_url)
    found = wait_for_events(restarted.endpoint, lambda events: set(accepted) <= {e["messageId"] for e in events},
                            timeout=60, wabaId=number.waba_id)
    time.sleep(1)  # a hand-over recorded twice would show by now
    found = wait_for_events(restarted.endpoint, lambda events: True, wabaId=number.waba_id)
    per_message = Counter(event["messageId"] for event in found)
    # Every accepted message, and perhaps one stored whose answer the kill cut off.
    assert set(accepted) <= set(per_message) and len(per_message) <= len(accepted) + 1
    assert set(per_message.values()) == {1}  # one hand-over event per message
    assert {event["kind"] for event in found} == {"handover_succeeded"}
    # At Meta: each message at most once, but for those cut between Meta's answer and our commit
    # (at most one per hand-over thread).
    from wabalink.service.handover import DEFAULT_THREADS
    assert len(per_message) <= len(fake.sent) <= len(per_message) + DEFAULT_THREADS


def test_two_replicas_on_postgresql_deliver_each_event_exactly_once(
        start_server: Any, fake: FakeGraph, moto: MotoServer) -> None:
    first = start_messaging_server(start_server, fake, moto, "postgresql")
    url = first.database_url
    second = start_messaging_server(start_server, fake, moto, database_url=url)
    wire_fake(fake, first)
    topic_arn, queue_url = moto.topic_with_queue("replicas-" + uuid.uuid4().hex[:8])
    account = "111122223333"
    number = link_number(first, first.client(account_id=account), topic_arn)
    clients = [first.client(account_id=account), second.client(account_id=account)]
    message_ids = [clients[i % 2].send_whatsapp_message(originationPhoneNumberId=number.phone_id,
                                                         message=TEXT, metaApiVersion="v20.0")["messageId"]
                   for i in range(20)]
    handed = wait_for_events(first.endpoint, lambda found: len(found) >= 20, wabaId=number.waba_id,
                             accountId=account)
    wamids = {event["messageId"]: event["wamid"] for event in handed}
    for status in ("sent", "delivered", "read"):
        for index, message_id in enumerate(message_ids):
            target = (first, second)[index % 2].endpoint + "/_wabalink/webhooks/meta"
            assert signed_post(target, status_webhook(number.meta_waba_id, number.meta_phone_id,
                                                      wamids[message_id], status))[0] == 200
    envelopes = read_events(moto, queue_url, lambda found: len(found) >= 80, timeout=60)
    time.sleep(2)  # anything delivered twice would arrive by now
    envelopes += read_events(moto, queue_url, lambda found: False, timeout=1)
    keys = Counter((e["messageId"], json.loads(e["whatsAppWebhookEntry"])["changes"][0]["value"].get(
        "statuses", [{"status": "handover"}])[0]["status"]) for e in envelopes)
    assert len(keys) == 80 and set(keys.values()) == {1}
    assert len(handed) == 20 and len(fake.sent) == 20  # each message handed over once


def test_retry_budget_makes_events_dead_and_replay_delivers_them(
        start_server: Any, fake: FakeGraph, moto: MotoServer) -> None:
    proxy = SwitchableProxy(moto.endpoint)
    try:
        proxy.down = True
        server = start_messaging_server(start_server, fake, None,
                                        extra_args=["--sns-endpoint-url", proxy.url, "--event-max-attempts", "2"])
        topic_arn, queue_url = moto.topic_with_queue("budget-" + uuid.uuid4().hex[:8])
        client = server.client()
        number = link_number(server, client, topic_arn)
        message_id = client.send_whatsapp_message(originationPhoneNumberId=number.phone_id, message=TEXT,
                                                  metaApiVersion="v20.0")["messageId"]
        [dead] = wait_for_events(server.endpoint, lambda found: bool(found), status="dead", messageId=message_id)
        assert dead["attempts"] == 2 and "PublishBatch" in dead["lastError"]
        proxy.down = False
        assert events_api(server.endpoint, f"/{dead['eventId']}/replay", method="POST")[1]["status"] == "pending"
        [envelope] = read_events(moto, queue_url, lambda found: len(found) >= 1)
        assert envelope["messageId"] == message_id
    finally:
        proxy.close()


def test_throttling_applies_aws_quotas_only_when_asked(start_server: Any) -> None:
    throttled = start_server(extra_args=["--throttle", "aws"])
    client = throttled.client()
    codes = Counter()
    for _ in range(25):
        try:
            client.list_linked_whatsapp_business_accounts()
            codes["ok"] += 1
        except client.exceptions.ThrottledRequestException as error:
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            codes["throttled"] += 1
    assert codes["ok"] >= 10 and codes["throttled"] >= 1
    # Another account has its own quota.
    assert throttled.client().list_linked_whatsapp_business_accounts()["linkedAccounts"] == []
    unthrottled = start_server()
    client = unthrottled.client()
    for _ in range(25):
        client.list_linked_whatsapp_business_accounts()
