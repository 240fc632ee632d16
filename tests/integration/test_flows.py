"""WhatsApp Flows through boto3 against a live server: the life cycle with every refused
transition, Flow JSON validation errors, clone, pagination, previews that expire and asset
downloads; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.flows import linked_waba

GOOD_FLOW = {
    "version": "7.1",
    "screens": [
        {"id": "WELCOME", "title": "Welcome", "layout": {"type": "SingleColumnLayout", "children": [
            {"type": "TextHeading", "text": "Book a visit"},
            {"type": "Footer", "label": "Next", "on-click-action": {"name": "navigate", "next": {
                "type": "screen", "name": "DONE"}, "payload": {}}}]}},
        {"id": "DONE", "title": "Thanks", "terminal": True, "layout": {"type": "SingleColumnLayout", "children": [
            {"type": "TextBody", "text": "<script>alert(1)</script> See you soon"},
            {"type": "Footer", "label": "Finish", "on-click-action": {"name": "complete", "payload": {}}}]}},
    ],
}


def flow_json(document: dict[str, Any] = GOOD_FLOW) -> bytes:
    return json.dumps(document, indent=2).encode()


def error_code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def refused(call: Any, code: str, *fragments: str, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    assert error_code(caught.value) == code, caught.value.response
    message = caught.value.response["Error"]["Message"]
    for fragment in fragments:
        assert fragment in message, message
    return message


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read(), response.headers.get("content-type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("content-type", "")


@pytest.fixture
def linked(server: Any) -> tuple[Any, str, dict[str, Any]]:
    client = server.client()
    meta_waba, _ = linked_waba(server, client, "Flows Co")
    waba_id = client.list_linked_whatsapp_business_accounts()["linkedAccounts"][0]["id"]
    return client, waba_id, meta_waba


def test_life_cycle_with_every_refused_transition(server: Any, linked: Any) -> None:
    client, waba_id, meta_waba = linked
    created = client.create_whatsapp_flow(id=waba_id, flowName="booking", categories=["APPOINTMENT_BOOKING"],
                                          flowJson=flow_json())
    flow_id = created["flowId"]
    assert created["validationErrors"] == []
    flow = client.get_whatsapp_flow(id=waba_id, flowId=flow_id)
    assert (flow["flowStatus"], flow["flowName"], flow["categories"]) == ("DRAFT", "booking", ["APPOINTMENT_BOOKING"])
    assert flow["jsonVersion"] == "7.1"
    assert flow["whatsAppBusinessAccount"]["id"] == meta_waba["wabaId"]
    assert flow["healthStatus"]["canSendMessage"] == "AVAILABLE"
    assert flow["application"]["id"]

    # DRAFT: deprecating is refused; publishing works.
    refused(client.deprecate_whatsapp_flow, "InvalidParametersException", "flowId", "not PUBLISHED",
            id=waba_id, flowId=flow_id)
    client.publish_whatsapp_flow(id=waba_id, flowId=flow_id)
    assert client.get_whatsapp_flow(id=waba_id, flowId=flow_id)["flowStatus"] == "PUBLISHED"
    # PUBLISHED: publishing again and deleting are refused.
    refused(client.publish_whatsapp_flow, "InvalidParametersException", "flowId", "PUBLISHED",
            id=waba_id, flowId=flow_id)
    refused(client.delete_whatsapp_flow, "InvalidParametersException", "flowId", "only DRAFT",
            id=waba_id, flowId=flow_id)
    # New assets for a published flow make it a draft again, to be published again.
    assert client.update_whatsapp_flow_assets(id=waba_id, flowId=flow_id, flowJson=flow_json())[
        "validationErrors"] == []
    assert client.get_whatsapp_flow(id=waba_id, flowId=flow_id)["flowStatus"] == "DRAFT"
    client.publish_whatsapp_flow(id=waba_id, flowId=flow_id)
    client.update_whatsapp_flow(id=waba_id, flowId=flow_id, flowName="booking v2", categories=["SURVEY", "OTHER"])
    renamed = client.get_whatsapp_flow(id=waba_id, flowId=flow_id)
    assert (renamed["flowName"], renamed["categories"], renamed["flowStatus"]) == (
        "booking v2", ["SURVEY", "OTHER"], "PUBLISHED")
    client.deprecate_whatsapp_flow(id=waba_id, flowId=flow_id)
    assert client.get_whatsapp_flow(id=waba_id, flowId=flow_id)["flowStatus"] == "DEPRECATED"
    # DEPRECATED: nothing more, not even deletion.
    for call, params in ((client.publish_whatsapp_flow, {}), (client.deprecate_whatsapp_flow, {}),
                         (client.delete_whatsapp_flow, {}), (client.update_whatsapp_flow, {"flowName": "x"}),
                         (client.update_whatsapp_flow_assets, {"flowJson": flow_json()})):
        refused(call, "InvalidParametersException", "flowId", "DEPRECATED",
                id=waba_id, flowId=flow_id, **params)

    # A draft can be deleted, and is gone.
    draft = client.create_whatsapp_flow(id=waba_id, flowName="scratch", categories=["OTHER"])["flowId"]
    client.delete_whatsapp_flow(id=waba_id, flowId=draft)
    refused(client.get_whatsapp_flow, "ResourceNotFoundException", "flowId", id=waba_id, flowId=draft)


def test_publish_needs_valid_flow_json(server: Any, linked: Any) -> None:
    client, waba_id, _ = linked
    empty = client.create_whatsapp_flow(id=waba_id, flowName="empty", categories=["OTHER"], publish=True)
    assert client.get_whatsapp_flow(id=waba_id, flowId=empty["flowId"])["flowStatus"] == "DRAFT"
    refused(client.publish_whatsapp_flow, "InvalidParametersException", "flowId", "validation errors",
            id=waba_id, flowId=empty["flowId"])

    broken = json.loads(json.dumps(GOOD_FLOW))
    broken["version"] = "1.0"
    broken["screens"][0]["layout"]["children"][0]["type"] = "Marquee"
    broken["screens"][1]["id"] = "WELCOME"
    broken["screens"][1]["terminal"] = False
    created = client.create_whatsapp_flow(id=waba_id, flowName="broken", categories=["SURVEY"],
                                          flowJson=flow_json(broken), publish=True)
    errors = [json.loads(e) for e in created["validationErrors"]]
    assert {e["error"] for e in errors} == {"INVALID_PROPERTY_VALUE", "DUPLICATE_SCREEN_ID", "MISSING_TERMINAL_SCREEN"}
    component = next(e for e in errors if e["pointers"] and
                     e["pointers"][0]["path"] == "screens[0].layout.children[0].type")
    assert component["message"] == "Invalid value found for property 'type'."
    assert component["line_start"] == component["line_end"] and component["column_start"] < component["column_end"]
    text = flow_json(broken).decode().splitlines()[component["line_start"] - 1]
    assert "Marquee" in text[component["column_start"] - 1:component["column_end"]]
    flow = client.get_whatsapp_flow(id=waba_id, flowId=created["flowId"])
    assert flow["flowStatus"] == "DRAFT" and len(flow["validationErrors"]) == len(errors)
    refused(client.publish_whatsapp_flow, "InvalidParametersException", "validation errors",
            id=waba_id, flowId=created["flowId"])

    syntax = client.update_whatsapp_flow_assets(id=waba_id, flowId=created["flowId"], flowJson=b'{"version": "7.1",')
    assert [json.loads(e)["error"] for e in syntax["validationErrors"]] == ["INVALID_JSON"]
    # A data exchange flow needs an endpoint; setting it clears that error.
    data_flow = {**GOOD_FLOW, "data_api_version": "3.0", "routing_model": {"WELCOME": ["DONE"], "DONE": []}}
    needs = client.update_whatsapp_flow_assets(id=waba_id, flowId=created["flowId"], flowJson=flow_json(data_flow))
    assert [json.loads(e)["error"] for e in needs["validationErrors"]] == ["MISSING_FLOW_ENDPOINT"]
    refused(client.update_whatsapp_flow, "InvalidParametersException", "endpointUri", id=waba_id,
            flowId=created["flowId"], endpointUri="http://plain.example.com/flow")
    client.update_whatsapp_flow(id=waba_id, flowId=created["flowId"], endpointUri="https://example.com/flow")
    ready = client.get_whatsapp_flow(id=waba_id, flowId=created["flowId"])
    assert ready["validationErrors"] == [] and ready["dataApiVersion"] == "3.0"
    assert ready["endpointUri"] == "https://example.com/flow"
    client.publish_whatsapp_flow(id=waba_id, flowId=created["flowId"])


def test_create_refusals_and_clone(server: Any, linked: Any) -> None:
    client, waba_id, _ = linked
    source = client.create_whatsapp_flow(id=waba_id, flowName="source", categories=["SIGN_UP"], flowJson=flow_json(),
                                         endpointUri="https://example.com/source")["flowId"]
    refused(client.create_whatsapp_flow, "InvalidParametersException", "flowName", "already exists",
            id=waba_id, flowName="source", categories=["SIGN_UP"])
    clone = client.create_whatsapp_flow(id=waba_id, flowName="copy", categories=["SIGN_IN"], cloneFlowId=source,
                                        publish=True)["flowId"]
    copied = client.get_whatsapp_flow(id=waba_id, flowId=clone)
    assert copied["flowStatus"] == "PUBLISHED" and copied["endpointUri"] == "https://example.com/source"
    refused(client.create_whatsapp_flow, "ResourceNotFoundException", "cloneFlowId",
            id=waba_id, flowName="ghost", categories=["OTHER"], cloneFlowId="123456789")
    refused(client.create_whatsapp_flow, "InvalidParametersException", "flowJson",
            id=waba_id, flowName="bytes", categories=["OTHER"], flowJson=b"\xff\xfe")
    refused(client.create_whatsapp_flow, "ValidationException", "categories",
            id=waba_id, flowName="bad", categories=["GAMES"])
    refused(client.update_whatsapp_flow, "InvalidParametersException", "at least one",
            id=waba_id, flowId=source)
    refused(client.update_whatsapp_flow, "InvalidParametersException", "metaAppId",
            id=waba_id, flowId=source, metaAppId="999")

    # Another account's WABA, and another WABA's flows, are not found.
    other = server.client()
    _, _ = linked_waba(server, other, "Other Co")
    other_waba = other.list_linked_whatsapp_business_accounts()["linkedAccounts"][0]["id"]
    refused(other.get_whatsapp_flow, "ResourceNotFoundException", "flowId", id=other_waba, flowId=source)
    refused(other.create_whatsapp_flow, "InvalidParametersException", "cloneFlowId", id=other_waba,
            flowName="steal", categories=["OTHER"], cloneFlowId=source)
    refused(other.get_whatsapp_flow, "ResourceNotFoundException", "id", id=waba_id, flowId=source)
    refused(client.list_whatsapp_flows, "ResourceNotFoundException", "id", id="waba-" + "0" * 32)


def test_list_paginates_with_bound_tokens(server: Any, linked: Any) -> None:
    client, waba_id, _ = linked
    names = {f"flow-{n}" for n in range(5)}
    for name in names:
        client.create_whatsapp_flow(id=waba_id, flowName=name, categories=["OTHER"])
    seen, token, pages = [], None, 0
    while True:
        page = client.list_whatsapp_flows(id=waba_id, maxResults=2, **({"nextToken": token} if token else {}))
        pages += 1
        seen += [f["flowName"] for f in page["flows"]]
        assert all(f["flowStatus"] == "DRAFT" and f["flowCategories"] == ["OTHER"] for f in page["flows"])
        token = page.get("nextToken")
        if token is None:
            break
    assert sorted(seen) == sorted(names) and pages == 3
    first = client.list_whatsapp_flows(id=waba_id, maxResults=2)
    paginator = client.get_paginator("list_whatsapp_flows")
    assert sum(len(p["flows"]) for p in paginator.paginate(id=waba_id, PaginationConfig={"PageSize": 2})) == 5
    other = server.client()
    _, _ = linked_waba(server, other, "Other")
    other_waba = other.list_linked_whatsapp_business_accounts()["linkedAccounts"][0]["id"]
    refused(other.list_whatsapp_flows, "InvalidParametersException", "nextToken", id=other_waba,
            nextToken=first["nextToken"])


def test_preview_and_assets_are_served(server: Any, linked: Any) -> None:
    client, waba_id, _ = linked
    flow_id = client.create_whatsapp_flow(id=waba_id, flowName="preview me", categories=["SURVEY"],
                                          flowJson=flow_json())["flowId"]
    preview = client.get_whatsapp_flow_preview(id=waba_id, flowId=flow_id)
    assert preview["flowId"] == flow_id
    url = preview["preview"]["previewUrl"]
    assert url.startswith(server.endpoint + "/meta/flows/preview/")
    status, body, content_type = fetch(url)
    page = body.decode()
    assert status == 200 and content_type.startswith("text/html")
    assert "Book a visit" in page and "DONE" in page and "&lt;script&gt;" in page and "<script>" not in page
    # The same link until invalidated; then the old one stops working.
    assert client.get_whatsapp_flow_preview(id=waba_id, flowId=flow_id)["preview"]["previewUrl"] == url
    fresh = client.get_whatsapp_flow_preview(id=waba_id, flowId=flow_id, invalidate=True)["preview"]
    assert fresh["previewUrl"] != url and fetch(url)[0] == 410 and fetch(fresh["previewUrl"])[0] == 200
    assert time.strptime(fresh["expiresAt"], "%Y-%m-%dT%H:%M:%S+0000")

    assets = client.list_whatsapp_flow_assets(id=waba_id, flowId=flow_id)["flowAssets"]
    assert [(a["name"], a["assetType"]) for a in assets] == [("flow.json", "FLOW_JSON")]
    status, body, content_type = fetch(assets[0]["downloadUrl"])
    assert status == 200 and json.loads(body) == GOOD_FLOW and content_type == "application/json"
    assert fetch(assets[0]["downloadUrl"][:-4] + "0000")[0] == 404  # a forged signature
    empty = client.create_whatsapp_flow(id=waba_id, flowName="no json", categories=["OTHER"])["flowId"]
    assert client.list_whatsapp_flow_assets(id=waba_id, flowId=empty, maxResults=1)["flowAssets"] == []


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_preview_expires(start_server: Any, database: str) -> None:
    server = start_server(database, ["--flow-preview-lifetime", "2"])
    client = server.client()
    linked_waba(server, client, "Expiring")
    waba_id = client.list_linked_whatsapp_business_accounts()["linkedAccounts"][0]["id"]
    flow_id = client.create_whatsapp_flow(id=waba_id, flowName="short", categories=["OTHER"],
                                          flowJson=flow_json())["flowId"]
    preview = client.get_whatsapp_flow_preview(id=waba_id, flowId=flow_id)["preview"]
    assert fetch(preview["previewUrl"])[0] == 200
    deadline = time.monotonic() + 10
    while fetch(preview["previewUrl"])[0] == 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    status, body, _ = fetch(preview["previewUrl"])
    assert status == 410 and b"expired" in body
    renewed = client.get_whatsapp_flow_preview(id=waba_id, flowId=flow_id)["preview"]
    assert renewed["previewUrl"] != preview["previewUrl"] and fetch(renewed["previewUrl"])[0] == 200
    # The store keeps the whole life cycle on this database too.
    client.publish_whatsapp_flow(id=waba_id, flowId=flow_id)
    client.deprecate_whatsapp_flow(id=waba_id, flowId=flow_id)
    shown = server.sandbox("GET", f"/flows/{flow_id}")
    assert shown["status"] == "DEPRECATED" and shown["flowJson"] == GOOD_FLOW


class _Recorder(BaseHTTPRequestHandler):
    """Records the webhook bodies the simulator posts (signatures are the messaging area's tests)."""
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        _Recorder.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_status_changes_and_calls_send_meta_webhooks(start_server: Any) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _Recorder.bodies = []
    try:
        server = start_server("sqlite", ["--meta-webhook-url", f"http://127.0.0.1:{httpd.server_address[1]}/hook"])
        client = server.client()
        meta_waba, _ = linked_waba(server, client, "Hooks")
        waba_id = client.list_linked_whatsapp_business_accounts()["linkedAccounts"][0]["id"]
        flow_id = client.create_whatsapp_flow(id=waba_id, flowName="hooked", categories=["OTHER"],
                                              flowJson=flow_json())["flowId"]
        client.publish_whatsapp_flow(id=waba_id, flowId=flow_id)
        client.update_whatsapp_flow_assets(id=waba_id, flowId=flow_id, flowJson=flow_json())
        client.publish_whatsapp_flow(id=waba_id, flowId=flow_id)
        client.deprecate_whatsapp_flow(id=waba_id, flowId=flow_id)
        phone = meta_waba["phoneNumbers"][0]["id"]
        server.sandbox("PUT", f"/phone-numbers/{phone}/call-permissions/15550104444", {"status": "permanent"})
        call_id = server.sandbox("POST", f"/phone-numbers/{phone}/calls/15550104444")["callId"]

        def changes(field: str) -> list[dict[str, Any]]:
            return [change["value"] for body in _Recorder.bodies for entry in body["entry"]
                    for change in entry["changes"] if change["field"] == field and entry["id"] == meta_waba["wabaId"]]

        deadline = time.monotonic() + 15
        while (len(changes("flows")) < 4 or not changes("calls")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [(v["old_status"], v["new_status"]) for v in changes("flows")] == [
            ("DRAFT", "PUBLISHED"), ("PUBLISHED", "DRAFT"), ("DRAFT", "PUBLISHED"), ("PUBLISHED", "DEPRECATED")]
        assert all(v["event"] == "FLOW_STATUS_CHANGE" and v["flow_id"] == flow_id for v in changes("flows"))
        call = changes("calls")[0]["calls"][0]
        assert (call["id"], call["event"], call["status"], call["from"]) == (call_id, "connect", "RINGING",
                                                                            "15550104444")
    finally:
        httpd.shutdown()
