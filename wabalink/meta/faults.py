"""Injected Graph API faults: fail the next N matching calls, fail every matching call for a
time window (so a whole SDK call fails, retries included), and add latency to every call.

Sandbox routes:
  GET    /faults   what is injected now
  POST   /faults   {"failNext", "status", "pathContains", "latencyMs", "durationSeconds"}
  PUT    /faults   the same with the older names {"failNextCalls", "failStatus", ...}
  DELETE /faults   clear
A spec without any fault (no failNext, durationSeconds or latencyMs) is refused: it would
otherwise silently clear what was injected.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from wabalink.meta.calls import SandboxCall, SandboxHandler
from wabalink.meta.errors import SandboxError, injected_failure_error
from wabalink.meta.routing import Route
from wabalink.meta.sandbox_input import optional_int, optional_seconds, optional_str
from wabalink.server.http import HttpResponse, json_response
from wabalink.store.meta_control import FaultState, SimulatorControl

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

FAULT_CACHE_SECONDS = 1.0
MAX_DURATION_SECONDS = 24 * 3600
MAX_FAIL_NEXT = 1_000_000
MAX_LATENCY_MS = 60_000


class FaultInjector:
    """One simulator's faults. Every Graph call consults them, and reading the row each time
    would cost a query per call, so it is cached; the store stays the authority for consuming
    counted failures (conditional UPDATE). Changes made through this simulator show at once;
    changes made by another replica sharing the database show within FAULT_CACHE_SECONDS."""

    def __init__(self, control: SimulatorControl) -> None:
        self._control = control
        self._lock = threading.Lock()
        self._faults = FaultState()
        self._fetched_at = float("-inf")

    def apply(self, path: str) -> None:
        """Sleep the injected latency, then fail if a failure matches this path."""
        faults = self._cached()
        if faults.latency_ms > 0:
            time.sleep(faults.latency_ms / 1000)  # handlers run in worker threads
        if faults.fail_path_contains and faults.fail_path_contains not in path:
            return
        if faults.failing_window_open(time.time()):
            raise injected_failure_error(faults.fail_status)
        if faults.fail_next_calls <= 0:
            return
        if self._control.consume_failure(faults):
            with self._lock:
                self._faults = replace(self._faults, fail_next_calls=max(0, self._faults.fail_next_calls - 1))
            raise injected_failure_error(faults.fail_status)
        self.refresh()  # another caller took the last one, or they were changed

    def refresh(self) -> FaultState:
        faults = self._control.get_faults()
        with self._lock:
            self._faults, self._fetched_at = faults, time.monotonic()
        return faults

    def set(self, faults: FaultState) -> FaultState:
        self._control.set_faults(faults)
        return self.refresh()

    def clear(self) -> FaultState:
        self._control.clear_faults()
        return self.refresh()

    def _cached(self) -> FaultState:
        with self._lock:
            if time.monotonic() - self._fetched_at < FAULT_CACHE_SECONDS:
                return self._faults
        return self.refresh()


# --- sandbox ------------------------------------------------------------------------------------

# Request member names: POST's, and PUT's older ones.
POST_NAMES = {"fail_next": "failNext", "status": "status"}
PUT_NAMES = {"fail_next": "failNextCalls", "status": "failStatus"}


def faults_from(body: dict[str, Any], names: dict[str, str]) -> FaultState:
    fail_next = optional_int(body, names["fail_next"], 0, minimum=0, maximum=MAX_FAIL_NEXT)
    duration = optional_seconds(body, "durationSeconds", maximum=MAX_DURATION_SECONDS)
    latency = optional_int(body, "latencyMs", 0, minimum=0, maximum=MAX_LATENCY_MS)
    if fail_next == 0 and duration == 0 and latency == 0:
        raise SandboxError(400, f"give at least one fault: {names['fail_next']}, durationSeconds or latencyMs "
                           "(to clear faults, DELETE /faults)")
    return FaultState(
        fail_next_calls=fail_next,
        fail_status=optional_int(body, names["status"], 500, minimum=400, maximum=599),
        fail_path_contains=optional_str(body, "pathContains") or None,
        latency_ms=latency,
        fail_until=time.time() + duration if duration else None,
    )


def faults_json(faults: FaultState) -> dict[str, Any]:
    shown: dict[str, Any] = {"failNextCalls": faults.fail_next_calls, "failStatus": faults.fail_status,
                             "pathContains": faults.fail_path_contains, "latencyMs": faults.latency_ms}
    if faults.failing_window_open(time.time()):
        assert faults.fail_until is not None
        shown["failUntil"] = round(faults.fail_until, 3)
        shown["remainingSeconds"] = round(faults.fail_until - time.time(), 3)
    return shown


def _show(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    return json_response(200, faults_json(sim.faults.refresh()))


def _inject(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    return json_response(200, faults_json(sim.faults.set(faults_from(call.body(), POST_NAMES))))


def _inject_with_older_names(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    return json_response(200, faults_json(sim.faults.set(faults_from(call.body(), PUT_NAMES))))


def _clear(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    return json_response(200, faults_json(sim.faults.clear()))


SANDBOX_ROUTES: list[Route[SandboxHandler]] = [
    Route("GET", "/faults", _show),
    Route("POST", "/faults", _inject),
    Route("PUT", "/faults", _inject_with_older_names),
    Route("DELETE", "/faults", _clear),
]
