"""Inbound messages in Meta's exact webhook shape, override callbacks, webhook retries that lose
nothing and keep each message's order, the sandbox's webhook queue, and `wabalink meta` commands.
On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.messaging import (
    Business,
    inbound,
    inbound_ok,
    new_business,
    sandbox_ok,
    send_ok,
    simulator_posting_to,
)
from tests.support.meta import Server
from tests.support.webhooks import WebhookReceiver
from wabalink.cli.meta import main as meta_cli


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver("unset") as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           receiver: WebhookReceiver) -> Iterator[Server]:
    with simulator_posting_to(receiver, request.param, tmp_path_factory.mktemp("inbound")) as running:
        yield running


@pytest.fixture
def business(server: Server) -> Business:
    return new_business(server)


def user() -> str:
    return "+44" + str(random.randint(7000000000, 7999999999))


def received(receiver: WebhookReceiver, wamid: str) -> dict[str, Any]:
    receiver.wait_for(lambda: any(m["messages"][0]["id"] == wamid for m in receiver.inbound()))
    return next(m for m in receiver.inbound() if m["messages"][0]["id"] == wamid)


def test_inbound_text_in_metas_shape(server: Server, business: Business, receiver: WebhookReceiver) -> None:
    sender = user()
    wamid = inbound_ok(server, business, {"from": sender, "name": "Diego", "text": "Hi"})
    value = received(receiver, wamid)
    message = value["messages"][0]
    assert value == {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": business.display_digits, "phone_number_id": business.phone_id},
        "contacts": [{"profile": {"name": "Diego"}, "wa_id": sender[1:]}],
        "messages": [{"from": sender[1:], "id": wamid, "timestamp": message["timestamp"], "type": "text",
                      "text": {"body": "Hi"}}],
    }
    assert message["timestamp"].isdigit()
    change = next(c for c in receiver.changes() if c["value"] is not None and c["value"].get("messages")
                  and c["value"]["messages"][0]["id"] == wamid)
    assert (change["waba_id"], change["field"]) == (business.waba_id, "messages")


def test_inbound_replies_reactions_and_locations(server: Server, business: Business,
                                                receiver: WebhookReceiver) -> None:
    sender = user()
    inbound_ok(server, business, {"from": sender, "text": "Hi"})
    outbound = send_ok(server, business, {"to": sender, "type": "interactive", "interactive": {
        "type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}}})
    context = {"from": business.display_digits, "id": outbound}
    button = received(receiver, inbound_ok(server, business, {"from": sender, "buttonReply": {"id": "yes", "title": "Yes"},
                                                              "context": outbound}))["messages"][0]
    assert button["type"] == "interactive" and button["context"] == context
    assert button["interactive"] == {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}
    listed = received(receiver, inbound_ok(server, business, {
        "from": sender, "listReply": {"id": "r1", "title": "Row", "description": "d"}, "context": outbound}))
    assert listed["messages"][0]["interactive"] == {"type": "list_reply",
                                                    "list_reply": {"id": "r1", "title": "Row", "description": "d"}}
    reaction = received(receiver, inbound_ok(server, business, {"from": sender, "reaction": {"emoji": "\U0001F44D"},
                                                                "context": outbound}))["messages"][0]
    assert reaction["type"] == "reaction" and reaction["reaction"] == {"message_id": outbound, "emoji": "\U0001F44D"}
    assert "context" not in reaction
    location = received(receiver, inbound_ok(server, business, {
        "from": sender, "location": {"latitude": 38.72, "longitude": -9.14, "name": "Lisbon"}}))["messages"][0]
    assert location["location"] == {"latitude": 38.72, "longitude": -9.14, "name": "Lisbon"}


@pytest.mark.parametrize("body,status", [
    ({"from": "nobody", "text": "Hi"}, 400),
    ({"from": "+447000000001"}, 400),
    ({"from": "+447000000001", "text": "Hi", "location": {"latitude": 1, "longitude": 1}}, 400),
    ({"from": "+447000000001", "buttonReply": {"id": "a", "title": "A"}}, 400),
    ({"from": "+447000000001", "reaction": {"emoji": "x"}, "context": "wamid.unknown"}, 404),
    ({"from": "+447000000001", "location": {"latitude": 91, "longitude": 1}}, 400),
])
def test_inbound_input_checked(server: Server, business: Business, body: dict[str, Any], status: int) -> None:
    answer_status, answer = inbound(server, business, body)
    assert answer_status == status, answer
    assert answer["error"]["message"]


def test_inbound_image(server: Server, business: Business, receiver: WebhookReceiver) -> None:
    data = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
    status, answer = inbound(server, business, {"from": user(), "image": {
        "data": base64.b64encode(data).decode(), "mimeType": "image/jpeg", "caption": "look"}})
    try:
        import wabalink.meta.media  # noqa: F401
    except ModuleNotFoundError:
        assert (status, answer["error"]["message"].split(":")[0]) == (501, "media store not available")
        pytest.skip("inbound images need the media area (wabalink.meta.media)")
    assert status == 201, answer
    image = received(receiver, answer["wamid"])["messages"][0]["image"]
    assert image["mime_type"] == "image/jpeg" and image["caption"] == "look" and image["id"]


def test_override_callback_also_gets_the_webhooks(server: Server, receiver: WebhookReceiver) -> None:
    with WebhookReceiver(server.simulator.app.app_secret) as linked:
        business = new_business(server, subscribe={"override_callback_uri": linked.url, "verify_token": "vt"})
        wamid = inbound_ok(server, business, {"from": user(), "text": "Hi"})
        linked.wait_for(lambda: any(m["messages"][0]["id"] == wamid for m in linked.inbound()))
        received(receiver, wamid)


def test_retries_lose_nothing_and_keep_each_messages_order(server: Server, business: Business,
                                                          receiver: WebhookReceiver) -> None:
    sandbox_ok(server, "PUT", f"/phone-numbers/{business.phone_id}/delivery",
               {"sentDelayMs": 0, "deliveredDelayMs": 5, "readDelayMs": 5})
    sender = user()
    inbound_ok(server, business, {"from": sender, "text": "Hi"})
    receiver.fail_status = 503
    try:
        wamids = [send_ok(server, business, {"to": sender, "text": {"body": f"m{i}"}}) for i in range(5)]
        deadline = time.monotonic() + 10
        while receiver.failures_served < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        queue = sandbox_ok(server, "GET", "/webhooks")
        assert queue["pending"] > 0
        assert any(row["lastError"] == "HTTP 503" for row in queue["webhooks"])
    finally:
        receiver.fail_status = None
    sandbox_ok(server, "POST", "/webhooks/flush")
    receiver.wait_for(lambda: all(len(receiver.statuses(w)) >= 3 for w in wamids), timeout=20)
    for wamid in wamids:
        order = [s["status"] for s in receiver.statuses(wamid)]
        deduplicated = list(dict.fromkeys(order))  # at least once: a retried body may come twice
        assert deduplicated == ["sent", "delivered", "read"], order


def test_graph_client_subscribes_with_an_override(server: Server, receiver: WebhookReceiver) -> None:
    business = new_business(server)
    with WebhookReceiver(server.simulator.app.app_secret) as linked:
        client = server.client()
        try:
            client.subscribe_app(business.waba_id, override_callback_uri=linked.url, verify_token="vt")
        finally:
            client.close()
        wamid = inbound_ok(server, business, {"from": user(), "text": "Hi"})
        linked.wait_for(lambda: any(m["messages"][0]["id"] == wamid for m in linked.inbound()))


def test_subscribe_refuses_a_bad_override(server: Server) -> None:
    from tests.support.messaging import graph

    waba = sandbox_ok(server, "POST", "/wabas", {"name": "Bad", "phoneNumbers": 0})
    status, answer = graph(server, "POST", f"/{waba['wabaId']}/subscribed_apps",
                           {"override_callback_uri": "ftp://x", "verify_token": "t"})
    assert answer["error"]["code"] == 100
    status, answer = graph(server, "POST", f"/{waba['wabaId']}/subscribed_apps",
                           {"override_callback_uri": "https://example.com/hook"})
    assert answer["error"]["code"] == 100


def _cli(server: Server, *args: str) -> tuple[int, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = meta_cli([*args, "--endpoint", server.endpoint])
    return code, json.loads(out.getvalue()) if code == 0 else None


def test_cli_commands(server: Server, business: Business, receiver: WebhookReceiver) -> None:
    phone = ["--phone-number-id", business.phone_id]
    sender = user()
    code, answer = _cli(server, "send-inbound", *phone, "--from", sender, "--text", "Hello", "--name", "Ana")
    assert code == 0 and answer["wamid"].startswith("wamid.")
    received(receiver, answer["wamid"])
    code, answer = _cli(server, "send-inbound", *phone, "--from", sender, "--location", "38.7,-9.1")
    assert code == 0
    assert received(receiver, answer["wamid"])["messages"][0]["location"] == {"latitude": 38.7, "longitude": -9.1}
    assert _cli(server, "send-inbound", *phone, "--from", sender, "--button-reply", "no-title")[0] == 252  # a usage error, as AWS CLI v2 exits
    code, answer = _cli(server, "set-throughput", *phone, "--tier", "COEXISTENCE")
    assert (code, answer["throughputMps"]) == (0, 20)
    code, answer = _cli(server, "set-delivery", *phone, "--read-delay-ms", "50", "--stop-at", "delivered")
    assert (answer["readDelayMs"], answer["stopAt"]) == (50, "delivered")
    code, answer = _cli(server, "add-failure-rule", *phone, "--recipient-suffix", "99", "--error-code", "131026")
    assert answer["failureRules"][0]["errorTitle"] == "Message undeliverable"
    code, answer = _cli(server, "clear-failure-rules", *phone)
    assert answer["failureRules"] == []
    code, answer = _cli(server, "conversations", *phone)
    conversation = next(c for c in answer["conversations"] if c["waId"] == sender[1:])
    assert conversation["windowOpen"] is True and conversation["profileName"] == "Ana"
    assert [m["type"] for m in conversation["messages"]] == ["location", "text"]
    code, answer = _cli(server, "webhooks")
    assert code == 0 and "pending" in answer


def test_purging_the_queue(server: Server, business: Business, receiver: WebhookReceiver) -> None:
    receiver.fail_status = 500
    try:
        served = receiver.failures_served
        inbound_ok(server, business, {"from": user(), "text": "lost on purpose"})
        deadline = time.monotonic() + 10
        while receiver.failures_served == served:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        shown = sandbox_ok(server, "GET", "/webhooks")
        assert shown["pending"] >= 1 and shown["webhooks"][0]["field"] == "messages"
        assert sandbox_ok(server, "DELETE", "/webhooks")["dropped"] == shown["pending"]
        assert sandbox_ok(server, "GET", "/webhooks") == {"pending": 0, "webhooks": []}
    finally:
        receiver.fail_status = None
