"""The webhook receiver, the event log (HTTP API and `wabalink events`), SNS delivery through an
outage, replay, and the secrets and bodies kept out of logs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO_ROOT
from tests.support.servers import child_commands
from tests.support.service_messaging import (
    TEST_APP_SECRET,
    FakeGraph,
    MotoServer,
    SwitchableProxy,
    events_api,
    inbound_webhook,
    read_events,
    signed_post,
    status_webhook,
    wait_for_events,
)
from tests.support.service_messaging_flows import link_number, start_messaging_server

TEXT = {"messaging_product": "whatsapp", "to": "+14255550150", "text": {"body": "Hi"}}


def send(client: Any, phone_id: str, body: dict[str, Any] = TEXT) -> str:
    return client.send_whatsapp_message(originationPhoneNumberId=phone_id, message=json.dumps(body).encode(),
                                        metaApiVersion="v20.0")["messageId"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_webhooks_are_verified_recorded_once_and_inbound_messages_reach_sns(
        start_server: Any, fake: FakeGraph, moto: MotoServer, database: str) -> None:
    server = start_messaging_server(start_server, fake, moto, database,
                                    env={"WABALINK_WEBHOOK_VERIFY_TOKEN": "verify-me"})
    topic_arn, queue_url = moto.topic_with_queue("inbound-" + uuid.uuid4().hex[:8])
    client = server.client()
    number = link_number(server, client, topic_arn)
    receiver = server.endpoint + "/_wabalink/webhooks/meta"
    webhook = inbound_webhook(number.meta_waba_id, number.meta_phone_id, "Hello there")
    assert signed_post(receiver, webhook, secret="wrong-secret")[0] == 401
    assert signed_post(receiver, webhook, signature="sha256=" + "0" * 64)[0] == 401
    assert wait_for_events(server.endpoint, lambda found: False, timeout=0.2, wabaId=number.waba_id) == []
    assert signed_post(receiver, webhook) == (200, {"success": True, "events": 1})
    assert signed_post(receiver, webhook) == (200, {"success": True, "events": 0})  # Meta's retry
    # A change of a Meta WABA nobody linked is dropped.
    assert signed_post(receiver, inbound_webhook("999999999", "1", "x")) == (200, {"success": True, "events": 0})
    [envelope] = read_events(moto, queue_url, lambda found: len(found) >= 1)
    entry = json.loads(envelope["whatsAppWebhookEntry"])
    assert entry == webhook["entry"][0]
    assert entry["changes"][0]["value"]["messages"][0]["text"]["body"] == "Hello there"
    assert envelope["context"]["MetaPhoneNumberIds"][0]["metaPhoneNumberId"] == number.meta_phone_id
    # A webhook with two changes: two events, each with one change.
    two = inbound_webhook(number.meta_waba_id, number.meta_phone_id, "one")
    two["entry"][0]["changes"] += inbound_webhook(number.meta_waba_id, number.meta_phone_id, "two")["entry"][0]["changes"]
    assert signed_post(receiver, two)[1]["events"] == 2
    found = read_events(moto, queue_url, lambda found: len(found) >= 2)
    assert sorted(json.loads(e["whatsAppWebhookEntry"])["changes"][0]["value"]["messages"][0]["text"]["body"]
                  for e in found) == ["one", "two"]
    # Meta's subscription check.
    import urllib.request
    challenge = urllib.request.urlopen(receiver + "?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=42")
    assert challenge.read() == b"42"
    # The events went out through the server's SNS publisher process, which ends with a SIGKILLed server.
    [publisher] = [pid for pid, command in child_commands(server.process.pid) if "wabalink.service.sns_publisher" in command]
    server.kill()
    deadline = time.monotonic() + 10
    while not process_gone(publisher) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(publisher)


def process_gone(pid: int) -> bool:
    """Exited (a zombie waiting for its new parent to reap it counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_sns_outage_loses_nothing_and_keeps_order_per_message(
        start_server: Any, fake: FakeGraph, moto: MotoServer) -> None:
    proxy = SwitchableProxy(moto.endpoint)
    try:
        server = start_messaging_server(start_server, fake, None, extra_args=["--sns-endpoint-url", proxy.url])
        topic_arn, queue_url = moto.topic_with_queue("outage-" + uuid.uuid4().hex[:8])
        client = server.client()
        number = link_number(server, client, topic_arn)
        proxy.down = True
        message_ids = [send(client, number.phone_id) for _ in range(5)]
        handed = wait_for_events(server.endpoint, lambda found: len(found) >= 5, wabaId=number.waba_id)
        wamids = {event["messageId"]: event["wamid"] for event in handed}
        receiver = server.endpoint + "/_wabalink/webhooks/meta"
        for status in ("sent", "delivered", "read"):
            for message_id in message_ids:
                assert signed_post(receiver, status_webhook(number.meta_waba_id, number.meta_phone_id,
                                                            wamids[message_id], status))[0] == 200
        retrying = wait_for_events(server.endpoint, lambda found: any(e["attempts"] >= 2 for e in found),
                                   wabaId=number.waba_id, status="retrying")
        assert retrying and "PublishBatch" in retrying[0]["lastError"]
        proxy.down = False
        envelopes = read_events(moto, queue_url, lambda found: len(found) >= 20, timeout=60)
        assert len(envelopes) == 20
        for message_id in message_ids:
            of_message = [e for e in envelopes if e["messageId"] == message_id]
            kinds = [json.loads(e["whatsAppWebhookEntry"])["changes"][0] for e in of_message]
            order = ["handover" if c["field"] == "aws_message_handover" else c["value"]["statuses"][0]["status"]
                     for c in kinds]
            assert order == ["handover", "sent", "delivered", "read"], order
        states = wait_for_events(server.endpoint, lambda found: all(e["status"] == "delivered" for e in found),
                                 wabaId=number.waba_id)
        assert {e["status"] for e in states} == {"delivered"}
    finally:
        proxy.close()


def test_events_cli_lists_filters_tails_and_replays(start_server: Any, fake: FakeGraph, moto: MotoServer) -> None:
    server = start_messaging_server(start_server, fake, moto)
    topic_arn, queue_url = moto.topic_with_queue("cli-" + uuid.uuid4().hex[:8])
    account = "123456789012"
    client = server.client(account_id=account)
    number = link_number(server, client, topic_arn)
    message_id = send(client, number.phone_id)
    wait_for_events(server.endpoint, lambda found: found and found[0]["status"] == "delivered",
                    messageId=message_id)
    env = {"AWS_ACCESS_KEY_ID": account, "AWS_SECRET_ACCESS_KEY": "x", "PATH": "/usr/bin:/bin"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wabalink.cli.main", "events", *args,
                               "--endpoint-url", server.endpoint], capture_output=True, text=True, env=env,
                              cwd=REPO_ROOT, timeout=60)

    listed = json.loads(cli("list", "--message-id", message_id).stdout)["events"]
    assert [(e["kind"], e["status"], e["accountId"]) for e in listed] == [("handover_succeeded", "delivered", account)]
    assert json.loads(cli("list", "--status", "dead").stdout)["events"] == []
    table = cli("list", "--waba-id", number.waba_id, "--output", "table").stdout
    assert "ListEvents" in table.splitlines()[1] and message_id in table and "delivered" in table
    assert re.search(r"\| +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z +\|", table)  # createdAt, ISO-8601 UTC
    other = subprocess.run([sys.executable, "-m", "wabalink.cli.main", "events", "list", "--endpoint-url",
                            server.endpoint], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
                           env={**env, "AWS_ACCESS_KEY_ID": "210987654321"})
    assert json.loads(other.stdout)["events"] == []  # another account's log
    read_events(moto, queue_url, lambda found: len(found) >= 1)
    replayed = json.loads(cli("replay", "--event-id", listed[0]["eventId"]).stdout)
    assert replayed["status"] == "pending"
    [again] = read_events(moto, queue_url, lambda found: len(found) >= 1)
    assert again["messageId"] == message_id
    assert cli("replay", "--event-id", "nope").returncode == 254  # the server's error, as AWS CLI v2 exits
    # tail follows new events and exits 130 on Ctrl-C.
    tail = subprocess.Popen([sys.executable, "-m", "wabalink.cli.main", "events", "tail", "--endpoint-url",
                             server.endpoint, "--interval", "0.1"], stdout=subprocess.PIPE, text=True, env=env,
                            cwd=REPO_ROOT)
    try:
        time.sleep(1.0)
        new_id = send(client, number.phone_id)
        line = tail.stdout.readline()
        assert json.loads(line)["messageId"] == new_id
    finally:
        tail.send_signal(2)
        assert tail.wait(10) == 130


def test_event_log_needs_the_operator_token_when_one_is_set(start_server: Any) -> None:
    server = start_server(env={"WABALINK_SANDBOX_TOKEN": "operator-token"})
    assert events_api(server.endpoint)[0] == 401
    assert events_api(server.endpoint, token="wrong")[0] == 401
    assert events_api(server.endpoint, token="operator-token") == (200, {"events": [], "after": 0})
    assert events_api(server.endpoint, token="operator-token", status="bogus")[0] == 400


def test_no_secret_or_message_body_in_logs(start_server: Any, fake: FakeGraph, moto: MotoServer) -> None:
    server = start_messaging_server(start_server, fake, moto)
    topic_arn, _ = moto.topic_with_queue("logs-" + uuid.uuid4().hex[:8])
    client = server.client()
    number = link_number(server, client, topic_arn)
    marker = "secret-body-" + uuid.uuid4().hex
    send(client, number.phone_id, {**TEXT, "text": {"body": marker}})
    refused_id = send(client, number.phone_id, {**TEXT, "to": "+14255550999", "text": {"body": marker}})
    wait_for_events(server.endpoint, lambda found: len(found) >= 2 and all(
        e["status"] == "delivered" for e in found), wabaId=number.waba_id)
    assert signed_post(server.endpoint + "/_wabalink/webhooks/meta",
                       inbound_webhook(number.meta_waba_id, number.meta_phone_id, marker))[0] == 200
    time.sleep(0.5)
    logs = server.logs()
    assert refused_id in logs  # a failed hand-over is logged, by id
    for secret in (marker, TEST_APP_SECRET, fake.app_token):
        assert secret not in logs


def test_a_status_racing_its_hand_over_is_retried_by_meta_then_mapped(
        start_server: Any, fake: FakeGraph, moto: MotoServer) -> None:
    server = start_messaging_server(start_server, fake, moto)
    client = server.client()
    number = link_number(server, client, None)
    fake.delay_seconds = 1.5  # the hand-over is at Meta while its status arrives
    message_id = send(client, number.phone_id)
    time.sleep(0.7)
    receiver = server.endpoint + "/_wabalink/webhooks/meta"
    early = status_webhook(number.meta_waba_id, number.meta_phone_id, "wamid.unknown-yet", "sent")
    assert signed_post(receiver, early)[0] == 503  # Meta retries it
    [handed] = wait_for_events(server.endpoint, lambda found: bool(found), messageId=message_id)
    status = status_webhook(number.meta_waba_id, number.meta_phone_id, handed["wamid"], "sent")
    assert signed_post(receiver, status)[1]["events"] == 1
    assert [e["kind"] for e in wait_for_events(server.endpoint, lambda found: len(found) >= 2,
                                               messageId=message_id)] == ["handover_succeeded", "status_sent"]
    # Nothing in flight: an unknown wamid is recorded under a new messageId.
    assert signed_post(receiver, early)[1]["events"] == 1


def test_strict_mode_event_log_without_an_operator_token_is_closed() -> None:
    from wabalink.config import Settings
    from wabalink.server.events_api import handle_events
    from wabalink.server.http import HttpRequest

    answer = handle_events(None, Settings(auth_mode="strict"), HttpRequest("GET", "/_wabalink/events"))  # type: ignore[arg-type]
    assert answer.status == 403 and b"--sandbox-token" in answer.body


def test_role_arn_is_assumed_through_sts_before_publishing(start_server: Any, fake: FakeGraph,
                                                           moto: MotoServer) -> None:
    server = start_messaging_server(start_server, fake, moto, env={"AWS_ENDPOINT_URL_STS": moto.endpoint})
    topic_arn, queue_url = moto.topic_with_queue("role-" + uuid.uuid4().hex[:8])
    client = server.client()
    number = link_number(server, client, topic_arn, role_arn="arn:aws:iam::123456789012:role/wabalink-events")
    message_ids = {send(client, number.phone_id) for _ in range(3)}
    envelopes = read_events(moto, queue_url, lambda found: len(found) >= 3)
    assert {e["messageId"] for e in envelopes} == message_ids


def test_connect_destinations_are_recorded_as_undeliverable(start_server: Any, fake: FakeGraph) -> None:
    server = start_messaging_server(start_server, fake, None)
    client = server.client()
    number = link_number(server, client, "arn:aws:connect:us-east-1:123456789012:instance/0f1e2d3c-aaaa-bbbb")
    message_id = send(client, number.phone_id)
    [event] = wait_for_events(server.endpoint, lambda found: bool(found), messageId=message_id)
    assert event["status"] == "undeliverable" and "Amazon Connect" in event["lastError"]
    replayed = events_api(server.endpoint, f"/{event['eventId']}/replay", method="POST")[1]
    assert replayed["status"] == "pending"
    [again] = wait_for_events(server.endpoint, lambda found: found and found[0]["status"] != "pending",
                              messageId=message_id)
    assert again["status"] == "undeliverable"
