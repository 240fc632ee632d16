"""The webhook receiver records a whole body with a fixed number of statements: a big body, a
body that repeats a change, odd shapes and text no store can keep, each with the answer Meta needs."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from wabalink.meta.simulator import simulator_app_credentials
from wabalink.server.http import HttpRequest
from wabalink.testing import WabalinkServer, wabalink_server

PATH = "/_wabalink/webhooks/meta"


@pytest.fixture(scope="module")
def server() -> Iterator[WabalinkServer]:
    with wabalink_server() as started:
        yield started


def post(server: WabalinkServer, raw: bytes) -> tuple[int, Any]:
    secret = simulator_app_credentials(server.app.store)[2]
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    request = HttpRequest("POST", PATH, b"", {"x-hub-signature-256": signature}, raw, PATH.encode())
    answer = server.app.webhooks.handle(request)
    return answer.status, json.loads(answer.body)


def status_change(meta_phone_id: str, wamid: str) -> dict[str, Any]:
    return {"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": meta_phone_id},
        "statuses": [{"id": wamid, "status": "sent", "timestamp": str(int(time.time()) - 100), "recipient_id": "1"}]}}


def test_a_body_of_thousands_of_changes_is_recorded_once_and_its_retry_adds_nothing(server: WabalinkServer) -> None:
    linked = server.link()
    changes = [status_change(linked.phone_number.meta_phone_number_id, f"wamid.{uuid.uuid4().hex}") for _ in range(2000)]
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": linked.meta_waba_id, "changes": changes}]})
    assert post(server, body.encode()) == (200, {"success": True, "events": 2000})
    assert post(server, body.encode()) == (200, {"success": True, "events": 0})  # Meta's retry
    repeated = status_change(linked.phone_number.meta_phone_number_id, "wamid.repeated")
    body = json.dumps({"entry": [{"id": linked.meta_waba_id, "changes": [repeated, repeated, repeated]}]})
    assert post(server, body.encode()) == (200, {"success": True, "events": 1})


@pytest.mark.parametrize("value", [
    {"statuses": [123]}, "text", {"metadata": [1, 2], "statuses": [{"id": 5, "status": {"x": 1}}]},
    {"metadata": {"phone_number_id": {"a": 1}}, "statuses": [{"id": "w" * 10_000, "status": "read"}]},
])
def test_odd_shapes_are_kept_as_events_not_refused(server: WabalinkServer, value: Any) -> None:
    linked = server.link()
    body = json.dumps({"entry": [{"id": linked.meta_waba_id, "changes": [{"field": "messages", "value": value}]}]})
    assert post(server, body.encode()) == (200, {"success": True, "events": 1})


@pytest.mark.parametrize("raw", [
    b'{"entry": [{"id": "\\ud800", "changes": [{"field": "messages", "value": {}}]}]}',  # a lone surrogate
    b'{"entry": [{"id": "\xff"}]}',  # not UTF-8
    b"[" * 5000 + b"]" * 5000,  # deeper than any webhook
])
def test_text_no_store_can_keep_is_a_400_not_a_500(server: WabalinkServer, raw: bytes) -> None:
    status, answer = post(server, raw)
    assert status == 400 and "not JSON" in answer["error"]["message"]
