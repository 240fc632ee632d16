"""Group commit for SQLite: many threads' small writes in one transaction.

SQLite takes one writer at a time, and every write transaction pays for `BEGIN IMMEDIATE`, a commit
(its pages appended to the WAL) and the hand-over of the writer lock to the next thread, which under
the GIL often waits for the interpreter while holding that lock. At a few hundred sends a second the
service's per-message writes (the API's insert, the simulator's acceptance, the hand-over's claim
and outcome, the webhook receiver's events) spent most of their time on that, not on their rows.

`GroupCommit.run(work)` queues `work(cursor)`; one committer thread runs every queued work in ONE
transaction, each inside its own savepoint, so a work that raises is rolled back alone and its
caller gets the exception while the others commit. Each caller returns once its own work is
committed (or re-raises what it raised), so callers keep the plain "my write is durable when this
returns" contract of `store.writer()` (a caller that gives up after WAIT_SECONDS cannot know
whether its work was committed). A work must not open `store.writer()` itself.

PostgreSQL takes concurrent writers (and each statement there is a network round trip one thread
would serialize), so on PostgreSQL `run` is simply `store.writer()` in the caller's thread.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy.exc import IntegrityError

if TYPE_CHECKING:
    from wabalink.store.db import Cursor, Store

log = logging.getLogger("wabalink.store")

T = TypeVar("T")
MAX_BATCH = 256  # works per transaction: bounds how long one commit keeps the others waiting
WAIT_SECONDS = 60.0  # a caller gives up waiting after this (the committer is stuck or gone)
IDLE_SECONDS = 0.5


class _Pending(Generic[T]):
    __slots__ = ("work", "done", "result", "error")

    def __init__(self, work: Callable[[Cursor], T]) -> None:
        self.work = work
        # Held until the work is committed: a bare lock is the cheapest wait-and-wake there is.
        self.done = threading.Lock()
        self.done.acquire()
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._waiting: queue.SimpleQueue[_Pending[Any]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()

    def run(self, work: Callable[[Cursor], T]) -> T:
        """`work(cursor)` committed; its result, or what it raised."""
        if not self.store.is_sqlite or self._stopping.is_set():
            with self.store.writer() as cursor:
                return work(cursor)
        self._ensure_started()
        pending: _Pending[T] = _Pending(work)
        self._waiting.put(pending)
        if not pending.done.acquire(timeout=WAIT_SECONDS):
            raise TimeoutError("the store's group commit did not answer in time")
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="wabalink-group-commit", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        while True:
            try:
                batch = [self._waiting.get(timeout=IDLE_SECONDS)]
            except queue.Empty:
                if self._stopping.is_set():
                    break
                continue
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)
        # Stopped: new works now commit in their callers' threads (run() checks _stopping); the
        # few queued in the instant before the flag was set are committed here.
        while True:
            try:
                self._commit([self._waiting.get_nowait()])
            except queue.Empty:
                return

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        try:
            with self.store.writer() as cursor:
                for pending in batch:
                    _run_in_savepoint(cursor, pending)
        except BaseException as error:  # the transaction itself failed: every work of it failed
            log.warning("group commit failed", extra={"works": len(batch), "error": type(error).__name__})
            for pending in batch:
                if pending.error is None:
                    pending.error = error
                    pending.result = None
        for pending in batch:
            pending.done.release()


def _run_in_savepoint(cursor: Cursor, pending: _Pending[Any]) -> None:
    cursor.execute_sql("SAVEPOINT group_work")
    try:
        pending.result = pending.work(cursor)
    except BaseException as error:
        cursor.execute_sql("ROLLBACK TO group_work")
        cursor.execute_sql("RELEASE group_work")
        # The same exception store.writer() raises for a constraint violation.
        pending.error = IntegrityError(None, None, error) if isinstance(error, sqlite3.IntegrityError) else error
        return
    cursor.execute_sql("RELEASE group_work")
