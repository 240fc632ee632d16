"""The simulator's messages endpoint: Cloud API checks and error codes, accepted payloads, the
delivery schedule arriving as signed webhooks, failure rules, the 24-hour window, throughput and
pair rate. On SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.messaging import (
    Business,
    graph,
    inbound_ok,
    new_business,
    sandbox_ok,
    send,
    send_ok,
    simulator_posting_to,
)
from tests.support.meta import Server
from tests.support.webhooks import WebhookReceiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver("unset") as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           receiver: WebhookReceiver) -> Iterator[Server]:
    with simulator_posting_to(receiver, request.param, tmp_path_factory.mktemp("messages")) as running:
        yield running


@pytest.fixture
def business(server: Server) -> Business:
    """A registered number whose WABA has the templates these tests send (approved at once)."""
    created = new_business(server)
    for name, language in (("promo", "en"), ("t", "en")):  # hello_world: every WABA has it
        status, answer = graph(server, "POST", f"/{created.waba_id}/message_templates", {
            "name": name, "language": language, "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Hello from the test business"}]})
        assert status == 200, answer
    return created


def user() -> str:
    return "+1555" + str(random.randint(1000000, 9999999))  # never ends in 0000 by chance: 7 digits


def open_window(server: Server, business: Business, to: str) -> None:
    inbound_ok(server, business, {"from": to, "name": "Diego", "text": "Hi"})


# --- checks and error codes -------------------------------------------------------------------

LONG = "x" * 4097
BAD_REQUESTS: list[tuple[str, dict[str, Any], int]] = [
    ("no product", {"messaging_product": None, "to": "15550001111", "text": {"body": "hi"}}, 100),
    ("sms product", {"messaging_product": "sms", "to": "15550001111", "text": {"body": "hi"}}, 100),
    ("no to", {"text": {"body": "hi"}}, 131008),
    ("bad to", {"to": "call me", "text": {"body": "hi"}}, 131009),
    ("unknown type", {"to": "15551112222", "type": "hologram", "hologram": {}}, 100),
    ("no text", {"to": "15551112222", "type": "text"}, 131008),
    ("text too long", {"to": "15551112222", "text": {"body": LONG}}, 131009),
    ("preview_url not bool", {"to": "15551112222", "text": {"body": "a", "preview_url": "yes"}}, 131009),
    ("image id and link", {"to": "15551112222", "type": "image", "image": {"id": "1", "link": "https://x.test/a"}},
     131009),
    ("image neither", {"to": "15551112222", "type": "image", "image": {"caption": "c"}}, 131009),
    ("image ftp", {"to": "15551112222", "type": "image", "image": {"link": "ftp://x.test/a.jpg"}}, 131009),
    ("sticker caption", {"to": "15551112222", "type": "sticker", "sticker": {"link": "https://x.test/s.webp",
                                                                             "caption": "no"}}, 131009),
    ("reaction no message_id", {"to": "15551112222", "type": "reaction", "reaction": {"emoji": "x"}}, 131008),
    ("location latitude", {"to": "15551112222", "type": "location",
                           "location": {"latitude": 100, "longitude": 1}}, 131009),
    ("location missing", {"to": "15551112222", "type": "location", "location": {"latitude": 1}}, 131008),
    ("contact without name", {"to": "15551112222", "type": "contacts", "contacts": [{"phones": []}]}, 131008),
    ("four buttons", {"to": "15551112222", "type": "interactive", "interactive": {
        "type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": f"b{i}", "title": f"B{i}"}} for i in range(4)]}}}, 131009),
    ("long button title", {"to": "15551112222", "type": "interactive", "interactive": {
        "type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "x" * 21}}]}}}, 131009),
    ("eleven rows", {"to": "15551112222", "type": "interactive", "interactive": {
        "type": "list", "body": {"text": "Pick"}, "action": {"button": "Menu", "sections": [
            {"title": "A", "rows": [{"id": f"a{i}", "title": f"A{i}"} for i in range(6)]},
            {"title": "B", "rows": [{"id": f"b{i}", "title": f"B{i}"} for i in range(5)]}]}}}, 131009),
    ("interactive no body", {"to": "15551112222", "type": "interactive", "interactive": {
        "type": "button", "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]}}}, 131008),
    ("cta_url without url", {"to": "15551112222", "type": "interactive", "interactive": {
        "type": "cta_url", "body": {"text": "Go"}, "action": {"name": "cta_url",
                                                             "parameters": {"display_text": "Open"}}}}, 131008),
    ("template no language", {"to": "15551112222", "type": "template", "template": {"name": "hello"}}, 131008),
    ("context without id", {"to": "15551112222", "text": {"body": "a"}, "context": {}}, 131008),
    ("mark read unknown", {"status": "read", "message_id": "wamid.unknown"}, 131009),
    ("status not read", {"status": "delivered", "message_id": "wamid.unknown"}, 131009),
    ("mark read no id", {"status": "read"}, 131008),
]


@pytest.mark.parametrize("name,body,code", BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
def test_bad_messages_answer_meta_error_codes(server: Server, business: Business, name: str,
                                              body: dict[str, Any], code: int) -> None:
    status, answer = send(server, business, body)  # a null messaging_product is a missing one
    assert status == 400, answer
    error = answer["error"]
    assert error["code"] == code, error
    assert error["message"].startswith(f"(#{code})")
    assert error["fbtrace_id"]
    if code != 100:
        assert error["error_data"]["messaging_product"] == "whatsapp"
        assert error["error_data"]["details"]


def test_an_unregistered_number_cannot_send(server: Server) -> None:
    business = new_business(server, register=False)
    status, answer = send(server, business, {"to": user(), "text": {"body": "hi"}})
    assert (status, answer["error"]["code"], answer["error"]["message"]) == (
        400, 133010, "(#133010) Account not registered")


def test_recipient_cannot_be_sender(server: Server, business: Business) -> None:
    status, answer = send(server, business, {"to": "+" + business.display_digits, "text": {"body": "me"}})
    assert answer["error"]["code"] == 131021


@pytest.mark.parametrize("version,served", [("v16.0", False), ("v17.0", True), ("v25.0", True),
                                            ("v26.0", False), ("v21.1", False)])
def test_versions_served(server: Server, business: Business, version: str, served: bool) -> None:
    status, answer = send(server, business, {"to": user(), "text": {"body": "hi"}}, version=version)
    if served:
        assert status == 200, answer
    else:
        assert answer["error"]["code"] == 2500


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("text without type", {"text": {"preview_url": False, "body": "hello"}}),
    ("text typed", {"recipient_type": "individual", "type": "text", "text": {"body": "hello"}}),
    ("reaction", {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "\U0001F44B"}}),
    ("reply", {"text": {"body": "re"}, "context": {"message_id": "wamid.X"}}),
    ("buttons", {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Please choose:"},
                                                        "action": {"buttons": [
                                                            {"type": "reply", "reply": {"id": "A", "title": "Place"}},
                                                            {"type": "reply", "reply": {"id": "B", "title": "Track"}}]}}}),
    ("list", {"type": "interactive", "interactive": {"type": "list", "body": {"text": "Menu"}, "action": {
        "button": "Options", "sections": [{"title": "S", "rows": [{"id": "r1", "title": "Row", "description": "d"}]}]}}}),
    ("cta_url", {"type": "interactive", "interactive": {"type": "cta_url", "body": {"text": "Go"}, "action": {
        "name": "cta_url", "parameters": {"display_text": "Open", "url": "https://example.com"}}}}),
    ("flow", {"type": "interactive", "interactive": {"type": "flow", "body": {"text": "Go"}, "action": {
        "name": "flow", "parameters": {"flow_message_version": "3", "flow_id": "123", "flow_cta": "Book"}}}}),
    ("image link", {"type": "image", "image": {"link": "https://example.com/a.jpg", "caption": "c"}}),
    ("image id", {"type": "image", "image": {"id": "1234567890"}}),
    ("document", {"type": "document", "document": {"link": "https://example.com/a.pdf", "filename": "a.pdf"}}),
    ("audio", {"type": "audio", "audio": {"link": "https://example.com/a.ogg"}}),
    ("location", {"type": "location", "location": {"latitude": 38.7, "longitude": -9.1, "name": "Lisbon"}}),
    ("contacts", {"type": "contacts", "contacts": [{"name": {"formatted_name": "Ana", "first_name": "Ana"}}]}),
    ("template", {"type": "template", "template": {"name": "statement", "language": {"code": "en_US"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "1000"}]}]}}),
]


@pytest.mark.parametrize("name,body", ACCEPTED, ids=[case[0] for case in ACCEPTED])
def test_every_payload_kind_is_accepted(server: Server, business: Business, name: str, body: dict[str, Any]) -> None:
    if name == "image id":  # an id the number really uploaded
        from io import BytesIO

        from wabalink.meta.media import store_media

        media_id = store_media(server.simulator, business.phone_id, BytesIO(b"\xff\xd8\xff\xe0" + b"0" * 64),
                               "image/jpeg")
        body = {"type": "image", "image": {"id": media_id}}
    if name == "template":  # a template the WABA really has, approved at once by default
        status, created = graph(server, "POST", f"/{business.waba_id}/message_templates", {
            "name": "statement", "language": "en_US", "category": "UTILITY", "components": [
                {"type": "BODY", "text": "Your balance is {{1}}.", "example": {"body_text": [["1000"]]}}]})
        assert status == 200, created
    to = user()
    status, answer = send(server, business, {"to": to, **body})
    assert status == 200, answer
    wamid = answer["messages"][0]["id"]
    assert answer == {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to[1:]}],
                      "messages": [{"id": wamid, "message_status": "accepted"}]}
    assert wamid.startswith("wamid.") and len(wamid) < 128


# --- the delivery schedule ------------------------------------------------------------------

def test_statuses_arrive_in_order_signed_with_pricing(server: Server, business: Business,
                                                      receiver: WebhookReceiver) -> None:
    to = user()
    open_window(server, business, to)
    callback = '{"order": 7}'  # JSON text stays text
    wamid = send_ok(server, business, {"to": to, "text": {"body": "hi"}, "biz_opaque_callback_data": callback})
    receiver.wait_for(lambda: len(receiver.statuses(wamid)) == 3)
    statuses = receiver.statuses(wamid)
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert receiver.bad_signatures == 0
    for status in statuses:
        assert status["recipient_id"] == to[1:]
        assert status["biz_opaque_callback_data"] == callback
        assert status["timestamp"].isdigit()
    sent = statuses[0]
    assert sent["pricing"] == {"billable": False, "pricing_model": "PMP", "type": "free_customer_service",
                               "category": "service"}
    assert sent["conversation"]["origin"] == {"type": "service"}
    assert "pricing" not in statuses[2]
    change = next(c for c in receiver.changes() if c["value"].get("statuses", [{}])[0].get("id") == wamid)
    assert change["waba_id"] == business.waba_id and change["field"] == "messages"
    assert change["value"]["metadata"] == {"display_phone_number": business.display_digits,
                                           "phone_number_id": business.phone_id}


def test_stop_at_delivered(server: Server, business: Business, receiver: WebhookReceiver) -> None:
    sandbox_ok(server, "PUT", f"/phone-numbers/{business.phone_id}/delivery",
               {"stopAt": "delivered", "sentDelayMs": 0, "deliveredDelayMs": 10})
    to = user()
    open_window(server, business, to)
    wamid = send_ok(server, business, {"to": to, "text": {"body": "hi"}})
    receiver.wait_for(lambda: len(receiver.statuses(wamid)) == 2)
    conversation = _conversation(server, business, to)
    assert conversation["messages"][0]["status"] == "delivered"
    assert [s["status"] for s in receiver.statuses(wamid)] == ["sent", "delivered"]


def test_outside_the_window_fails_with_131047_but_templates_go(server: Server, business: Business,
                                                              receiver: WebhookReceiver) -> None:
    to = user()
    text = send_ok(server, business, {"to": to, "text": {"body": "hi"}})
    template = send_ok(server, business, {"to": to, "type": "template",
                                          "template": {"name": "hello_world", "language": {"code": "en_US"}}})
    receiver.wait_for(lambda: receiver.statuses(text) and len(receiver.statuses(template)) == 3)
    failed = receiver.statuses(text)
    assert [s["status"] for s in failed] == ["failed"]
    assert failed[0]["errors"][0]["code"] == 131047
    assert failed[0]["errors"][0]["title"] == "Re-engagement message"
    sent = receiver.statuses(template)[0]
    assert sent["pricing"]["billable"] is True and sent["pricing"]["type"] == "regular"
    assert _conversation(server, business, to)["windowOpen"] is False


def test_failure_rules(server: Server, business: Business, receiver: WebhookReceiver) -> None:
    undeliverable = "+15559990000"
    open_window(server, business, undeliverable)
    by_default = send_ok(server, business, {"to": undeliverable, "text": {"body": "hi"}})
    path = f"/phone-numbers/{business.phone_id}/failure-rules"
    rules = sandbox_ok(server, "POST", path, {"recipientSuffix": "77", "errorCode": 131050})
    assert rules["failureRules"][0]["errorTitle"] == "User has stopped receiving marketing messages"
    sandbox_ok(server, "POST", path, {"recipientPattern": "1555888.*", "errorCode": 131049, "errorTitle": "Held"})
    by_suffix = send_ok(server, business, {"to": "+15551234577", "type": "template",
                                           "template": {"name": "promo", "language": {"code": "en"}}})
    by_pattern = send_ok(server, business, {"to": "+15558881234", "type": "template",
                                            "template": {"name": "promo", "language": {"code": "en"}}})
    receiver.wait_for(lambda: all(receiver.statuses(w) for w in (by_default, by_suffix, by_pattern)))
    assert receiver.statuses(by_default)[0]["errors"][0]["code"] == 131026
    assert receiver.statuses(by_suffix)[0]["errors"][0]["code"] == 131050
    assert receiver.statuses(by_pattern)[0]["errors"][0]["title"] == "Held"
    sandbox_ok(server, "DELETE", path)
    sandbox_ok(server, "PUT", f"/phone-numbers/{business.phone_id}/delivery", {"undeliverableSuffix": ""})
    after = send_ok(server, business, {"to": undeliverable, "text": {"body": "hi"}})
    receiver.wait_for(lambda: len(receiver.statuses(after)) == 3)


def test_throughput_tier(server: Server, business: Business) -> None:
    sandbox_ok(server, "PUT", f"/phone-numbers/{business.phone_id}/throughput", {"messagesPerSecond": 3})
    answers = [send(server, business, {"to": user(), "type": "template",
                                       "template": {"name": "t", "language": {"code": "en"}}}) for _ in range(5)]
    codes = [answer["error"]["code"] if status != 200 else 200 for status, answer in answers]
    assert codes.count(200) == 3 and 130429 in codes, codes
    refused = next(answer for status, answer in answers if status != 200)
    assert refused["error"]["message"] == "(#130429) Rate limit hit"
    shown = sandbox_ok(server, "PUT", f"/phone-numbers/{business.phone_id}/throughput", {"tier": "HIGH"})
    assert shown["throughputMps"] == 1000


def test_pair_rate(server: Server, business: Business) -> None:
    sandbox_ok(server, "PUT", f"/phone-numbers/{business.phone_id}/delivery", {"pairLimit": 2, "pairWindowSeconds": 60})
    to = user()
    template = {"type": "template", "template": {"name": "t", "language": {"code": "en"}}}
    send_ok(server, business, {"to": to, **template})
    send_ok(server, business, {"to": to, **template})
    status, answer = send(server, business, {"to": to, **template})
    assert answer["error"]["code"] == 131056
    send_ok(server, business, {"to": user(), **template})  # another user is another pair


def test_mark_as_read(server: Server, business: Business) -> None:
    to = user()
    wamid = inbound_ok(server, business, {"from": to, "text": "Hi"})
    status, answer = send(server, business, {"status": "read", "message_id": wamid})
    assert (status, answer) == (200, {"success": True})
    messages = _conversation(server, business, to)["messages"]
    assert messages[0]["status"] == "read" and messages[0]["direction"] == "inbound"


def _conversation(server: Server, business: Business, to: str) -> dict[str, Any]:
    answer = sandbox_ok(server, "GET", f"/phone-numbers/{business.phone_id}/conversations")
    return next(c for c in answer["conversations"] if c["waId"] == to.lstrip("+"))


# --- the service's way in: GraphClient.send_message -----------------------------------------

def test_graph_client_send_message(server: Server, business: Business) -> None:
    from wabalink.meta.client import GraphApiError

    client = server.client()
    try:
        wamid = client.send_message(business.phone_id, "v24.0",
                                    {"messaging_product": "whatsapp", "to": user(), "text": {"body": "hi"}})
        assert wamid.startswith("wamid.")
        with pytest.raises(GraphApiError) as refused:
            client.send_message(business.phone_id, "v24.0", b'{"messaging_product":"whatsapp","to":"1"}')
        assert refused.value.code == 131009
        with pytest.raises(GraphApiError) as unknown_version:
            client.send_message(business.phone_id, "v99.0", {"messaging_product": "whatsapp", "to": user(),
                                                             "text": {"body": "hi"}})
        assert unknown_version.value.code == 2500
        inbound_wamid = inbound_ok(server, business, {"from": user(), "text": "Hi"})
        assert client.send_message(business.phone_id, "v20.0", {"messaging_product": "whatsapp",
                                                                "status": "read", "message_id": inbound_wamid}) == ""
    finally:
        client.close()
