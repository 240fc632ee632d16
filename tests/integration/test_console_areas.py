"""Console pages over areas built on their own branches (the event log, templates, flows): each
test runs when its area is part of the build, and is skipped with the reason otherwise."""

from __future__ import annotations

import importlib.util
import json
import re
import time
from typing import Any

import pytest

from tests.integration.test_console import console_user
from tests.support.console import ConsoleUser, Page
from tests.support.flows import linked_waba
from tests.support.servers import new_account_id
from wabalink.console import integrations


def built(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


needs_event_log = pytest.mark.skipif(
    integrations.event_log() is None or not integrations.inbox_available(),
    reason="needs the event log (wabalink.service.events) and inbound messages (wabalink.meta.inbound)")
needs_templates = pytest.mark.skipif(
    not built("wabalink.service.templates") or not integrations.sandbox_route("POST", integrations.TEMPLATE_REVIEW),
    reason="needs message templates (wabalink.service.templates, wabalink.meta.template_reviews)")
needs_flows = pytest.mark.skipif(not built("wabalink.service.flows"), reason="needs flows (wabalink.service.flows)")


def eventually(user: ConsoleUser, path: str, marker: str, seconds: float = 10.0) -> Page:
    deadline = time.monotonic() + seconds
    while True:
        page = user.get(path)
        if marker in page.text or time.monotonic() > deadline:
            return page
        time.sleep(0.1)


@needs_event_log
def test_the_event_log_shows_filters_and_replays_only_the_accounts_events(server: Any) -> None:
    account = new_account_id()
    _, entry = linked_waba(server, server.client(account), "Events Co")
    phone = entry["unregisteredWhatsAppPhoneNumbers"][0]
    server.sandbox("POST", f"/phone-numbers/{phone['metaPhoneNumberId']}/inbound",
                   {"from": "+15550107777", "text": "Where is my order?"})
    user = console_user(server, account)
    page = eventually(user, f"/console/events?phone={phone['phoneNumberId']}", 'data-testid="event-row"')
    assert "Where is my order?" in page.text and "whatsAppWebhookEntry" in page.text
    assert 'data-testid="event-replay"' in page.text
    event_id = re.search(r'data-event-id="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert 'data-testid="event-row"' not in user.get("/console/events?phone=phone-number-id-" + "0" * 32).text
    replayed = user.post(f"/console/events/{event_id}/replay", {}, csrf=page.csrf())
    assert replayed.status == 200 and event_id in replayed.text

    stranger = console_user(server, new_account_id())
    assert 'data-testid="event-row"' not in stranger.get("/console/events").text
    assert stranger.post(f"/console/events/{event_id}/replay", {},
                         csrf=stranger.get("/console/").csrf()).status == 404


@needs_templates
def test_templates_are_listed_and_reviewed_as_meta_would(server: Any) -> None:
    account = new_account_id()
    client = server.client(account)
    _, entry = linked_waba(server, client, "Templates Co")
    definition = {"name": "order_ready", "language": "en_US", "category": "UTILITY",
                  "components": [{"type": "BODY", "text": "Your order is ready."}]}
    created = client.create_whatsapp_message_template(id=entry["wabaId"],
                                                      templateDefinition=json.dumps(definition).encode())
    user = console_user(server, account)
    page = user.get(f"/console/wabas/{entry['wabaId']}/templates")
    assert page.text.count('data-testid="template-row"') == 2 and "order_ready" in page.text  # and hello_world
    review = f"/console/wabas/{entry['wabaId']}/templates/{created['metaTemplateId']}/review"
    rejected = user.post(review, {"decision": "REJECTED", "reason": "INVALID_FORMAT"}, csrf=page.csrf())
    assert rejected.status == 200 and ">REJECTED<" in rejected.text
    again = user.post(review, {"decision": "REJECTED"}, csrf=page.csrf())
    assert again.status == 400 and "already REJECTED" in again.text
    other = console_user(server, new_account_id())
    assert other.post(review, {"decision": "APPROVED"}, csrf=other.get("/console/").csrf()).status == 404


@needs_flows
def test_flows_are_listed_with_their_preview(server: Any) -> None:
    account = new_account_id()
    client = server.client(account)
    _, entry = linked_waba(server, client, "Flows Co")
    flow_id = client.create_whatsapp_flow(id=entry["wabaId"], flowName="Booking",
                                          categories=["APPOINTMENT_BOOKING"])["flowId"]
    user = console_user(server, account)
    page = user.get(f"/console/wabas/{entry['wabaId']}/flows")
    assert page.text.count('data-testid="flow-row"') == 1 and "Booking" in page.text
    preview = user.get(f"/console/wabas/{entry['wabaId']}/flows/{flow_id}/preview")
    assert preview.status == 200 and preview.testid("flow-preview-url")[0].startswith(server.endpoint)


needs_inbox = pytest.mark.skipif(not integrations.inbox_available(),
                                 reason="needs the simulator's inbound messages (wabalink.meta.inbound)")


@needs_inbox
def test_the_inbox_writes_as_the_customer_and_its_stream_says_when_it_changed(server: Any) -> None:
    import http.client

    account = new_account_id()
    _, entry = linked_waba(server, server.client(account), "Inbox Co")
    phone = entry["unregisteredWhatsAppPhoneNumbers"][0]
    user = console_user(server, account)
    inbox = f"/console/phone-numbers/{phone['phoneNumberId']}/inbox"
    page = user.get(inbox)
    assert 'data-testid="not-available"' not in page.text

    cookie = "; ".join(f"{c.name}={c.value}" for c in user.cookies)
    stream = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    stream.request("GET", f"/console/stream/inbox/{phone['phoneNumberId']}", headers={"cookie": cookie})
    answer = stream.getresponse()
    assert answer.status == 200 and answer.getheader("content-type", "").startswith("text/event-stream")
    assert answer.readline().startswith(b"retry: ")

    refused = user.post(inbox + "/inbound", {"from": "not a number", "kind": "text", "text": "hi"}, csrf=page.csrf())
    assert refused.status == 400 and refused.testid("form-error") and 'value="not a number"' in refused.text
    sent = user.post(inbox + "/inbound", {"from": "+15550106666", "kind": "text", "text": "Is it gluten free?"},
                     csrf=page.csrf())
    assert sent.status == 200 and sent.url.endswith("?with=15550106666")
    assert sent.testid("inbox-conversation") and "Is it gluten free?" in sent.text

    deadline = time.monotonic() + 8
    lines = []
    while time.monotonic() < deadline and b"event: changed\n" not in lines:
        lines.append(answer.readline())
    stream.close()
    assert b"event: changed\n" in lines

    stranger = console_user(server, new_account_id())
    other_cookie = "; ".join(f"{c.name}={c.value}" for c in stranger.cookies)
    other = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    other.request("GET", f"/console/stream/inbox/{phone['phoneNumberId']}", headers={"cookie": other_cookie})
    assert other.getresponse().status == 404
    other.close()
