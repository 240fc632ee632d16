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
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson
from sqlalchemy import bindparam, select

from wabalink import jsontext
from wabalink.secret_compare import same_secret
from wabalink.server.http import HttpRequest, HttpResponse, json_response
from wabalink.service.events import event_row, notify_new_events
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
            # orjson, strictly: it refuses a lone surrogate (\ud800), which no store can keep.
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return json_response(400, {"error": {"message": "the webhook body is not JSON (UTF-8 text, no lone "
                                                            "surrogates, at most 1024 levels deep)"}})
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
        # Committed together with other threads' writes under load (store/group_commit.py).
        return self.store.write_grouped(lambda conn: _record_changes(conn, changes))

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
            yield _Change(meta_waba_id, change, jsontext.compact(change, sort_keys=True), value,
                          str(metadata.get("phone_number_id") or ""), kind, wamid)


def _record_changes(conn: Cursor, changes: list[_Change]) -> int:
    """The changes as events, with a fixed number of statements per body rather than per change
    (each is a network round trip on PostgreSQL): locks, dedupe keys, wamids and the messages'
    earlier events are each looked up once for the whole body, and the events inserted together."""
    links_by_meta_id: dict[str, list[Row]] = {}
    items: list[tuple[_Change, Row, str]] = []  # (change, linked WABA, dedupe key)
    for change in changes:
        wabas = links_by_meta_id.get(change.meta_waba_id)
        if wabas is None:
            wabas = links_by_meta_id[change.meta_waba_id] = conn.rows(_COMPLETE_LINKS, meta_waba_id=change.meta_waba_id)
            if not wabas:
                log.info("webhook for a Meta WABA not linked", extra={"meta_waba_id": change.meta_waba_id})
        for waba in wabas:
            digest = hashlib.sha256(f"{change.meta_waba_id}\n{waba['id']}\n{change.canonical}".encode()).hexdigest()
            items.append((change, waba, digest))
    if not items:
        return 0
    keys = [dedupe_key for _, _, dedupe_key in items]
    conn.lock_all([f"webhook:{key}" for key in keys])  # a retry racing its first delivery waits here
    seen = event_store.existing_dedupe_keys(conn, keys)
    message_ids = _message_ids(conn, [(change, waba) for change, waba, key in items if key not in seen])
    ordering = StatusOrdering(conn, sorted(set(message_ids.values())))
    phones: dict[tuple[str, str], Row | None] = {}  # a body's statuses are mostly of one number
    rows: list[Row] = []
    now = time.time()
    for change, waba, dedupe_key in items:
        if dedupe_key in seen:
            continue
        seen.add(dedupe_key)
        message_id = message_ids.get((waba["id"], change.wamid or ""))
        hold_until = ordering.place(message_id, change.kind, now) if message_id is not None else None
        row = event_row(waba=waba, phone=_phone(conn, phones, waba, change.meta_phone_number_id), kind=change.kind,
                        entry={"id": change.meta_waba_id, "changes": [change.change]}, message_id=message_id,
                        wamid=change.wamid, dedupe_key=dedupe_key, hold_until=hold_until)
        ordering.add(row, now)
        rows.append(row)
    ordering.write_releases(conn, now)
    event_store.insert_events(conn, rows)
    return len(rows)


def _message_ids(conn: Cursor, items: list[tuple[_Change, Row]]) -> dict[tuple[str, str], str]:
    """(WABA link id, wamid) -> AWS messageId, for statuses of messages sent through
    SendWhatsAppMessage. A young status of an unknown wamid while a hand-over of its number is in
    flight may be about the message whose wamid is being recorded: RetryLater."""
    wamids_by_waba: dict[str, set[str]] = {}
    for change, waba in items:
        if change.wamid and change.kind.startswith("status_"):
            wamids_by_waba.setdefault(waba["id"], set()).add(change.wamid)
    found: dict[tuple[str, str], str] = {}
    for waba_link_id, wamids in wamids_by_waba.items():
        for wamid, message_id in messages.message_ids_for_wamids(conn, waba_link_id, sorted(wamids)).items():
            found[(waba_link_id, wamid)] = message_id
    for change, waba in items:
        if (change.wamid and change.kind.startswith("status_") and (waba["id"], change.wamid) not in found
                and _young(change.value)
                and messages.hand_over_in_flight(conn, waba["id"], change.meta_phone_number_id)):
            raise RetryLater(waba["id"], change.wamid, change.meta_phone_number_id)
    return found


def _phone(conn: Cursor, phones: dict[tuple[str, str], Row | None], waba: Row,
           meta_phone_number_id: str) -> Row | None:
    if not meta_phone_number_id:
        return None
    key = (waba["id"], meta_phone_number_id)
    if key not in phones:
        found = links.find_phone_by_meta_id(conn, *key)
        phones[key] = found if found is not None and found["linked"] else None
    return phones[key]


class StatusOrdering:
    """Per-message order of the statuses a transaction records. A status that arrives before its
    predecessor (read before delivered, delivered before sent: Meta retries out of order) is held,
    up to STATUS_HOLD_SECONDS, for it; a status recorded releases the successors held for it.
    Delivery publishes a message's events by status rank (store/events.py), so a held status goes
    out after the predecessor. The messages' earlier events are read once, under a lock per message
    (one transaction at a time records a message's statuses); the events this transaction adds are
    followed in memory."""

    def __init__(self, conn: Cursor, message_ids: list[str]) -> None:
        conn.lock_all([f"message-events:{message_id}" for message_id in message_ids])
        now = time.time()
        self._kinds: dict[str, set[str]] = {}
        self._held_in_store: set[tuple[str, str]] = set()  # (message id, kind): waiting, never attempted
        self._held_here: dict[tuple[str, str], list[Row]] = {}  # rows of this transaction, waiting
        self._releases: list[tuple[str, str]] = []
        for event in event_store.events_of_messages(conn, message_ids):
            self._kinds.setdefault(event["message_id"], set()).add(event["kind"])
            if (event["state"] in event_store.OPEN_STATES and event["attempts"] == 0
                    and event["next_attempt_at"] > now):
                self._held_in_store.add((event["message_id"], event["kind"]))

    def place(self, message_id: str, kind: str, now: float) -> float | None:
        """Releases what waited for this status; returns its own hold's end (None: not held)."""
        for successor, predecessor in event_store.PREDECESSORS.items():
            if predecessor != kind:
                continue
            if (message_id, successor) in self._held_in_store:
                self._held_in_store.discard((message_id, successor))
                self._releases.append((message_id, successor))
            for row in self._held_here.pop((message_id, successor), []):
                row["next_attempt_at"] = now
        awaited = event_store.PREDECESSORS.get(kind)
        if awaited is None or awaited in self._kinds.get(message_id, ()):
            return None
        log.info("status held for its predecessor", extra={"message_id": message_id, "kind": kind})
        return now + STATUS_HOLD_SECONDS

    def add(self, row: Row, now: float) -> None:
        """`row` (an event about to be inserted) is now among its message's events."""
        self._kinds.setdefault(row["message_id"], set()).add(row["kind"])
        if row["next_attempt_at"] > now:
            self._held_here.setdefault((row["message_id"], row["kind"]), []).append(row)

    def write_releases(self, conn: Cursor, now: float) -> None:
        for message_id, kind in self._releases:
            event_store.release_held(conn, message_id, kind, now)
        self._releases.clear()


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
