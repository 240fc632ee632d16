"""A minimal SNS-compatible endpoint that counts wabalink's events, for the messaging benchmark.

It answers SNS's query protocol (form-encoded POST, XML answers) for `Action=PublishBatch` and
`Action=Publish`, the only calls wabalink's event delivery makes, with the response shapes of
botocore's sns model (`PublishBatchResponse/PublishBatchResult/Successful/member/{Id,MessageId}`),
so botocore parses them as it parses Amazon SNS's. Each published `Message` is wabalink's AWS
envelope: the sink decodes it and its `whatsAppWebhookEntry`, and records per AWS `messageId` the
event's kind (`handover` or the Meta status: `sent`, `delivered`, `read`, `failed`) with its arrival
time (epoch seconds, this machine's clock).

    python bench/sns_sink.py --port 8123

    POST /_sink/incomplete  [messageId, ...] -> {"incomplete": N}: those still lacking a successful
                         hand-over, sent, delivered or read
    GET  /_sink/events   {"events": {messageId: [[kind, arrival], ...]}, "publishes": N, "other": N}
    POST /_sink/reset    forget everything recorded
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"
# The events every message accepted by Meta gets: the hand-over, then Meta's three statuses.
COMPLETE_KINDS = frozenset(("handover_succeeded", "sent", "delivered", "read"))


class Recorder:
    """Events by AWS messageId, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: dict[str, list[tuple[str, float]]] = {}
        self.publishes = 0  # Publish / PublishBatch calls
        self.other = 0  # entries that are not a message's hand-over or status (inbound, templates...)

    def record(self, message: str, arrival: float) -> None:
        message_id, kind = event_kind(message)
        with self.lock:
            if kind is None:
                self.other += 1
            else:
                self.events.setdefault(message_id, []).append((kind, arrival))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"events": {key: list(value) for key, value in self.events.items()},
                    "publishes": self.publishes, "other": self.other}

    def incomplete(self, message_ids: list[str], kinds: frozenset[str]) -> int:
        """How many of `message_ids` still lack one of `kinds`."""
        with self.lock:
            return sum(1 for message_id in message_ids
                       if not kinds <= {kind for kind, _ in self.events.get(message_id, ())})

    def reset(self) -> None:
        with self.lock:
            self.events.clear()
            self.publishes = self.other = 0


def event_kind(message: str) -> tuple[str, str | None]:
    """(AWS messageId, kind) of one envelope; kind None when it is not about a sent message."""
    envelope = json.loads(message)
    entry = json.loads(envelope["whatsAppWebhookEntry"])
    change = entry["changes"][0]
    value = change.get("value") or {}
    if change.get("field") == "aws_message_handover":
        return envelope["messageId"], "handover_" + str(value.get("handover", {}).get("status"))
    statuses = value.get("statuses") if change.get("field") == "messages" else None
    if statuses:
        return envelope["messageId"], str(statuses[0].get("status"))
    return envelope["messageId"], None


def batch_entries(form: dict[str, str]) -> list[tuple[str, str]]:
    """(Id, Message) of each `PublishBatchRequestEntries.member.N` of a PublishBatch form."""
    entries = []
    number = 1
    while f"PublishBatchRequestEntries.member.{number}.Id" in form:
        prefix = f"PublishBatchRequestEntries.member.{number}."
        entries.append((form[prefix + "Id"], form.get(prefix + "Message", "")))
        number += 1
    return entries


def publish_batch_xml(ids: list[str]) -> str:
    members = "".join(f"<member><Id>{escape(entry_id)}</Id><MessageId>{uuid.uuid4()}</MessageId></member>"
                      for entry_id in ids)
    return (f'<PublishBatchResponse xmlns="{XMLNS}"><PublishBatchResult><Successful>{members}</Successful>'
            f"<Failed/></PublishBatchResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
            f"</ResponseMetadata></PublishBatchResponse>")


def publish_xml() -> str:
    return (f'<PublishResponse xmlns="{XMLNS}"><PublishResult><MessageId>{uuid.uuid4()}</MessageId>'
            f"</PublishResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            f"</PublishResponse>")


def error_xml(code: str, message: str) -> str:
    return (f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")


def make_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

        def log_message(self, *args: Any) -> None:
            return None

        def _answer(self, status: int, body: str, content_type: str = "text/xml") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.startswith("/_sink/events"):
                self._answer(200, json.dumps(recorder.snapshot()), "application/json")
            else:
                self._answer(200, "ok", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length).decode()
            if self.path.startswith("/_sink/reset"):
                recorder.reset()
                self._answer(200, "{}", "application/json")
                return
            if self.path.startswith("/_sink/incomplete"):
                count = recorder.incomplete(json.loads(raw or "[]"), COMPLETE_KINDS)
                self._answer(200, json.dumps({"incomplete": count}), "application/json")
                return
            arrival = time.time()
            form = dict(parse_qsl(raw, keep_blank_values=True))
            action = form.get("Action")
            try:
                if action == "PublishBatch":
                    entries = batch_entries(form)
                    for _, message in entries:
                        recorder.record(message, arrival)
                    body = publish_batch_xml([entry_id for entry_id, _ in entries])
                elif action == "Publish":
                    recorder.record(form.get("Message", ""), arrival)
                    body = publish_xml()
                else:
                    self._answer(400, error_xml("InvalidAction", f"the sink answers Publish and PublishBatch, "
                                                                 f"not {action}"))
                    return
            except (ValueError, KeyError, IndexError, TypeError) as error:
                self._answer(400, error_xml("InvalidParameter", f"not a wabalink event envelope: {error}"))
                return
            with recorder.lock:
                recorder.publishes += 1
            self._answer(200, body)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Recorder()))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
