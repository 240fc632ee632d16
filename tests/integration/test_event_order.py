"""Each message's events reach SNS once and in order (hand-over, sent, delivered, read): across two
replicas that each receive the simulator's webhooks at their own URL, and when Meta delivers a
status before its predecessor."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.postgres import migrated_store
from tests.support.service_messaging import (
    AWS_TEST_ENV,
    FakeGraph,
    MotoServer,
    events_api,
    read_events,
    signed_post,
    status_webhook,
    wait_for_events,
)
from tests.support.service_messaging_flows import link_number, start_messaging_server
from wabalink.service.events import event_row
from wabalink.service.webhooks import STATUS_HOLD_SECONDS, StatusOrdering
from wabalink.store import events as event_store
from wabalink.store.db import Store

TEXT = json.dumps({"messaging_product": "whatsapp", "to": "+14255550150", "text": {"body": "Hi"}}).encode()


def kinds_per_message(envelopes: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per messageId, what each published envelope was, in publication order."""
    found: dict[str, list[str]] = defaultdict(list)
    for envelope in envelopes:
        change = json.loads(envelope["whatsAppWebhookEntry"])["changes"][0]
        statuses = change["value"].get("statuses")
        found[envelope["messageId"]].append(statuses[0]["status"] if statuses else change["field"])
    return found


def test_two_replicas_with_their_own_receivers_publish_each_message_in_order(
        start_server: Any, moto: MotoServer) -> None:
    first = start_server("postgresql", ["--sns-endpoint-url", moto.endpoint], env=AWS_TEST_ENV)
    second = start_server(extra_args=["--sns-endpoint-url", moto.endpoint], env=AWS_TEST_ENV,
                          database_url=first.database_url)
    topic_arn, queue_url = moto.topic_with_queue("replicas-order-" + uuid.uuid4().hex[:8])
    account = "111122223333"
    number = link_number(first, first.client(account_id=account), topic_arn)
    # The simulator sends the first status ~20 ms after acceptance: several messages' statuses are
    # queued at once, by both replicas, each of which would post to its own receiver.
    clients = [first.client(account_id=account), second.client(account_id=account)]
    def template_to(recipient: str) -> bytes:  # a template: no customer service window needed
        return json.dumps({"messaging_product": "whatsapp", "to": recipient, "type": "template",
                           "template": {"name": "hello_world", "language": {"code": "en_US"}}}).encode()

    # One recipient each: the simulator's pair rate limit does not refuse any.
    message_ids = [clients[i % 2].send_whatsapp_message(originationPhoneNumberId=number.phone_id,
                                                        message=template_to(f"+1425556{i + 1:04d}"),
                                                        metaApiVersion="v20.0")["messageId"]
                   for i in range(40)]
    expected = ["aws_message_handover", "sent", "delivered", "read"]
    envelopes = read_events(moto, queue_url, lambda found: len(found) >= 4 * len(message_ids), timeout=90)
    time.sleep(2)  # anything published twice would arrive by now
    envelopes += read_events(moto, queue_url, lambda found: False, timeout=1)
    published = kinds_per_message(envelopes)
    assert set(published) == set(message_ids)
    out_of_order = {message_id: kinds for message_id, kinds in published.items() if kinds != expected}
    assert not out_of_order
    assert first.sandbox("GET", "/webhooks")["pending"] == 0


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_status_arriving_before_its_predecessor_is_published_after_it(
        start_server: Any, fake: FakeGraph, moto: MotoServer, database: str) -> None:
    server = start_messaging_server(start_server, fake, moto, database)
    topic_arn, queue_url = moto.topic_with_queue("early-" + uuid.uuid4().hex[:8])
    client = server.client()
    number = link_number(server, client, topic_arn)
    message_id = client.send_whatsapp_message(originationPhoneNumberId=number.phone_id, message=TEXT,
                                              metaApiVersion="v20.0")["messageId"]
    [handed] = wait_for_events(server.endpoint, lambda found: bool(found), messageId=message_id)
    [handover] = read_events(moto, queue_url, lambda found: len(found) >= 1)
    receiver = server.endpoint + "/_wabalink/webhooks/meta"

    def post(status: str) -> None:
        body = status_webhook(number.meta_waba_id, number.meta_phone_id, handed["wamid"], status)
        assert signed_post(receiver, body) == (200, {"success": True, "events": 1})

    post("read")  # before delivered: recorded (Meta is answered 200) and held
    post("sent")
    early = read_events(moto, queue_url, lambda found: False, timeout=1.5)
    assert kinds_per_message(early)[message_id] == ["sent"]  # read waits for delivered
    post("delivered")  # releases read
    envelopes = early + read_events(moto, queue_url, lambda found: len(found) >= 2, timeout=20)
    time.sleep(1)
    envelopes += read_events(moto, queue_url, lambda found: False, timeout=1)
    assert kinds_per_message([handover, *envelopes])[message_id] == ["aws_message_handover", "sent", "delivered",
                                                                     "read"]
    logged = events_api(server.endpoint, messageId=message_id)[1]["events"]
    assert [e["kind"] for e in logged] == ["handover_succeeded", "status_read", "status_sent", "status_delivered"]
    assert {e["status"] for e in logged} == {"delivered"}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request.param, tmp_path) as opened:
        yield opened


WABA = {"id": "0123456789abcdef0123456789abcdef", "account_id": "111122223333", "region": "us-east-1",
        "meta_waba_id": "1001", "event_destinations": json.dumps(
            [{"eventDestinationArn": "arn:aws:sns:us-east-1:111122223333:statuses"}])}


def record_statuses(store: Store, message_id: str, *statuses: str) -> None:
    """As the receiver records a webhook body with these statuses of a message sent through
    SendWhatsAppMessage, in this order."""
    with store.writer() as cursor:
        ordering = StatusOrdering(cursor, [message_id])
        rows = []
        for status in statuses:
            now = time.time()
            kind = f"status_{status}"
            change = {"field": "messages", "value": {"statuses": [{"status": status}]}}
            row = event_row(waba=WABA, phone=None, kind=kind, message_id=message_id,
                            hold_until=ordering.place(message_id, kind, now), entry={"id": "1001", "changes": [change]})
            ordering.add(row, now)
            rows.append(row)
        ordering.write_releases(cursor, time.time())
        event_store.insert_events(cursor, rows)


def record_status(store: Store, message_id: str, status: str) -> None:
    record_statuses(store, message_id, status)


def claim(store: Store, at: float) -> list[str]:
    """What the delivery worker would publish at `at`: claimed events, marked delivered."""
    with store.writer() as cursor:
        claimed = event_store.claim_due(cursor, at, at + 60, 100)
        for row in claimed:
            event_store.mark_delivered(cursor, row["seq"], at)
    return [row["kind"].removeprefix("status_") for row in claimed]


def test_statuses_are_claimed_by_rank_and_a_lone_one_only_after_its_hold(store: Store) -> None:
    message_id = str(uuid.uuid4())
    record_status(store, message_id, "read")  # held for delivered
    record_status(store, message_id, "delivered")  # held for sent; releases read, which ranks after it
    assert claim(store, time.time()) == []
    record_status(store, message_id, "sent")  # releases delivered
    now = time.time()
    assert [claim(store, now), claim(store, now), claim(store, now), claim(store, now)] == [
        ["sent"], ["delivered"], ["read"], []]

    # The same, out of order within ONE webhook body: read waits for delivered, delivered for sent.
    batched = str(uuid.uuid4())
    record_statuses(store, batched, "read", "delivered")
    assert claim(store, time.time()) == []
    record_statuses(store, batched, "sent")
    now = time.time()
    assert [claim(store, now), claim(store, now), claim(store, now)] == [["sent"], ["delivered"], ["read"]]
    in_order = str(uuid.uuid4())
    record_statuses(store, in_order, "delivered", "sent", "read")  # sent releases delivered in the same body
    now = time.time()
    assert [claim(store, now), claim(store, now), claim(store, now)] == [["sent"], ["delivered"], ["read"]]

    lone = str(uuid.uuid4())
    record_status(store, lone, "read")  # its delivered never comes
    assert claim(store, time.time() + STATUS_HOLD_SECONDS - 5) == []
    assert claim(store, time.time() + STATUS_HOLD_SECONDS + 1) == ["read"]
