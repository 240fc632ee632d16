"""A background worker thread that runs one step at a time: the step does a bounded amount of work
and says how long to wait before the next (0: more is ready). It sleeps on an event, so `wake()`
(new work in this process) starts the next step at once, and a poll bound notices work that other
replicas sharing the database wrote. It never busy-waits, and an error in a step is logged and
retried after a pause instead of ending the thread.

`wake_by(at)` says new work falls due at `at`: it wakes the worker only when that is more than
`coalesce_seconds` before the step already planned, so a stream of new work (a message accepted
every few milliseconds) is picked up in a few fuller steps rather than one step each."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("wabalink.meta")

ERROR_PAUSE_SECONDS = 1.0


class Pump:
    def __init__(self, name: str, step: Callable[[], float], *, poll_seconds: float,
                 coalesce_seconds: float = 0.0) -> None:
        self.name = name
        self._step = step
        self._poll_seconds = poll_seconds
        self._coalesce_seconds = coalesce_seconds
        self._next_step_at = 0.0  # epoch seconds of the planned step (0: a step is running)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"wabalink-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def wake_by(self, at: float) -> None:
        planned = self._next_step_at
        if planned == 0.0 or at + self._coalesce_seconds < planned:  # a running step may have missed it
            self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                wait = self._step()
            except Exception:  # noqa: BLE001 - a worker must outlive a failed step (database restart...)
                if self._stop.is_set():
                    return
                log.exception("background step failed", extra={"worker": self.name})
                wait = ERROR_PAUSE_SECONDS
            if wait > 0:
                wait = min(wait, self._poll_seconds)
                self._next_step_at = time.time() + wait
                self._wake.wait(wait)
                self._next_step_at = 0.0
