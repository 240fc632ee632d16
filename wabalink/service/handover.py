"""The hand-over worker: sends accepted SendWhatsAppMessage messages to Meta and records the outcome.

Bounded: a fixed number of threads read a bounded queue of message ids. SendWhatsAppMessage queues
its message right after its commit; a sweeper queues every message nobody holds (never claimed
because the queue was full, claimed by a process that was killed, or waiting to retry an unreachable
Meta), so a restart hands over what a SIGKILL left behind. Each attempt is claimed in the store first
(`attempts` + 1, a lease), so two replicas never send the same message at once; Meta has no
idempotency key, so a message whose attempt was cut between Meta's answer and our commit is sent
again after its lease (at-least-once in that window only).

Under load a thread claims the messages waiting in the queue together (one transaction), then sends
them one at a time; each outcome is committed before the thread's next send, so at most one message
per thread is at Meta without its outcome stored. Claims and outcomes go through the store's group
commit (store/group_commit.py): on SQLite, which has a single writer, they share transactions.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from wabalink.meta.client import GraphApiError, GraphClient, GraphUnavailableError
from wabalink.service.events import notify_new_events, record_event
from wabalink.store import links, messages
from wabalink.store.db import Cursor, Store

log = logging.getLogger("wabalink.handover")

Row = dict[str, Any]

DEFAULT_THREADS = 16
QUEUE_LIMIT = 10_000
SWEEP_INTERVAL_SECONDS = 1.0
SWEEP_BATCH = 500
CLAIM_BATCH = 8  # messages a hand-over thread claims at once when they are waiting
UNREACHABLE_ATTEMPTS = 5  # Meta unreachable this many times: the hand-over failed
UNREACHABLE_BACKOFF_SECONDS = 2.0
HANDOVER_FIELD = "aws_message_handover"  # the change field of AWS-generated hand-over events


class HandoverWorker:
    def __init__(self, store: Store, graph: GraphClient, *, threads: int = DEFAULT_THREADS, meta_timeout_seconds: float = 10.0) -> None:
        self.store = store
        self.graph = graph
        self.threads = threads
        self.lease_seconds = 2 * meta_timeout_seconds + 5
        self._queue: queue.Queue[tuple[str, int]] = queue.Queue(QUEUE_LIMIT)
        self._stopping = threading.Event()
        self._running: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.threads):
            self._spawn(self._work, f"wabalink-handover-{index}")
        self._spawn(self._sweep, "wabalink-handover-sweeper")

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._running:
            thread.join(max(0.0, deadline - time.monotonic()))

    def submit(self, message_id: str) -> None:
        """Queues a message just accepted (attempts 0); when the queue is full the sweeper takes it later."""
        try:
            self._queue.put_nowait((message_id, 0))
        except queue.Full:
            pass

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._running.append(thread)

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                batch = [self._queue.get(timeout=0.5)]
            except queue.Empty:
                continue
            while len(batch) < CLAIM_BATCH:  # under load, claim what is waiting in one transaction
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.hand_over_batch(batch)
            except Exception:  # a store failure: the messages stay in the outbox for the sweeper
                log.exception("hand-over failed to run", extra={"message_ids": [item[0] for item in batch]})

    def _sweep(self) -> None:
        while not self._stopping.wait(SWEEP_INTERVAL_SECONDS):
            try:
                with self.store.reader() as conn:
                    due = messages.due_messages(conn, time.time(), SWEEP_BATCH)
            except Exception:
                log.exception("hand-over sweep failed")
                continue
            for item in due:
                try:
                    self._queue.put(item, timeout=1.0)
                except queue.Full:
                    break

    def hand_over(self, message_id: str, attempts_seen: int) -> None:
        self.hand_over_batch([(message_id, attempts_seen)])

    def hand_over_batch(self, items: list[tuple[str, int]]) -> None:
        """Claims the messages in one transaction, then sends them one by one, each outcome recorded
        (and committed) before the next send, so at most one message per thread is ever at Meta
        without its outcome in the store."""
        now = time.time()
        claimed = self.store.write_grouped(lambda conn: [
            row for message_id, attempts_seen in items
            if (row := messages.claim(conn, message_id, attempts_seen, now, now + self.lease_seconds))])
        for row in claimed:  # another worker has the others, or they are done
            self._send(row)

    def _send(self, row: Row) -> None:
        try:
            wamid = self.graph.send_message(row["meta_phone_number_id"], row["meta_api_version"], row["body"].encode())
        except GraphApiError as error:
            self._record(Outcome(row, messages.FAILED, None, _graph_error(error)))
            return
        except GraphUnavailableError as error:
            if row["attempts"] < UNREACHABLE_ATTEMPTS:
                with self.store.writer() as conn:
                    messages.release(conn, row["id"], time.time() + UNREACHABLE_BACKOFF_SECONDS * row["attempts"])
                return
            self._record(Outcome(row, messages.FAILED, None, {
                "code": 131000, "title": "Something went wrong",
                "message": "Meta's Graph API could not be reached", "error_data": {"details": str(error)[:300]}}))
            return
        self._record(Outcome(row, messages.HANDED_OVER, wamid or None, None))

    def _record(self, outcome: Outcome) -> None:
        """Returns once `outcome` is committed (through the store's group commit: on SQLite the
        outcomes of all hand-over threads share transactions); raises what recording it raised."""
        if self.store.write_grouped(lambda conn: _write_outcome(conn, outcome)):
            notify_new_events()


@dataclass
class Outcome:
    row: Row
    state: str
    wamid: str | None
    error: Row | None


def _write_outcome(conn: Cursor, outcome: Outcome) -> bool:
    """The outcome and its event; whether an event was written."""
    row, wamid, error = outcome.row, outcome.wamid, outcome.error
    if not messages.finish(conn, row["id"], outcome.state, wamid, time.time()):
        return False  # a lease expired and another worker recorded it first
    waba = links.get_waba(conn, row["account_id"], row["region"], row["waba_link_id"])
    if waba is None:
        return False  # unlinked since: no destination to tell
    phone = links.get_phone(conn, row["account_id"], row["region"], row["phone_link_id"])
    kind = "handover_succeeded" if error is None else "handover_failed"
    record_event(conn, waba=waba, phone=phone, kind=kind, entry=handover_entry(waba, phone, row, wamid, error),
                 message_id=row["id"], wamid=wamid)
    # Failures at info, successes at debug: at 1,000 sends/s a line per success is noise and cost.
    if error is not None or log.isEnabledFor(logging.DEBUG):
        log.log(logging.INFO if error else logging.DEBUG, "hand-over", extra={
            "message_id": row["id"], "outcome": kind, "meta_error_code": error["code"] if error else None})
    return True


def _graph_error(error: GraphApiError) -> Row:
    """Meta's synchronous error, in the shape Meta's webhooks carry errors."""
    title = re.sub(r"^\(#\d+\)\s*", "", error.message)  # Meta's "(#131056) title" -> the title
    described: Row = {"code": error.code, "title": title, "message": error.message,
                      "error_data": {"details": error.message}, "type": error.type}
    if error.error_subcode is not None:
        described["error_subcode"] = error.error_subcode
    if error.fbtrace_id:
        described["fbtrace_id"] = error.fbtrace_id
    return described


def handover_entry(waba: Row, phone: Row | None, row: Row, wamid: str | None, error: Row | None) -> Row:
    """The Meta-entry-shaped body of a hand-over event. AWS does not publish this body; wabalink
    uses a change of its own field so consumers that read `field == "messages"` never mistake it
    for a Meta status."""
    handover: Row = {"status": "succeeded" if error is None else "failed", "messageId": row["id"],
                     "timestamp": str(int(time.time()))}
    if wamid:
        handover["wamid"] = wamid
    if error is not None:
        handover["errors"] = [error]
    value: Row = {"messaging_product": "whatsapp", "metadata": {
        # Digits only, as Meta's own webhooks carry it ("+1 555-010-1234" -> "15550101234").
        "display_phone_number": "".join(ch for ch in (phone or {}).get("display_phone_number", "") if ch.isdigit()),
        "phone_number_id": row["meta_phone_number_id"]}, "handover": handover}
    return {"id": waba["meta_waba_id"], "changes": [{"field": HANDOVER_FIELD, "value": value}]}
