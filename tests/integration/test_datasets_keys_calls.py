"""Datasets and conversion events, the business public key and calling, through boto3 against a
live server (SQLite; one scenario of each also on PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.flows import linked_waba

SDP_OFFER = {"sdp_type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"}
SDP_ANSWER = {"sdp_type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\n"}


def refused(call: Any, code: str, *fragments: str, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    assert caught.value.response["Error"]["Code"] == code, caught.value.response
    message = caught.value.response["Error"]["Message"]
    for fragment in fragments:
        assert fragment in message, message
    return message


def rsa_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def linked_ids(server: Any, client: Any, name: str) -> dict[str, str]:
    meta_waba, _ = linked_waba(server, client, name)
    account = client.list_linked_whatsapp_business_accounts()["linkedAccounts"][0]
    phone = client.get_linked_whatsapp_business_account(id=account["id"])["account"]["phoneNumbers"][0]
    return {"waba": account["id"], "metaWaba": meta_waba["wabaId"], "phone": phone["phoneNumberId"],
            "phoneArn": phone["arn"], "metaPhone": phone["metaPhoneNumberId"]}


def conversion(meta_waba: str, **changes: Any) -> dict[str, Any]:
    event = {"event_name": "Purchase", "event_time": int(time.time()) - 60, "action_source": "business_messaging",
             "messaging_channel": "whatsapp",
             "user_data": {"whatsapp_business_account_id": meta_waba, "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ",
                           "ph": hashlib.sha256(b"15550101234").hexdigest()},
             "custom_data": {"currency": "USD", "value": 42.5}}
    event.update(changes)
    return event


def call_event(**fields: Any) -> bytes:
    return json.dumps({"messaging_product": "whatsapp", **fields}).encode()


# --- datasets -------------------------------------------------------------------------------------

def test_dataset_and_conversion_events(server: Any) -> None:
    client = server.client()
    ids = linked_ids(server, client, "Shop")
    dataset = client.create_whatsapp_dataset(id=ids["waba"])["datasetId"]
    assert dataset.isdigit() and 10 <= len(dataset) <= 20
    assert client.create_whatsapp_dataset(id=ids["waba"])["datasetId"] == dataset  # one per WABA
    payload = {"data": [conversion(ids["metaWaba"]), conversion(ids["metaWaba"], event_name="LeadSubmitted",
                                                                custom_data=None)]}
    request_id = client.send_whatsapp_conversion_event(id=ids["waba"], datasetId=dataset,
                                                       eventData=json.dumps(payload).encode())["requestId"]
    received = server.sandbox("GET", f"/datasets/{dataset}/events")
    assert [e["eventName"] for e in received["events"]] == ["LeadSubmitted", "Purchase"]
    assert {e["requestId"] for e in received["events"]} == {request_id}
    assert received["wabaId"] == ids["metaWaba"]

    for event, fragment in ((conversion(ids["metaWaba"], event_name="Bought"), "event_name"),
                            (conversion(ids["metaWaba"], event_time=int(time.time()) - 30 * 86400), "7 days"),
                            (conversion(ids["metaWaba"], event_time=int(time.time()) + 3600), "future"),
                            (conversion(ids["metaWaba"], action_source="website"), "action_source"),
                            (conversion(ids["metaWaba"], user_data={"whatsapp_business_account_id": ids["metaWaba"],
                                                                    "ctwa_clid": "x", "em": "a@b.c"}), "hashed"),
                            (conversion(ids["metaWaba"], custom_data={"currency": "USD"}), "value")):
        refused(client.send_whatsapp_conversion_event, "InvalidParametersException", "eventData", fragment,
                id=ids["waba"], datasetId=dataset, eventData=json.dumps(event).encode())
    refused(client.send_whatsapp_conversion_event, "InvalidParametersException", "eventData", "JSON",
            id=ids["waba"], datasetId=dataset, eventData=b"not json")
    refused(client.send_whatsapp_conversion_event, "ResourceNotFoundException", "datasetId",
            id=ids["waba"], datasetId="1234567890123", eventData=json.dumps(conversion(ids["metaWaba"])).encode())
    refused(client.create_whatsapp_dataset, "ResourceNotFoundException", "id", id="waba-" + "1" * 32)
    # Another account cannot use this WABA or its dataset.
    other = server.client()
    refused(other.send_whatsapp_conversion_event, "ResourceNotFoundException", "id", id=ids["waba"],
            datasetId=dataset, eventData=json.dumps(conversion(ids["metaWaba"])).encode())


# --- business public key -------------------------------------------------------------------------

def test_business_public_key(server: Any) -> None:
    client = server.client()
    ids = linked_ids(server, client, "Keys")
    assert "businessPublicKey" not in client.get_whatsapp_business_public_key(originationPhoneNumberId=ids["phone"])
    pem = rsa_pem()
    client.put_whatsapp_business_public_key(originationPhoneNumberId=ids["phone"], businessPublicKey=pem)
    got = client.get_whatsapp_business_public_key(originationPhoneNumberId=ids["phoneArn"])
    assert got == {**got, "businessPublicKey": pem, "businessPublicKeySignatureStatus": "VALID"}

    refused(client.put_whatsapp_business_public_key, "InvalidParametersException", "businessPublicKey", "2048",
            originationPhoneNumberId=ids["phone"], businessPublicKey=rsa_pem(1024))
    ec_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    refused(client.put_whatsapp_business_public_key, "InvalidParametersException", "businessPublicKey", "not an RSA",
            originationPhoneNumberId=ids["phone"], businessPublicKey=ec_pem)
    for junk in ("hello", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"):
        refused(client.put_whatsapp_business_public_key, "InvalidParametersException", "businessPublicKey", "PEM",
                originationPhoneNumberId=ids["phone"], businessPublicKey=junk)
    refused(client.put_whatsapp_business_public_key, "InvalidParametersException", "exactly one",
            originationPhoneNumberId=ids["phone"])
    refused(client.put_whatsapp_business_public_key, "InvalidParametersException", "exactly one",
            originationPhoneNumberId=ids["phone"], businessPublicKey=pem,
            kmsKeyArn="arn:aws:kms:us-east-1:111122223333:key/abc")
    refused(client.put_whatsapp_business_public_key, "InvalidParametersException", "kmsKeyArn", "own account",
            originationPhoneNumberId=ids["phone"], kmsKeyArn="arn:aws:kms:us-east-1:111122223333:key/abc")
    refused(client.get_whatsapp_business_public_key, "ResourceNotFoundException", "originationPhoneNumberId",
            originationPhoneNumberId="phone-number-id-" + "3" * 32)
    refused(server.client().put_whatsapp_business_public_key, "ResourceNotFoundException",
            "originationPhoneNumberId", originationPhoneNumberId=ids["phone"], businessPublicKey=pem)
    # The key is changed at Meta by other means: the service reports MISMATCH until it puts one again.
    server.sandbox("PUT", f"/phone-numbers/{ids['metaPhone']}/business-public-key", {"businessPublicKey": rsa_pem()})
    assert client.get_whatsapp_business_public_key(originationPhoneNumberId=ids["phone"])[
        "businessPublicKeySignatureStatus"] == "MISMATCH"
    client.put_whatsapp_business_public_key(originationPhoneNumberId=ids["phone"], businessPublicKey=pem)
    assert client.get_whatsapp_business_public_key(originationPhoneNumberId=ids["phone"])[
        "businessPublicKeySignatureStatus"] == "VALID"


class _FakeKms(BaseHTTPRequestHandler):
    """KMS GetPublicKey (JSON 1.1) for one RSA key."""
    der = b""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.headers.get("x-amz-target") != "TrentService.GetPublicKey" or "missing" in body["KeyId"]:
            answer, status = {"__type": "NotFoundException", "message": "no such key"}, 400
        else:
            answer, status = {"KeyId": body["KeyId"], "PublicKey": base64.b64encode(self.der).decode(),
                              "KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}, 200
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/x-amz-json-1.1")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_kms() -> Iterator[tuple[str, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    _FakeKms.der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _FakeKms)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", pem
    httpd.shutdown()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_kms_key_and_calls_on_each_store(start_server: Any, fake_kms: tuple[str, str], database: str) -> None:
    endpoint, pem = fake_kms
    server = start_server(database, env={"AWS_ENDPOINT_URL_KMS": endpoint, "AWS_ACCESS_KEY_ID": "kms",
                                         "AWS_SECRET_ACCESS_KEY": "kms"})
    account = "123456789012"
    client = server.client(account)
    ids = linked_ids(server, client, "Kms")
    arn = f"arn:aws:kms:us-east-1:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    client.put_whatsapp_business_public_key(originationPhoneNumberId=ids["phone"], kmsKeyArn=arn)
    got = client.get_whatsapp_business_public_key(originationPhoneNumberId=ids["phone"])
    assert (got["businessPublicKey"], got["businessPublicKeySignatureStatus"]) == (pem, "VALID")
    refused(client.put_whatsapp_business_public_key, "InvalidParametersException", "kmsKeyArn", "NotFoundException",
            originationPhoneNumberId=ids["phone"], kmsKeyArn=arn.replace("1234abcd", "missing"))
    exercise_calls(server, client, ids)


# --- calling --------------------------------------------------------------------------------------

def exercise_calls(server: Any, client: Any, ids: dict[str, str]) -> None:
    phone, user = ids["phone"], "+15550109999"

    def permission(**target: str) -> dict[str, Any]:
        return client.get_whatsapp_call_permission(originationPhoneNumberId=phone, **(target or {
            "destinationPhoneNumber": user}))

    def send(**fields: Any) -> str:
        return client.send_whatsapp_call_event(originationPhoneNumberId=phone, metaApiVersion="v23.0",
                                               callEvent=call_event(**fields))["callId"]

    none = permission()
    assert none["permission"] == {"status": "no_permission"}
    actions = {a["actionName"]: a for a in none["actions"]}
    assert actions["send_call_permission_request"]["canPerformAction"] is True
    assert actions["start_call"]["canPerformAction"] is False
    assert actions["start_call"]["limits"][0]["timePeriod"] == "PT24H"
    refused(client.send_whatsapp_call_event, "AccessDeniedByMetaException", "callEvent", "permission",
            originationPhoneNumberId=phone, metaApiVersion="v21.0",
            callEvent=call_event(to=user.lstrip("+"), action="connect", session=SDP_OFFER))

    granted = server.sandbox("PUT", f"/phone-numbers/{ids['metaPhone']}/call-permissions/{user.lstrip('+')}",
                             {"status": "temporary"})
    assert granted["permission"]["status"] == "temporary"
    temporary = permission()
    assert temporary["permission"]["status"] == "temporary"
    assert temporary["permission"]["expirationTime"].timestamp() > time.time() + 6 * 86400
    call_id = send(to=user.lstrip("+"), action="connect", session=SDP_OFFER, biz_opaque_callback_data="t-1")
    assert call_id.startswith("wacid.")
    refused(client.send_whatsapp_call_event, "ConflictException", "callEvent", "in progress",
            originationPhoneNumberId=phone, metaApiVersion="v21.0",
            callEvent=call_event(to=user.lstrip("+"), action="connect", session=SDP_OFFER))
    refused(client.send_whatsapp_call_event, "ConflictException", "callEvent",
            originationPhoneNumberId=phone, metaApiVersion="v21.0",
            callEvent=call_event(call_id=call_id, action="accept", session=SDP_ANSWER))  # ours, not the user's
    assert server.sandbox("POST", f"/calls/{call_id}/answer")["status"] == "ACCEPTED"
    assert send(call_id=call_id, action="terminate") == call_id
    assert server.sandbox("GET", f"/calls/{call_id}")["status"] == "TERMINATED"
    refused(client.send_whatsapp_call_event, "ConflictException", "callEvent", "TERMINATED",
            originationPhoneNumberId=phone, metaApiVersion="v21.0", callEvent=call_event(call_id=call_id,
                                                                                       action="terminate"))
    used = {a["actionName"]: a for a in permission()["actions"]}["start_call"]
    assert used["limits"][0]["currentUsage"] == 1 and used["canPerformAction"] is True

    # The user calls the business: pre-accept, accept, then the call cannot be rejected.
    inbound = server.sandbox("POST", f"/phone-numbers/{ids['metaPhone']}/calls/15550108888")["callId"]
    send(call_id=inbound, action="pre_accept", session=SDP_ANSWER)
    send(call_id=inbound, action="accept", session=SDP_ANSWER)
    refused(client.send_whatsapp_call_event, "ConflictException", "callEvent", "ACCEPTED",
            originationPhoneNumberId=phone, metaApiVersion="v21.0", callEvent=call_event(call_id=inbound,
                                                                                       action="reject"))
    send(call_id=inbound, action="terminate")
    refused(client.send_whatsapp_call_event, "ConflictException", "callEvent",
            originationPhoneNumberId=phone, metaApiVersion="v21.0",
            callEvent=call_event(call_id=inbound, action="accept", session=SDP_ANSWER))
    # Declined calls, and ones rejected by the business.
    second = server.sandbox("POST", f"/phone-numbers/{ids['metaPhone']}/calls/15550108888")["callId"]
    send(call_id=second, action="reject")
    assert server.sandbox("GET", f"/calls/{second}")["status"] == "REJECTED"

    # Revoked, expired and BSUID permissions.
    server.sandbox("PUT", f"/phone-numbers/{ids['metaPhone']}/call-permissions/{user.lstrip('+')}",
                   {"status": "temporary", "expiresInSeconds": -1})
    assert permission()["permission"]["status"] == "no_permission"
    server.sandbox("PUT", f"/phone-numbers/{ids['metaPhone']}/call-permissions/US.1234567890", {"status": "permanent"})
    permanent = permission(endUserBsuid="US.1234567890")["permission"]
    assert permanent == {"status": "permanent"}


def test_calls(server: Any) -> None:
    client = server.client()
    ids = linked_ids(server, client, "Calls")
    exercise_calls(server, client, ids)
    phone = ids["phone"]
    refused(client.send_whatsapp_call_event, "ResourceNotFoundException", "call_id",
            originationPhoneNumberId=phone, metaApiVersion="v21.0",
            callEvent=call_event(call_id="wacid.unknown", action="terminate"))
    refused(client.send_whatsapp_call_event, "InvalidParametersException", "callEvent",
            originationPhoneNumberId=phone, metaApiVersion="v21.0", callEvent=b"[1, 2]")
    refused(client.send_whatsapp_call_event, "InvalidParametersException", "call_id",
            originationPhoneNumberId=phone, metaApiVersion="v21.0", callEvent=call_event(action="terminate"))
    refused(client.send_whatsapp_call_event, "InvalidParametersException", "callEvent", "session",
            originationPhoneNumberId=phone, metaApiVersion="v21.0",
            callEvent=call_event(to="15550107777", action="connect"))
    refused(client.send_whatsapp_call_event, "InvalidParametersException", "metaApiVersion",
            originationPhoneNumberId=phone, metaApiVersion="latest", callEvent=call_event(action="terminate"))
    refused(client.send_whatsapp_call_event, "InvalidParametersException", "metaApiVersion", "version",
            originationPhoneNumberId=phone, metaApiVersion="v99.0", callEvent=call_event(action="terminate",
                                                                                       call_id="wacid.x"))
    refused(client.get_whatsapp_call_permission, "InvalidParametersException", "exactly one",
            originationPhoneNumberId=phone)
    refused(client.get_whatsapp_call_permission, "InvalidParametersException", "endUserBsuid",
            originationPhoneNumberId=phone, endUserBsuid="not a bsuid")
    refused(client.get_whatsapp_call_permission, "ResourceNotFoundException", "originationPhoneNumberId",
            originationPhoneNumberId="phone-number-id-" + "2" * 32, destinationPhoneNumber="+15550101111")
    refused(server.client().send_whatsapp_call_event, "ResourceNotFoundException", "originationPhoneNumberId",
            originationPhoneNumberId=phone, metaApiVersion="v21.0", callEvent=call_event(action="terminate",
                                                                                       call_id="x"))


def test_sandbox_commands(server: Any, tmp_path: Any, capsys: Any) -> None:
    from wabalink.cli.meta import main as meta

    client = server.client()
    ids = linked_ids(server, client, "Cli")
    phone, endpoint = ids["metaPhone"], ["--endpoint", server.endpoint]

    def run(*args: str) -> Any:
        assert meta([*args, *endpoint]) == 0
        return json.loads(capsys.readouterr().out)

    granted = run("set-call-permission", "--phone-number-id", phone, "--user", "15550106666", "--status", "permanent")
    assert granted["permission"] == {"status": "permanent"}
    call_id = run("start-inbound-call", "--phone-number-id", phone, "--user", "15550106666")["callId"]
    assert run("show-call", "--call-id", call_id)["status"] == "RINGING"
    assert meta(["user-call-action", "--call-id", call_id, "--action", "answer", *endpoint]) == 254  # user-initiated
    assert "cannot answer" in capsys.readouterr().err
    assert run("user-call-action", "--call-id", call_id, "--action", "hangup")["status"] == "TERMINATED"

    key_file = tmp_path / "key.pem"
    key_file.write_text(rsa_pem())
    shown = run("set-business-public-key", "--phone-number-id", phone, "--pem-file", str(key_file))
    assert shown["signatureStatus"] == "VALID"
    assert run("show-business-public-key", "--phone-number-id", phone)["businessPublicKey"] == key_file.read_text()

    flow_id = client.create_whatsapp_flow(id=ids["waba"], flowName="cli", categories=["OTHER"],
                                          flowJson=json.dumps({"version": "7.1", "screens": [{
                                              "id": "ONLY", "terminal": True, "layout": {
                                                  "type": "SingleColumnLayout", "children": []}}]}).encode(),
                                          publish=True)["flowId"]
    assert run("show-flow", "--flow-id", flow_id)["status"] == "PUBLISHED"
    assert run("set-flow-health", "--flow-id", flow_id, "--status", "BLOCKED")["status"] == "BLOCKED"
    blocked = client.get_whatsapp_flow(id=ids["waba"], flowId=flow_id)
    assert blocked["flowStatus"] == "BLOCKED" and blocked["healthStatus"]["canSendMessage"] == "BLOCKED"
    dataset = client.create_whatsapp_dataset(id=ids["waba"])["datasetId"]
    assert run("show-conversion-events", "--dataset-id", dataset)["events"] == []


def test_registering_the_number_again_invalidates_the_key_signature(server: Any) -> None:
    """Meta signs a key for the number's registration: after a new registration the key is MISMATCH
    until it is put again."""
    import sqlite3
    import urllib.request

    client = server.client()
    ids = linked_ids(server, client, "Reregister")
    pem = rsa_pem()
    client.put_whatsapp_business_public_key(originationPhoneNumberId=ids["phone"], businessPublicKey=pem)
    with sqlite3.connect(server.database_url.removeprefix("sqlite:///")) as db:
        app_id, app_secret = db.execute("SELECT app_id, app_secret FROM meta_simulator_app").fetchone()

    def graph(path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(f"{server.endpoint}/meta/graph/v21.0/{ids['metaPhone']}/{path}",
                                         data=json.dumps(body).encode(), method="POST", headers={
                                             "Authorization": f"Bearer {app_id}|{app_secret}",
                                             "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read()) == {"success": True}

    graph("deregister", {})
    graph("register", {"messaging_product": "whatsapp", "pin": "654321"})
    got = client.get_whatsapp_business_public_key(originationPhoneNumberId=ids["phone"])
    assert (got["businessPublicKey"], got["businessPublicKeySignatureStatus"]) == (pem, "MISMATCH")
    client.put_whatsapp_business_public_key(originationPhoneNumberId=ids["phone"], businessPublicKey=pem)
    assert client.get_whatsapp_business_public_key(originationPhoneNumberId=ids["phone"])[
        "businessPublicKeySignatureStatus"] == "VALID"


def test_call_and_flow_changes_become_events(server: Any) -> None:
    """The hand-over of a call event is an AWS-generated event; Meta's `calls` and `flows` webhooks
    reach the service's receiver and become events of the linked WABA too."""
    import urllib.request

    account = new_account()
    client = server.client(account)
    ids = linked_ids(server, client, "Events")
    server.sandbox("PUT", f"/phone-numbers/{ids['metaPhone']}/call-permissions/15550103333", {"status": "permanent"})
    call_id = client.send_whatsapp_call_event(
        originationPhoneNumberId=ids["phone"], metaApiVersion="v21.0",
        callEvent=call_event(to="15550103333", action="connect", session=SDP_OFFER,
                             biz_opaque_callback_data="ticket-9"))["callId"]
    flow_id = client.create_whatsapp_flow(id=ids["waba"], flowName="evented", categories=["OTHER"],
                                          flowJson=json.dumps({"version": "7.1", "screens": [{
                                              "id": "ONLY", "terminal": True, "layout": {
                                                  "type": "SingleColumnLayout", "children": []}}]}).encode())["flowId"]
    client.publish_whatsapp_flow(id=ids["waba"], flowId=flow_id)

    def fields() -> dict[str, list[Any]]:
        with urllib.request.urlopen(f"{server.endpoint}/_wabalink/events?accountId={account}", timeout=30) as answer:
            events = json.loads(answer.read())["events"]
        found: dict[str, list[Any]] = {}
        for event in events:
            for entry in event["envelope"]["whatsAppWebhookEntry"] if isinstance(
                    event["envelope"].get("whatsAppWebhookEntry"), list) else [event["envelope"]["whatsAppWebhookEntry"]]:
                entry = json.loads(entry) if isinstance(entry, str) else entry
                for change in entry["changes"]:
                    found.setdefault(change["field"], []).append(change["value"])
        return found

    deadline = time.monotonic() + 15
    while not {"aws_call_handover", "calls", "flows"} <= set(found := fields()) and time.monotonic() < deadline:
        time.sleep(0.2)
    handover = found["aws_call_handover"][0]["handover"]
    assert (handover["callId"], handover["status"], handover["biz_opaque_callback_data"]) == (
        call_id, "succeeded", "ticket-9")
    assert found["calls"][0]["calls"][0]["id"] == call_id
    assert found["flows"][0]["flow_id"] == flow_id and found["flows"][0]["new_status"] == "PUBLISHED"


def new_account() -> str:
    from tests.support.servers import new_account_id

    return new_account_id()
