"""Webhooks from the simulator to apps, as Meta sends them: `{"object": "whatsapp_business_account",
"entry": [{"id": <WABA id>, "changes": [{"field", "value"}]}]}`, signed with `X-Hub-Signature-256:
sha256=<hex HMAC-SHA256(app secret, body)>`.

Every change is a row of the durable queue (`meta_webhook_queue`), one per target, written in the
transaction of the change that causes it (`enqueue_webhook`). The targets of a WABA are those of its
subscribed apps: the simulator app's callback and each subscription's `override_callback_uri`. As at
Meta, an app has ONE callback: its rows name the app, not a URL, and the server that sends them
resolves it then (`Settings.webhook_callback_url()`: `--meta-webhook-url`, else that server's own
receiver), so replicas sharing a database form one ordered stream per message, and a stopped
replica's rows are sent by the others. One sender thread per server claims ready rows (a lease, so
replicas do not send the same rows), POSTs them in batches (up to 50 changes a body), deletes them
once a target answered 2xx, and otherwise retries with exponential backoff for up to 24 hours. Rows
with the same ordering key (a message's wamid) and target go out in order, whichever server sends
them: a later status waits while an earlier one is being sent or waits for its retry. Delivery is
at least once."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from wabalink import jsontext
from wabalink.meta.calls import SandboxCall
from wabalink.meta.errors import invalid_parameter_error
from wabalink.meta.http11 import Http11Connection
from wabalink.meta.routing import Route
from wabalink.server.http import HttpResponse, json_response
from wabalink.store import meta_messages as q
from wabalink.store.db import Cursor

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

log = logging.getLogger("wabalink.meta.webhooks")

CHANGES_PER_BODY = 50
ROWS_PER_STEP = 500
LEASE_SECONDS = 60.0  # a claimed row not done by then (the sender died) is sent again
TIMEOUT_SECONDS = 5.0
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
GIVE_UP_AFTER_SECONDS = 24 * 3600.0
POLL_SECONDS = 0.25
ERROR_TEXT_MAX = 500


# (subscribed app id, override callback URL or None for the app's own callback)
Target = tuple[str, str | None]


def enqueue_webhook(sim: MetaSimulator, cursor: Cursor | None, meta_waba_id: str, field: str,
                    value: dict[str, Any], *, ordering_key: str | None = None,
                    targets: list[Target] | None = None) -> int:
    """Queues one change for every app subscribed to the WABA (none subscribed: nothing is sent,
    as at Meta); inside the caller's transaction when `cursor` is given. Returns the rows queued."""
    if cursor is None:
        with sim.store.writer() as own:
            queued = enqueue_webhook(sim, own, meta_waba_id, field, value, ordering_key=ordering_key)
        wake_sender(sim)
        return queued
    if targets is None:
        targets = webhook_targets(sim, cursor, meta_waba_id)
    rows = webhook_rows(meta_waba_id, field, value, ordering_key, targets, time.time())
    cursor.insert_rows(q.meta_webhook_queue, rows)
    return len(rows)


def webhook_rows(meta_waba_id: str, field: str, value: dict[str, Any], ordering_key: str | None,
                 targets: list[Target], now: float) -> list[dict[str, Any]]:
    """The queue rows of one change (one per target), for a caller inserting many at once."""
    text = jsontext.compact_unicode(value)
    return [{"waba_id": meta_waba_id, "app_id": app_id, "target_url": url, "field": field, "value": text,
             "ordering_key": ordering_key, "created_at": now, "due_at": now, "attempts": 0, "last_error": None}
            for app_id, url in targets]


def webhook_targets(sim: MetaSimulator, cursor: Cursor, waba_id: str) -> list[Target]:
    """The simulator app's callback (its URL is known only to the simulator) and every override."""
    targets: list[Target] = []
    for app_id, override in q.subscription_targets(cursor, waba_id):
        if app_id == sim.app.app_id:
            targets.append((app_id, None))
        if override:
            targets.append((app_id, override))
    return list(dict.fromkeys(targets))


def target_url(sim: MetaSimulator, row: dict[str, Any]) -> str:
    """Where a queued row goes from this server: its override URL, else the app's callback."""
    return row["target_url"] or sim.settings.webhook_callback_url()


def wake_sender(sim: MetaSimulator) -> None:
    messaging = getattr(sim, "messaging", None)
    if messaging is not None:
        messaging.sender.wake()


def save_subscription_override(sim: MetaSimulator, waba_id: str, app_id: str, params: dict[str, str]) -> None:
    """`override_callback_uri` (with its `verify_token`, which Meta requires alongside) of a
    subscription; a subscription without it goes back to the app's callback."""
    url = check_override(params)
    with sim.store.writer() as cursor:
        q.set_override(cursor, waba_id, app_id, url, time.time())


def remove_subscription_override(sim: MetaSimulator, waba_id: str, app_id: str) -> None:
    with sim.store.writer() as cursor:
        q.set_override(cursor, waba_id, app_id, None, time.time())


def check_override(params: dict[str, str]) -> str | None:
    """The subscription's override callback URL, if any, checked as Meta checks it."""
    url = params.get("override_callback_uri") or None
    if url is not None:
        check_callback_url(url)
        if not params.get("verify_token"):
            raise invalid_parameter_error("The parameter verify_token is required with override_callback_uri")
    return url


def check_callback_url(url: str) -> None:
    parts = urlsplit(url)
    if (len(url) > q.URL_MAX_LENGTH or parts.scheme not in ("http", "https") or not parts.hostname
            or any(ch in url for ch in "\r\n\0 ")):
        raise invalid_parameter_error("Param override_callback_uri must be an http or https URL")


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(rows: list[dict[str, Any]]) -> bytes:
    """One body for rows of one target: consecutive changes of a WABA share its entry."""
    entries: list[dict[str, Any]] = []
    for row in rows:
        change = {"value": jsontext.loads(row["value"]), "field": row["field"]}
        if entries and entries[-1]["id"] == row["waba_id"]:
            entries[-1]["changes"].append(change)
        else:
            entries.append({"id": row["waba_id"], "changes": [change]})
    return jsontext.compact_utf8({"object": "whatsapp_business_account", "entry": entries})


def backoff_seconds(attempts: int) -> float:
    return min(BACKOFF_CAP_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, attempts - 1))


class WebhookSender:
    """The sender's step (run by a `Pump`): claim ready rows, post them per target, settle them."""

    def __init__(self, sim: MetaSimulator) -> None:
        self.sim = sim
        self._connections: dict[tuple[str, str, int | None], Http11Connection] = {}

    def step(self) -> float:
        now = time.time()
        with self.sim.store.writer() as cursor:
            cursor.lock("meta-webhook-sender")
            rows = cursor.rows(q.READY_WEBHOOKS, now=now, limit=ROWS_PER_STEP)
            cursor.run_in(q.LEASE_WEBHOOKS, [row["id"] for row in rows], due_at=now + LEASE_SECONDS)
            if not rows:
                next_due = cursor.scalar(q.NEXT_WEBHOOK_DUE, now=now)
        if not rows:
            return POLL_SECONDS if next_due is None else max(0.001, next_due - now)
        by_target: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            row["attempts"] += 1
            by_target.setdefault(target_url(self.sim, row), []).append(row)
        for target, target_rows in by_target.items():
            self._deliver(target, target_rows)
        return 0.0

    def _deliver(self, target: str, rows: list[dict[str, Any]]) -> None:
        """Bodies in order; after a failure the rest wait too, so no change overtakes an earlier one."""
        for index, chunk in enumerate(_chunks(rows, CHANGES_PER_BODY)):
            error = self._post(target, webhook_body(chunk))
            if error is None:
                with self.sim.store.writer() as cursor:
                    cursor.run_in(q.DELETE_WEBHOOKS, [row["id"] for row in chunk])
                continue
            self._retry_later(target, rows[index * CHANGES_PER_BODY:], error)
            return

    def _retry_later(self, target: str, rows: list[dict[str, Any]], error: str) -> None:
        now = time.time()
        dropped = 0
        with self.sim.store.writer() as cursor:
            for row in rows:
                if now - row["created_at"] > GIVE_UP_AFTER_SECONDS:
                    cursor.run(q.DELETE_WEBHOOK, webhook_id=row["id"])
                    dropped += 1
                else:
                    cursor.run(q.RETRY_WEBHOOK, webhook_id=row["id"], last_error=error[:ERROR_TEXT_MAX],
                               due_at=now + backoff_seconds(row["attempts"]))
        log.warning("webhook delivery failed; will retry", extra={
            "target_host": urlsplit(target).hostname, "changes": len(rows) - dropped, "error": error})
        if dropped:
            log.error("webhooks dropped after 24 hours of failed delivery",
                      extra={"target_host": urlsplit(target).hostname, "changes": dropped})

    def _post(self, target: str, body: bytes) -> str | None:
        """None when the target answered 2xx; otherwise what went wrong (no body, no secret)."""
        parts = urlsplit(target)
        key = (parts.scheme, parts.hostname or "", parts.port)
        connection = self._connections.get(key)
        if connection is None:
            connection = Http11Connection(parts.hostname or "", parts.port, tls=parts.scheme == "https",
                                          timeout=TIMEOUT_SECONDS)
            self._connections[key] = connection
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua",
                   "X-Hub-Signature-256": signature(self.sim.app.app_secret, body)}
        for attempt in (1, 2):
            reused = connection.is_open
            try:
                status, _, _ = connection.request("POST", path, headers, body)
            except OSError as error:
                connection.close()
                if reused and attempt == 1:
                    continue  # a kept connection the receiver had closed
                return f"unreachable: {type(error).__name__}"
            return None if 200 <= status < 300 else f"HTTP {status}"
        return "unreachable"

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


# --- sandbox ------------------------------------------------------------------------------------

def _queue_json(row: dict[str, Any]) -> dict[str, Any]:
    """`targetUrl` null with `appCallback`: the app's callback, whichever server sends it."""
    return {"id": row["id"], "wabaId": row["waba_id"], "appId": row["app_id"],
            "targetUrl": row["target_url"], "appCallback": row["target_url"] is None, "field": row["field"],
            "orderingKey": row["ordering_key"], "attempts": row["attempts"], "lastError": row["last_error"],
            "createdAt": row["created_at"], "dueAt": row["due_at"], "value": json.loads(row["value"])}


def _show(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    with sim.store.reader() as cursor:
        total = cursor.scalar(q.COUNT_WEBHOOKS)
        rows = cursor.rows(q.LIST_WEBHOOKS, limit=100)
    return json_response(200, {"pending": total, "webhooks": [_queue_json(row) for row in rows]})


def _flush(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    """Every pending webhook is retried now (those waiting for a backoff included)."""
    with sim.store.writer() as cursor:
        cursor.run(q.FLUSH_WEBHOOKS)
        total = cursor.scalar(q.COUNT_WEBHOOKS)
    wake_sender(sim)
    return json_response(200, {"pending": total})


def _purge(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    with sim.store.writer() as cursor:
        dropped = cursor.run(q.DELETE_ALL_WEBHOOKS)
    return json_response(200, {"dropped": dropped})


SANDBOX_ROUTES = [
    Route("GET", "/webhooks", _show),
    Route("POST", "/webhooks/flush", _flush),
    Route("DELETE", "/webhooks", _purge),
]
