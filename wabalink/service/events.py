"""The event log/outbox API: record an event for a linked WABA's event destination, list, replay.

Every event's SNS `Message` is AWS's envelope, exactly (DESIGN-messaging.md, "Events"):
`{"context":{"MetaWabaIds":[{"wabaId","arn"}],"MetaPhoneNumberIds":[{"metaPhoneNumberId","arn"}]},
"whatsAppWebhookEntry":"<JSON string of ONE Meta entry>","aws_account_id","message_timestamp","messageId"}`,
Meta ids in `wabaId`/`metaPhoneNumberId`, AWS ids in the ARNs, nanoseconds in the timestamp.

Other areas call `record_event(cursor, ...)` inside their own `store.writer()`, so the event is kept
if and only if the change that causes it is; `notify_new_events()` after the commit wakes the delivery
worker at once (it also polls, so forgetting it only costs latency).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from wabalink import jsontext
from wabalink.service import ids
from wabalink.store import events as event_store
from wabalink.store.db import Cursor

Row = dict[str, Any]

CONNECT_NOT_DELIVERABLE = ("Amazon Connect destinations are not delivered by wabalink; the event is kept "
                           "in the event log (wabalink events list).")

_listeners: list[Callable[[], None]] = []
_listeners_lock = threading.Lock()


def on_new_events(listener: Callable[[], None]) -> Callable[[], None]:
    """Calls `listener` whenever events were committed; returns a function removing it."""
    with _listeners_lock:
        _listeners.append(listener)

    def remove() -> None:
        with _listeners_lock:
            if listener in _listeners:
                _listeners.remove(listener)
    return remove


def notify_new_events() -> None:
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener()


def aws_timestamp(epoch_ns: int) -> str:
    """RFC 3339 with nanoseconds and Z, as AWS's envelope: 2025-01-08T23:30:43.271279391Z."""
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    return f"{_second_text(seconds)}.{nanos:09d}Z"


@functools.lru_cache(maxsize=4)
def _second_text(seconds: int) -> str:
    # Events come hundreds a second: format each second once.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def envelope(waba: Row, phone: Row | None, entry: Row, message_id: str, epoch_ns: int) -> Row:
    account_id, region = waba["account_id"], waba["region"]
    phones = [] if phone is None else [{
        "metaPhoneNumberId": phone["meta_phone_number_id"],
        "arn": ids.phone_number_arn(region, account_id, phone["id"])}]
    return {
        "context": {
            "MetaWabaIds": [{"wabaId": waba["meta_waba_id"], "arn": ids.waba_arn(region, account_id, waba["id"])}],
            "MetaPhoneNumberIds": phones,
        },
        "whatsAppWebhookEntry": jsontext.compact(entry),
        "aws_account_id": account_id,
        "message_timestamp": aws_timestamp(epoch_ns),
        "messageId": message_id,
    }


def initial_state(destinations: list[Row]) -> tuple[str, str | None]:
    """(state, reason) of a new event given the WABA's destinations at that moment."""
    arns = [destination.get("eventDestinationArn", "") for destination in destinations]
    if any(":sns:" in arn for arn in arns):
        return event_store.PENDING, None
    if any(":connect:" in arn for arn in arns):
        return event_store.UNDELIVERABLE, CONNECT_NOT_DELIVERABLE
    return event_store.NO_DESTINATION, "the WhatsApp Business Account had no event destination"


def record_event(cursor: Cursor, *, waba: Row, phone: Row | None, kind: str, entry: Row,
                 message_id: str | None = None, wamid: str | None = None, dedupe_key: str | None = None,
                 hold_until: float | None = None) -> str:
    """Writes one event of the linked WABA row `waba` (a `linked_wabas` row, COMPLETE) and returns
    its id. `entry` is ONE Meta webhook entry (`{"id": <Meta WABA id>, "changes": [one change]}`);
    `message_id` is the AWS messageId of the message it is about (a new UUID when None);
    `hold_until`: not published before then unless released (a status waiting for its predecessor)."""
    row = event_row(waba=waba, phone=phone, kind=kind, entry=entry, message_id=message_id, wamid=wamid,
                    dedupe_key=dedupe_key, hold_until=hold_until)
    event_store.insert_event(cursor, row)
    return str(row["id"])


def event_row(*, waba: Row, phone: Row | None, kind: str, entry: Row, message_id: str | None = None,
              wamid: str | None = None, dedupe_key: str | None = None, hold_until: float | None = None) -> Row:
    """The event log row `record_event` writes (for writers that insert several at once)."""
    epoch_ns = time.time_ns()
    now = epoch_ns / 1e9
    message_id = message_id or ids.new_uuid()
    destinations = jsontext.loads(waba.get("event_destinations") or "[]")
    state, reason = initial_state(destinations)
    return {
        "id": ids.new_uuid(), "account_id": waba["account_id"], "region": waba["region"], "waba_link_id": waba["id"],
        "phone_link_id": phone["id"] if phone else None, "message_id": message_id, "wamid": wamid, "kind": kind,
        "envelope": jsontext.compact(envelope(waba, phone, entry, message_id, epoch_ns)),
        "destinations": jsontext.compact(destinations), "dedupe_key": dedupe_key, "state": state, "last_error": reason,
        "next_attempt_at": max(now, hold_until or now), "created_at": now}


def rendered_event(row: Row) -> Row:
    """An event as the events API and CLI show it (camelCase; the envelope as an object)."""
    return {
        "eventId": row["id"], "sequence": row["seq"], "accountId": row["account_id"], "region": row["region"],
        "wabaId": ids.waba_id(row["waba_link_id"]),
        "phoneNumberId": ids.phone_number_id(row["phone_link_id"]) if row["phone_link_id"] else None,
        "messageId": row["message_id"], "wamid": row["wamid"], "kind": row["kind"], "status": row["state"],
        "attempts": row["attempts"], "lastError": row["last_error"],
        "nextAttemptAt": row["next_attempt_at"] if row["state"] in event_store.OPEN_STATES else None,
        "createdAt": row["created_at"], "deliveredAt": row["delivered_at"],
        "destinations": json.loads(row["destinations"]), "envelope": json.loads(row["envelope"]),
    }


def list_events(cursor: Cursor, *, account_id: str | None = None, waba_id: str | None = None,
                message_id: str | None = None, status: str | None = None, after: int = 0,
                limit: int = 100) -> list[Row]:
    waba_link_id = None
    if waba_id is not None:
        ref = ids.parse_resource(waba_id)
        waba_link_id = ref.hex_id if ref is not None and ref.kind == "waba" else waba_id
    rows = event_store.list_events(cursor, account_id=account_id, waba_link_id=waba_link_id,
                                   message_id=message_id, state=status, after_seq=after, limit=limit)
    return [rendered_event(row) for row in rows]


def replay_event(cursor: Cursor, event_id: str) -> Row | None:
    """Back to pending (delivered again, even if it was delivered): None when there is no such event."""
    row = event_store.replay(cursor, event_id, time.time())
    return rendered_event(row) if row is not None else None
