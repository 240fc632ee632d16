"""The receiver of Meta's webhooks (`POST /_wabalink/webhooks/meta`): signature, then events.

Meta signs the raw body with the app secret (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`); a
missing or wrong signature answers 401 and changes nothing. A signed body becomes, in ONE
transaction, one event per (entry, change) and per COMPLETE linked WABA with that Meta WABA id (a
Meta WABA is linked by at most one account, but the lookup does not assume it), each holding one
Meta entry with only that change. A change already received (Meta retries until it gets a 200) is
recognised by its dedupe key and not recorded twice. Status changes of messages sent through
SendWhatsAppMessage carry that message's AWS messageId; every other event gets a new UUID. Such a
status arriving before its predecessor (read before delivered) is recorded at once (200) but held
until the predecessor is recorded (or STATUS_HOLD_SECONDS pass), and delivery publishes a message's
events by status rank, so consumers get each status once and in order.

`GET` answers Meta's subscription check: `hub.mode=subscribe` and `hub.verify_token` equal to the
configured verify token echo `hub.challenge`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import bindparam, select

from wabalink.secret_compare import same_secret
from wabalink.server.http import HttpRequest, HttpResponse, json_response
from wabalink.service.events import notify_new_events, record_event
from wabalink.store import events as event_store
from wabalink.store import links, messages
from wabalink.store.db import Cursor, Query, Store
from wabalink.store.schema import linked_wabas

log = logging.getLogger("wabalink.webhooks")

Row = dict[str, Any]
SIGNATURE_HEADER = "x-hub-signature-256"
# A status of an unknown wamid younger than this, while a hand-over of that number is in flight, may be
# about the message whose wamid is being recorded: Meta is asked to retry the webhook (503).
IN_FLIGHT_RETRY_SECONDS = 30
# How long a status waits for its predecessor (e.g. read for delivered) before it is published alone.
STATUS_HOLD_SECONDS = 30.0


# How long the receiver waits, polling, for a racing hand-over to record its wamid before answering 503.
HAND_OVER_WAIT_SECONDS = 0.5
HAND_OVER_POLL_SECONDS = 0.005


class RetryLater(Exception):
    """A change cannot be mapped yet; nothing of the webhook is recorded and Meta retries it."""

    def __init__(self, waba_link_id: str, wamid: str, meta_phone_number_id: str) -> None:
        super().__init__(wamid)
        self.waba_link_id, self.wamid, self.meta_phone_number_id = waba_link_id, wamid, meta_phone_number_id


_COMPLETE_LINKS = Query(select(linked_wabas).where(
    linked_wabas.c.meta_waba_id == bindparam("meta_waba_id"), linked_wabas.c.registration_status == "COMPLETE"))


class WebhookReceiver:
    def __init__(self, store: Store, app_secret: str, verify_token: str | None) -> None:
        self.store = store
        self._secret = app_secret.encode()
        self._verify_token = verify_token

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            return self._verify_subscription(request)
        if request.method != "POST":
            return json_response(405, {"error": {"message": "the webhook receiver takes GET and POST"}})
        if not self.signature_matches(request.body, request.headers.get(SIGNATURE_HEADER, "")):
            log.warning("webhook signature mismatch")
            return json_response(401, {"error": {"message": "X-Hub-Signature-256 does not match the body"}})
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):
            return json_response(400, {"error": {"message": "the webhook body is not JSON"}})
        entries = body.get("entry") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            return json_response(400, {"error": {"message": "the webhook body has no entry list"}})
        deadline = time.monotonic() + HAND_OVER_WAIT_SECONDS
        while True:
            try:
                recorded = self.record(entries)
                break
            except RetryLater as race:
                # Usually the hand-over commits its wamid within milliseconds: wait for it here
                # (outside any transaction) rather than make Meta hold the whole queue for a backoff.
                if not self._await_hand_over(race, deadline):
                    return json_response(503, {"error": {"message": "a status of a message being handed over: "
                                                                    "retry"}}, [(b"retry-after", b"1")])
        if recorded:
            notify_new_events()
        return json_response(200, {"success": True, "events": recorded})

    def _await_hand_over(self, race: RetryLater, deadline: float) -> bool:
        """True once the racing message's hand-over is recorded (or no longer in flight) before
        `deadline`."""
        while time.monotonic() < deadline:
            time.sleep(HAND_OVER_POLL_SECONDS)
            with self.store.reader(snapshot=False) as conn:
                if (messages.message_id_for_wamid(conn, race.waba_link_id, race.wamid) is not None
                        or not messages.hand_over_in_flight(conn, race.waba_link_id, race.meta_phone_number_id)):
                    return True
        return False

    def signature_matches(self, body: bytes, header: str) -> bool:
        scheme, _, presented = header.partition("=")
        if scheme != "sha256" or not presented:
            return False
        expected = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        return same_secret(expected, presented.strip().lower())

    def record(self, entries: list[Any]) -> int:
        """Every (entry, change) of the webhook as events, in one transaction; how many were new."""
        changes = list(_prepared_changes(entries))

        def write(conn: Cursor) -> int:
            recorded = 0
            phones: dict[tuple[str, str], Row | None] = {}  # the body's statuses are mostly of one number
            links_by_meta_id: dict[str, list[Row]] = {}
            for change in changes:
                wabas = links_by_meta_id.get(change.meta_waba_id)
                if wabas is None:
                    wabas = links_by_meta_id[change.meta_waba_id] = conn.rows(
                        _COMPLETE_LINKS, meta_waba_id=change.meta_waba_id)
                    if not wabas:
                        log.info("webhook for a Meta WABA not linked", extra={"meta_waba_id": change.meta_waba_id})
                for waba in wabas:
                    recorded += _record_change(conn, waba, change, phones)
            return recorded

        # Committed together with other threads' writes under load (store/group_commit.py).
        return self.store.write_grouped(write)

    def _verify_subscription(self, request: HttpRequest) -> HttpResponse:
        query = {key: values[0] for key, values in parse_qs(request.query_string.decode("latin-1")).items()}
        token = query.get("hub.verify_token", "")
        if (query.get("hub.mode") == "subscribe" and self._verify_token
                and same_secret(token.encode(), self._verify_token.encode())):
            challenge = query.get("hub.challenge", "")
            body = challenge.encode()
            return HttpResponse(200, [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
                                body)
        return json_response(403, {"error": {"message": "hub.verify_token does not match"}})


@dataclass(frozen=True)
class _Change:
    """One change of a webhook body, with what can be worked out before the transaction."""
    meta_waba_id: str
    change: Row
    canonical: str  # the change as sorted compact JSON: its identity, whatever the sender's formatting
    value: Row
    meta_phone_number_id: str
    kind: str
    wamid: str | None


def _prepared_changes(entries: list[Any]) -> Iterator[_Change]:
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
            continue
        meta_waba_id = str(entry.get("id", ""))
        for change in entry["changes"]:
            if not isinstance(change, dict):
                continue
            given_value = change.get("value")
            value: dict[str, Any] = given_value if isinstance(given_value, dict) else {}
            given_metadata = value.get("metadata")
            metadata: dict[str, Any] = given_metadata if isinstance(given_metadata, dict) else {}
            kind, wamid = _kind_and_wamid(change.get("field"), value)
            yield _Change(meta_waba_id, change, json.dumps(change, sort_keys=True, separators=(",", ":")), value,
                          str(metadata.get("phone_number_id") or ""), kind, wamid)


def _record_change(conn: Cursor, waba: Row, change: _Change, phones: dict[tuple[str, str], Row | None]) -> int:
    dedupe_key = hashlib.sha256(f"{change.meta_waba_id}\n{waba['id']}\n{change.canonical}".encode()).hexdigest()
    conn.lock(f"webhook:{dedupe_key}")
    if event_store.has_dedupe_key(conn, dedupe_key):
        return 0
    phone = None
    if change.meta_phone_number_id:
        key = (waba["id"], change.meta_phone_number_id)
        if key not in phones:
            found = links.find_phone_by_meta_id(conn, *key)
            phones[key] = found if found is not None and found["linked"] else None
        phone = phones[key]
    kind, wamid = change.kind, change.wamid
    message_id = None
    if wamid and kind.startswith("status_"):
        message_id = messages.message_id_for_wamid(conn, waba["id"], wamid)
        if message_id is None and _young(change.value) and messages.hand_over_in_flight(
                conn, waba["id"], change.meta_phone_number_id):
            raise RetryLater(waba["id"], wamid, change.meta_phone_number_id)
    hold_until = None
    if message_id is not None:
        hold_until = _order_after_predecessor(conn, message_id, kind)
    record_event(conn, waba=waba, phone=phone, kind=kind, entry={"id": change.meta_waba_id, "changes": [change.change]},
                 message_id=message_id, wamid=wamid, dedupe_key=dedupe_key, hold_until=hold_until)
    return 1


def _order_after_predecessor(conn: Cursor, message_id: str, kind: str) -> float | None:
    """A status that arrives before its predecessor (read before delivered, delivered before sent:
    Meta retries out of order) is held, up to STATUS_HOLD_SECONDS, for it; a status recorded
    releases the successors held for it. Delivery publishes a message's events by status rank
    (store/events.py), so a held status goes out after the predecessor. Returns the hold's end."""
    conn.lock(f"message-events:{message_id}")  # recordings of one message's statuses, one at a time
    now = time.time()
    event_store.release_successors(conn, message_id, kind, now)
    predecessor = event_store.PREDECESSORS.get(kind)
    if predecessor is None or event_store.has_event_of_kind(conn, message_id, predecessor):
        return None
    log.info("status held for its predecessor", extra={"message_id": message_id, "kind": kind})
    return now + STATUS_HOLD_SECONDS


def _kind_and_wamid(field: Any, value: Row) -> tuple[str, str | None]:
    """What the change is (status_sent, inbound_message, message_template_status_update, ...) and
    the wamid it is about."""
    if field == "messages":
        statuses = value.get("statuses")
        if isinstance(statuses, list) and statuses and isinstance(statuses[0], dict):
            return f"status_{str(statuses[0].get('status', 'unknown'))[:40]}", _text(statuses[0].get("id"))
        inbound = value.get("messages")
        if isinstance(inbound, list) and inbound and isinstance(inbound[0], dict):
            return "inbound_message", _text(inbound[0].get("id"))
        if value.get("errors"):
            return "error", None
    return str(field or "unknown")[:64], None


def _young(value: Row) -> bool:
    try:
        stamp = float(value["statuses"][0]["timestamp"])
    except (KeyError, IndexError, TypeError, ValueError):
        return False
    return time.time() - stamp < IN_FLIGHT_RETRY_SECONDS


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None
