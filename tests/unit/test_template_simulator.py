"""The simulator's template side on SQLite and PostgreSQL: what a template send must pass
(`check_template_send`: 132001, 132000, 132015, 132016), the review webhooks, durable delayed
approval, and the resumable upload API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.meta import Server, create_waba, running_simulator, store_of_kind
from wabalink.meta.client import GraphApiError
from wabalink.meta.templates import TemplateSendError, check_template_send

SHIPPED = {"name": "shipped", "language": "en_US", "category": "UTILITY", "components": [
    {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["#1"]}},
    {"type": "BODY", "text": "Hi {{1}}, order {{2}} shipped.", "example": {"body_text": [["Jim", "#1"]]}},
    {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://e.com/{{1}}",
                                     "example": ["https://e.com/1"]}]}]}


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


GOOD_SEND = {"name": "shipped", "language": {"code": "en_US"}, "components": [
    {"type": "header", "parameters": [text("#9")]},
    {"type": "body", "parameters": [text("Ann"), text("#9")]},
    {"type": "button", "sub_type": "url", "index": "0", "parameters": [text("9")]}]}


@pytest.fixture(params=["sqlite", "postgresql"])
def simulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with store_of_kind(request.param, tmp_path) as (store, db_path):
        with running_simulator(store, db_path) as server:
            yield server


def send_code(server: Server, waba_id: str, template: dict[str, Any]) -> int | None:
    try:
        check_template_send(server.simulator, waba_id, template)
    except TemplateSendError as error:
        body = error.body()["error"]
        assert body["message"].startswith(f"(#{error.code})") and body["error_data"]["details"]
        return error.code
    return None


def test_template_send_checks(simulator: Server) -> None:
    waba_id = create_waba(simulator)["wabaId"]
    graph = simulator.client()
    created = graph.create_template(waba_id, SHIPPED)
    assert created.status == "APPROVED"
    assert send_code(simulator, waba_id, GOOD_SEND) is None
    quick_reply_payload = {"type": "button", "sub_type": "quick_reply", "index": "1",
                           "parameters": [{"type": "payload", "payload": "thanks"}]}
    with_payload = {**GOOD_SEND, "components": [*GOOD_SEND["components"], quick_reply_payload]}
    assert send_code(simulator, waba_id, with_payload) is None  # optional: not counted
    extra_body = {**GOOD_SEND, "components": [
        {"type": "body", "parameters": [text("a"), text("b"), text("c")]}, *GOOD_SEND["components"][::2]]}
    assert send_code(simulator, waba_id, extra_body) == 132000
    assert send_code(simulator, waba_id, {**GOOD_SEND, "name": "missing"}) == 132001
    assert send_code(simulator, waba_id, {**GOOD_SEND, "language": {"code": "es"}}) == 132001
    assert send_code(simulator, waba_id, {"name": "shipped"}) == 132001
    fewer = {**GOOD_SEND, "components": GOOD_SEND["components"][:1] + GOOD_SEND["components"][2:]}
    assert send_code(simulator, waba_id, fewer) == 132000
    no_button = {**GOOD_SEND, "components": GOOD_SEND["components"][:2]}
    assert send_code(simulator, waba_id, no_button) == 132000
    other_waba = create_waba(simulator, "Other")["wabaId"]
    assert send_code(simulator, other_waba, GOOD_SEND) == 132001

    for decision, code in (("PAUSED", 132015), ("DISABLED", 132016), ("REJECTED", 132001)):
        status, answer = simulator.sandbox("POST", f"/templates/{created.id}/review", {"decision": decision})
        assert status == 200 and answer["status"] == decision
        assert send_code(simulator, waba_id, GOOD_SEND) == code
    status, _ = simulator.sandbox("POST", f"/templates/{created.id}/review", {"decision": "REJECTED"})
    assert status == 409
    status, _ = simulator.sandbox("POST", f"/templates/{created.id}/review", {"decision": "MAYBE"})
    assert status == 400


def test_delayed_approval_survives_a_restart(tmp_path: Path) -> None:
    with store_of_kind("sqlite", tmp_path) as (store, db_path):
        with running_simulator(store, db_path, template_approval_delay_seconds=0.8) as server:
            waba_id = create_waba(server)["wabaId"]
            created = server.client().create_template(waba_id, SHIPPED)
            assert created.status == "PENDING"
            assert send_code(server, waba_id, GOOD_SEND) == 132001
        time.sleep(1.0)  # the first simulator is gone: its timer did or did not fire
        with running_simulator(store, db_path, template_approval_delay_seconds=0.8) as server:
            assert send_code(server, waba_id, GOOD_SEND) is None
            assert server.client().get_template(created.id).status == "APPROVED"


def test_resumable_upload(simulator: Server) -> None:
    graph = simulator.client()
    handle = graph.upload_template_media("logo.png", "image/png", b"\x89PNG" + b"\0" * 60)
    assert handle.startswith("4::aW1hZ2UvcG5n:")
    waba_id = create_waba(simulator)["wabaId"]
    with_image = {**SHIPPED, "name": "with_logo", "components": [
        {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [handle]}},
        {"type": "BODY", "text": "Hello"}]}
    assert graph.create_template(waba_id, with_image).status == "APPROVED"
    status, answer = simulator.call("POST", f"/meta/graph/v21.0/{simulator.simulator.app.app_id}/uploads"
                                    "?file_name=a.gif&file_length=3&file_type=image/gif",
                                    headers={"Authorization": f"Bearer {simulator.app_token}"})
    assert status == 400 and "file_type" in answer["error"]["message"]
    with pytest.raises(GraphApiError) as caught:
        graph.create_template(waba_id, {**with_image, "name": "bad_handle", "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::forged"]}},
            {"type": "BODY", "text": "Hello"}]})
    assert caught.value.code == 100 and "header_handle" in caught.value.message
    listed = simulator.call("GET", f"/meta/graph/v21.0/{waba_id}/message_templates?name=with_logo",
                            headers={"Authorization": f"Bearer {simulator.app_token}"})[1]
    assert [t["name"] for t in listed["data"]] == ["with_logo"]
    assert json.dumps(listed["data"][0]["components"]).count(handle) == 1


def test_template_webhook_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every review reaches `enqueue_webhook` in its transaction."""
    import wabalink.meta.webhooks as webhooks

    sent: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(webhooks, "enqueue_webhook",
                        lambda sim, cursor, waba, field, value: sent.append((waba, field, value)))
    with store_of_kind("sqlite", tmp_path) as (store, db_path):
        with running_simulator(store, db_path) as server:
            waba_id = create_waba(server)["wabaId"]
            created = server.client().create_template(waba_id, SHIPPED)
            server.sandbox("POST", f"/templates/{created.id}/review", {"decision": "PAUSED", "category": "MARKETING"})
    assert [(waba, field, value.get("event")) for waba, field, value in sent] == [
        (waba_id, "message_template_status_update", "APPROVED"),
        (waba_id, "message_template_status_update", "PAUSED"),
        (waba_id, "template_category_update", None)]
