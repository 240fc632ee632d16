"""The messaging benchmark's events: the counting SNS sink (a child process, bench/sns_sink.py) and
what arrived there for each accepted message: its hand-over, `sent`, `delivered` and `read` events,
duplicates, order, the lag from the call to `read`, and for a few messages with a problem their
events as wabalink's event log holds them (evidence to read beside the sink's arrivals)."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import sendload
from associations import latency_summary
from servers import SANDBOX_TOKEN, Server, free_port

BENCH_DIR = Path(__file__).resolve().parent
EVENT_KINDS = ("handover_succeeded", "sent", "delivered", "read")

def sink_server(workdir: Path) -> Server:
    port = free_port()
    return Server("sns-sink", [sys.executable, str(BENCH_DIR / "sns_sink.py"), "--port", str(port)], port,
                  workdir / "sns-sink.log", ready_path="/_sink/events")


def sink_get(sink: Server, path: str) -> Any:
    with urllib.request.urlopen(sink.endpoint + path, timeout=60) as answer:
        return json.loads(answer.read())


def sink_incomplete(sink: Server, message_ids: list[str]) -> int:
    request = urllib.request.Request(sink.endpoint + "/_sink/incomplete", data=json.dumps(message_ids).encode(),
                                     method="POST")
    with urllib.request.urlopen(request, timeout=60) as answer:
        return int(json.loads(answer.read())["incomplete"])


def sink_reset(sink: Server) -> None:
    urllib.request.urlopen(urllib.request.Request(sink.endpoint + "/_sink/reset", data=b"", method="POST"),
                           timeout=30).read()


# --- events ---------------------------------------------------------------------------------------

def wait_for_events(sink: Server, message_ids: list[str], timeout: float) -> float:
    """Polls the sink until every one of `message_ids` has all its events, or the timeout; returns
    the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if sink_incomplete(sink, message_ids) == 0:
            break
        time.sleep(0.5)
    return time.monotonic() - started


def wait_for_other_events(sink: Server, count: int, timeout: float) -> float:
    """Polls the sink until it received `count` events that are not about a sent message (inbound
    messages), or the timeout; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout and sink_get(sink, "/_sink/events")["other"] < count:
        time.sleep(0.5)
    return time.monotonic() - started


def event_report(accepted: dict[str, tuple[float, float]], recorded: dict[str, Any], load_end: float
                 ) -> dict[str, Any]:
    """Per accepted message: which of its four events arrived, duplicates, order, and the lag from
    the call's start to the arrival of its `read`."""
    events = recorded["events"]
    missing = {kind: 0 for kind in EVENT_KINDS}
    duplicates = out_of_order = incomplete = 0
    other_kinds: dict[str, int] = {}
    lags, last_arrival = [], 0.0
    examples: dict[str, list[str]] = {"incomplete": [], "out_of_order": [], "duplicates": []}
    for message_id, (started, _) in accepted.items():
        arrivals = events.get(message_id, [])
        kinds = [kind for kind, _ in arrivals]
        duplicates += len(kinds) - len(set(kinds))
        if len(kinds) != len(set(kinds)):
            examples["duplicates"].append(message_id)
        for kind in set(kinds) - set(EVENT_KINDS):
            other_kinds[kind] = other_kinds.get(kind, 0) + 1
        first = {kind: min(t for k, t in arrivals if k == kind) for kind in set(kinds)}
        gaps = [kind for kind in EVENT_KINDS if kind not in first]
        for kind in gaps:
            missing[kind] += 1
        incomplete += bool(gaps)
        if gaps:
            examples["incomplete"].append(message_id)
        present = [first[kind] for kind in EVENT_KINDS if kind in first]
        out_of_order += present != sorted(present)
        if present != sorted(present):
            examples["out_of_order"].append(message_id)
        if "read" in first:
            lags.append(first["read"] - started)
        last_arrival = max([last_arrival, *first.values()])
    unknown = sum(1 for message_id in events if message_id not in accepted)
    return {"messages": len(accepted), "complete": len(accepted) - incomplete, "incomplete": incomplete,
            "missing_by_kind": missing, "duplicates": duplicates, "out_of_order": out_of_order,
            "other_kinds": other_kinds, "unknown_message_ids": unknown, "publish_calls": recorded["publishes"],
            "lag_to_read": latency_summary(lags),
            "examples": {problem: ids[:3] for problem, ids in examples.items()},
            "last_event_after_load_s": round(last_arrival - load_end, 2) if last_arrival else None}


def diagnose(server: Server, recorded: dict[str, Any], examples: dict[str, list[str]]) -> dict[str, Any]:
    """For a few messages with a problem: their events as the event log holds them (kind, sequence,
    state, attempts, last error) beside what the sink received, as evidence."""
    found: dict[str, Any] = {}
    for problem, message_ids in examples.items():
        for message_id in message_ids:
            try:
                logged: list[Any] = logged_events(server, message_id)
            except (OSError, ValueError, KeyError) as error:
                logged = [f"events API: {error}"]
            found[f"{problem} {message_id}"] = {
                "event_log": [[e["kind"], e["sequence"], e["status"], e["attempts"], e["lastError"],
                               e["createdAt"], e["deliveredAt"]] if isinstance(e, dict) else e for e in logged],
                "sink": recorded["events"].get(message_id, [])}
    return found


def sends_report(results: sendload.SendResults) -> dict[str, Any]:
    latencies = [latency for _, latency in results.accepted.values()]
    return {"accepted": len(results.accepted), "failures": results.failures,
            "failure_examples": results.failure_examples, "duration_s": round(results.elapsed, 2),
            "accepted_per_second": round(len(results.accepted) / results.elapsed, 1) if results.elapsed else 0.0,
            "latency": latency_summary(latencies)}


def logged_events(server: Server, message_id: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(f"{server.endpoint}/_wabalink/events?messageId={message_id}&limit=50",
                                     headers={"authorization": f"Bearer {SANDBOX_TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return list(json.loads(answer.read())["events"])


STAGES = (("hand-over event written", "handover_succeeded", "createdAt"),
          ("sent event written", "status_sent", "createdAt"),
          ("read event written", "status_read", "createdAt"),
          ("read event published", "status_read", "deliveredAt"))


def stage_breakdown(server: Server, accepted: dict[str, tuple[float, float]], recorded: dict[str, Any],
                    sample: int = 40) -> dict[str, Any]:
    """Where the lag goes, for `sample` messages spread over the load: milliseconds from the call's
    start until the event log wrote the hand-over, `sent` and `read` events (`createdAt`), until it
    published `read` (`deliveredAt`), and until `read` reached the sink."""
    items = list(accepted.items())
    stages: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    stages["read at the sink"] = []
    for message_id, (started, _) in items[::max(1, len(items) // sample)]:
        by_kind = {event["kind"]: event for event in logged_events(server, message_id)}
        for name, kind, moment in STAGES:
            if by_kind.get(kind, {}).get(moment) is not None:
                stages[name].append((by_kind[kind][moment] - started) * 1000)
        reads = [arrival for kind, arrival in recorded["events"].get(message_id, []) if kind == "read"]
        if reads:
            stages["read at the sink"].append((min(reads) - started) * 1000)
    return {name: {"p50_ms": round(sorted(values)[len(values) // 2], 1), "max_ms": round(max(values), 1),
                   "count": len(values)} for name, values in stages.items() if values}
