"""Test doubles for messaging: a Graph endpoint that answers `/messages` itself and passes every
other call to the simulator, an SNS endpoint (moto's server) read back through SQS, signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.servers import free_port

TEST_APP_SECRET = "test-app-secret-for-webhooks"
AWS_TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
MESSAGES_PATH = re.compile(r"/(v\d+\.\d+)/([^/]+)/messages$")
# Recipients ending in 999 are refused at once, as Meta refuses a bad parameter (131009).
REFUSED_SUFFIX = "999"


class FakeGraph:
    """Answers POST /{version}/{phone}/messages as Meta's Cloud API does and forwards the rest to
    the simulator (`upstream`, with the simulator's own app token in place of the service's)."""

    def __init__(self) -> None:
        self.upstream = ""
        self.app_token = ""
        self.sent: list[dict[str, Any]] = []  # each accepted message: version, phone, body, wamid
        self.delay_seconds = 0.0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _answer(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                match = MESSAGES_PATH.search(path)
                if self.command == "POST" and match:
                    self._answer(*fake.messages(match[1], match[2], body))
                    return
                headers = {key: value for key, value in self.headers.items()
                           if key.lower() not in ("host", "content-length", "connection")}
                headers["Authorization"] = f"Bearer {fake.app_token}"
                request = urllib.request.Request(fake.upstream + self.path, data=body or None,
                                                 method=self.command, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        self._answer(answer.status, json.loads(answer.read()))
                except urllib.error.HTTPError as error:
                    self._answer(error.code, json.loads(error.read()))

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def messages(self, version: str, phone: str, raw: bytes) -> tuple[int, Any]:
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        major = int(version[1:].split(".")[0])
        if not 17 <= major <= 25:
            return 400, graph_error(2500, "Unknown path components: /messages", "OAuthException")
        body = json.loads(raw)
        if body.get("status") == "read":
            return 200, {"success": True}
        to = str(body.get("to", ""))
        if to.endswith(REFUSED_SUFFIX):
            return 400, graph_error(131009, "(#131009) Parameter value is not valid", "OAuthException")
        wamid = "wamid." + uuid.uuid4().hex
        with self.lock:
            self.sent.append({"version": version, "phone": phone, "body": body, "wamid": wamid})
        digits = to.lstrip("+")
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": digits}],
                     "messages": [{"id": wamid, "message_status": "accepted"}]}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def graph_error(code: int, message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code,
                      "error_data": {"messaging_product": "whatsapp", "details": message}, "fbtrace_id": "Atrace"}}


class MotoServer:
    """moto's server in a child process: SNS, SQS (and STS) on one port."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.log = open(log_path, "ab")  # noqa: SIM115 - moto writes to it until stop() closes it
        self.process = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-p", str(self.port)],
                                        stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **AWS_TEST_ENV})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto_server did not start")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def topic_with_queue(self, name: str) -> tuple[str, str]:
        """An SNS topic subscribed by an SQS queue: (topic ARN, queue URL)."""
        sns, sqs = self.client("sns"), self.client("sqs")
        topic_arn = sns.create_topic(Name=name)["TopicArn"]
        queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        return topic_arn, queue_url

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()


def read_events(moto: MotoServer, queue_url: str, until: Callable[[list[dict[str, Any]]], bool],
                timeout: float = 30.0) -> list[dict[str, Any]]:
    """Envelopes from the queue, parsed as a user's Lambda would (SNS JSON -> Message -> entry),
    until `until(envelopes)` holds or `timeout` passes."""
    sqs = moto.client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(found):
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            notification = json.loads(message["Body"])
            envelope = json.loads(notification["Message"])
            envelope["entry"] = json.loads(envelope["whatsAppWebhookEntry"])
            found.append(envelope)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def signed_post(url: str, body: dict[str, Any], secret: str = TEST_APP_SECRET,
                signature: str | None = None) -> tuple[int, Any]:
    raw = json.dumps(body).encode()
    signature = signature or "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=raw, method="POST", headers={
        "content-type": "application/json", "x-hub-signature-256": signature})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def status_webhook(meta_waba_id: str, meta_phone_id: str, wamid: str, status: str, **extra: Any) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550001111", "phone_number_id": meta_phone_id},
             "statuses": [{"id": wamid, "status": status, "timestamp": str(int(time.time())),
                           "recipient_id": "14255550150", **extra}]}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": meta_waba_id, "changes": [{"field": "messages", "value": value}]}]}


def inbound_webhook(meta_waba_id: str, meta_phone_id: str, text: str) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550001111", "phone_number_id": meta_phone_id},
             "contacts": [{"profile": {"name": "Diego"}, "wa_id": "14255550150"}],
             "messages": [{"from": "14255550150", "id": "wamid." + uuid.uuid4().hex,
                           "timestamp": str(int(time.time())), "text": {"body": text}, "type": "text"}]}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": meta_waba_id, "changes": [{"field": "messages", "value": value}]}]}


def events_api(endpoint: str, path: str = "", method: str = "GET", token: str | None = None,
               **query: Any) -> tuple[int, Any]:
    from urllib.parse import urlencode

    url = endpoint + "/_wabalink/events" + path + ("?" + urlencode(query) if query else "")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, method=method, headers=headers, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for_events(endpoint: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0,
                    **query: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        status, answer = events_api(endpoint, limit=1000, **query)
        assert status == 200, answer
        found = answer["events"]
        if until(found):
            return found
        time.sleep(0.1)
    return found


# Every payload kind AWS's sample applications send (DESIGN-messaging.md, "Accept what real clients send").
def sample_payloads(to: str, wamid: str) -> dict[str, dict[str, Any]]:
    return {
        "read_receipt": {"messaging_product": "whatsapp", "message_id": wamid, "status": "read"},
        "text_without_type": {"messaging_product": "whatsapp", "to": to, "text": {"preview_url": False, "body": "Hi"}},
        "reaction": {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "reaction",
                     "reaction": {"message_id": wamid, "emoji": "\U0001F44B"}},
        "context_reply": {"messaging_product": "whatsapp", "to": to, "context": {"message_id": wamid},
                          "type": "text", "text": {"body": "Thanks"}},
        "buttons": {"messaging_product": "whatsapp", "to": to, "type": "interactive", "interactive": {
            "type": "button", "body": {"text": "Please choose:"}, "action": {"buttons": [
                {"type": "reply", "reply": {"id": "OPTION_PLACE_ORDER", "title": "Place a new order"}},
                {"type": "reply", "reply": {"id": "OPTION_HELP", "title": "Help"}}]}}},
        "list": {"messaging_product": "whatsapp", "to": to, "type": "interactive", "interactive": {
            "type": "list", "body": {"text": "Pick one"}, "action": {"button": "Options", "sections": [
                {"title": "Main", "rows": [{"id": "r1", "title": "First"}, {"id": "r2", "title": "Second"}]}]}}},
        "image_by_link": {"messaging_product": "whatsapp", "to": to, "type": "image",
                          "image": {"link": "https://example.com/cat.jpg", "caption": "cat"}},
        "document_by_link": {"messaging_product": "whatsapp", "to": to, "type": "document",
                             "document": {"link": "https://example.com/a.pdf", "filename": "a.pdf"}},
        "image_by_id": {"messaging_product": "whatsapp", "to": to, "type": "image", "image": {"id": "1234567890"}},
        "template": {"messaging_product": "whatsapp", "to": to, "type": "template", "template": {
            "name": "statement", "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "1000"}]}]}},
        "template_without_components": {"messaging_product": "whatsapp", "to": to, "type": "template",
                                        "template": {"name": "simple_template", "language": {"code": "en_US"}}},
    }


class SwitchableProxy:
    """An HTTP endpoint in front of `upstream` that can be switched down (answers 503 to everything)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.down = False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.down:
                    status, headers, data = 503, {"content-type": "text/plain"}, b"Service Unavailable"
                else:
                    forwarded = {key: value for key, value in self.headers.items()
                                 if key.lower() not in ("host", "content-length", "connection")}
                    request = urllib.request.Request(proxy.upstream + self.path, data=body, method="POST",
                                                     headers=forwarded)
                    try:
                        with urllib.request.urlopen(request, timeout=30) as answer:
                            status, headers, data = answer.status, dict(answer.headers), answer.read()
                    except urllib.error.HTTPError as error:
                        status, headers, data = error.code, dict(error.headers), error.read()
                self.send_response(status)
                self.send_header("content-type", headers.get("Content-Type", headers.get("content-type", "text/xml")))
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
