"""What happens to an accepted message: its statuses (`sent` -> `delivered` -> `read`, or `failed`
with a code) on each number's schedule, per-number settings (throughput tier, delays, pair rate,
failure rules), and the scheduler that turns due status changes into `messages` webhooks.

Scheduled changes are rows (`meta_status_schedule`) written with the message, so a restart
continues them; the scheduler applies a due change, queues its webhook and deletes the row in one
transaction. Throughput is counted in memory, per server (a sliding one-second window): replicas
sharing a database each allow the tier."""

from __future__ import annotations

import collections
import hashlib
import re
import threading
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from wabalink.meta.errors import GraphError
from wabalink.meta.pump import Pump
from wabalink.meta.webhooks import Target, WebhookSender, wake_sender, webhook_rows, webhook_targets
from wabalink.store import meta_messages as q
from wabalink.store.db import Cursor

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

THROUGHPUT_TIERS = {"STANDARD": 80, "HIGH": 1000, "COEXISTENCE": 20}
STATUSES_PER_STEP = 500
# Statuses falling due within this long of each other go out in one step (and one webhook body):
# at hundreds of messages a second, a step per status cost more than the statuses themselves.
STEP_COALESCE_SECONDS = 0.02
POLL_SECONDS = 0.25
WINDOW_SECONDS = 24 * 3600
ERROR_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
# Titles of the codes a delivery can fail with (Meta's error-code table).
FAILURE_TITLES = {
    131000: "Something went wrong",
    131026: "Message undeliverable",
    131042: "Business eligibility payment issue",
    131047: "Re-engagement message",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "User has stopped receiving marketing messages",
    131051: "Unsupported message type",
    131052: "Media download error",
    131053: "Media upload error",
    130472: "User's number is part of an experiment",
}
FAILURE_DETAILS = {
    131026: "Message failed to send because the recipient's phone number is not on WhatsApp, has not accepted "
            "the current Terms of Service, or uses an old version of WhatsApp.",
    131047: "Message failed to send because more than 24 hours have passed since the customer last replied "
            "to this number.",
}


@dataclass(frozen=True)
class NumberSettings:
    throughput_mps: int = THROUGHPUT_TIERS["STANDARD"]
    sent_delay_ms: int = 20  # after acceptance
    delivered_delay_ms: int = 20  # after sent
    read_delay_ms: int = 20  # after delivered
    stop_at: str | None = None  # "sent" | "delivered": the recipient never gets further
    # Meta's real pair rate is about 1 message every 6 s to one user; tests send faster.
    pair_limit: int = 10
    pair_window_seconds: int = 6
    undeliverable_suffix: str = "0000"  # recipients ending so fail with 131026; "" disables

    def row(self, phone_id: str, now: float) -> dict[str, Any]:
        return {"phone_number_id": phone_id, **asdict(self), "updated_at": now}


@dataclass(frozen=True)
class FailureRule:
    id: int
    recipient_suffix: str | None
    recipient_pattern: str | None
    error_code: int
    error_title: str

    def matches(self, recipient: str) -> bool:
        if self.recipient_suffix is not None and not recipient.endswith(self.recipient_suffix):
            return False
        return self.recipient_pattern is None or re.fullmatch(self.recipient_pattern, recipient) is not None


def number_settings(cursor: Cursor, phone_id: str) -> NumberSettings:
    row = cursor.row(q.SELECT_SETTINGS, phone_id=phone_id)
    if row is None:
        return NumberSettings()
    return NumberSettings(**{name: row[name] for name in NumberSettings.__dataclass_fields__})


def save_number_settings(cursor: Cursor, phone_id: str, settings: NumberSettings) -> None:
    cursor.lock(f"meta-number-settings:{phone_id}")
    cursor.run(q.DELETE_SETTINGS, phone_id=phone_id)
    cursor.run(q.INSERT_SETTINGS, **settings.row(phone_id, time.time()))


def failure_rules(cursor: Cursor, phone_id: str) -> list[FailureRule]:
    return [FailureRule(r["id"], r["recipient_suffix"], r["recipient_pattern"], r["error_code"], r["error_title"])
            for r in cursor.rows(q.SELECT_RULES, phone_id=phone_id)]


def forced_failure(cursor: Cursor, phone_id: str, settings: NumberSettings, recipient: str) -> tuple[int, str] | None:
    """The (code, title) a recipient fails with by rule: the sandbox's rules first, then the
    built-in undeliverable suffix."""
    for rule in failure_rules(cursor, phone_id):
        if rule.matches(recipient):
            return rule.error_code, rule.error_title
    if settings.undeliverable_suffix and recipient.endswith(settings.undeliverable_suffix):
        return 131026, FAILURE_TITLES[131026]
    return None


def window_open(cursor: Cursor, phone_id: str, user: str, now: float) -> bool:
    window = q.window_of(cursor, phone_id, user)
    return window is not None and now - window["last_inbound_at"] < WINDOW_SECONDS


def schedule_statuses(cursor: Cursor, wamid: str, settings: NumberSettings, now: float,
                      failure: tuple[int, str] | None) -> float:
    """Schedules the message's statuses; returns when the first falls due."""
    due = first_due = now + settings.sent_delay_ms / 1000
    if failure is not None:  # one status: failed, with its code
        scheduled = [{"wamid": wamid, "status": "failed", "due_at": due, "error_code": failure[0],
                      "error_title": failure[1]}]
    else:
        steps = [("sent", 0)]
        if settings.stop_at != "sent":
            steps.append(("delivered", settings.delivered_delay_ms))
            if settings.stop_at != "delivered":
                steps.append(("read", settings.read_delay_ms))
        scheduled = []
        for status, delay_ms in steps:
            due += delay_ms / 1000
            scheduled.append({"wamid": wamid, "status": status, "due_at": due, "error_code": None,
                              "error_title": None})
    cursor.insert_rows(q.meta_status_schedule, scheduled)
    return first_due


def digits_of(phone_number: str) -> str:
    return "".join(ch for ch in phone_number if ch.isdigit())


def status_value(row: dict[str, Any]) -> dict[str, Any]:
    """A `messages` webhook value carrying one status, in Meta's current (per-message pricing) shape."""
    status: dict[str, Any] = {"id": row["wamid"], "status": row["status"], "timestamp": str(int(row["due_at"])),
                              "recipient_id": row["user_wa_id"]}
    if row["callback_data"] is not None:
        status["biz_opaque_callback_data"] = row["callback_data"]
    if row["status"] in ("sent", "delivered"):
        category = row["pricing_category"] or "service"
        free = category == "service"
        day = int(row["created_at"] // WINDOW_SECONDS)
        conversation_id = hashlib.sha256(f"{row['phone_number_id']}:{row['user_wa_id']}:{day}".encode()).hexdigest()
        status["conversation"] = {"id": conversation_id[:32],
                                  "expiration_timestamp": str(int(row["created_at"]) + WINDOW_SECONDS),
                                  "origin": {"type": category}}
        status["pricing"] = {"billable": not free, "pricing_model": "PMP",
                             "type": "free_customer_service" if free else "regular", "category": category}
    if row["status"] == "failed":
        code, title = row["error_code"], row["error_title"] or FAILURE_TITLES.get(row["error_code"], "Error")
        status["errors"] = [{"code": code, "title": title, "message": title,
                             "error_data": {"details": FAILURE_DETAILS.get(code, title)}, "href": ERROR_HREF}]
    return {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": digits_of(row["display_phone_number"]),
                         "phone_number_id": row["phone_number_id"]},
            "statuses": [status]}


class StatusScheduler:
    """The scheduler's step (run by a `Pump`): due status changes become webhooks."""

    def __init__(self, sim: MetaSimulator) -> None:
        self.sim = sim

    def step(self) -> float:
        now = time.time()
        # Nothing due (the usual case right after a wake-up): no write transaction at all.
        with self.sim.store.reader(snapshot=False) as cursor:
            first_due = cursor.scalar(q.FIRST_STATUS_DUE)
        if first_due is None:
            return POLL_SECONDS
        if first_due > now:
            return max(first_due - now, STEP_COALESCE_SECONDS)
        with self.sim.store.writer() as cursor:
            cursor.lock("meta-status-scheduler")
            rows = cursor.rows(q.DUE_STATUSES, now=now, limit=STATUSES_PER_STEP)
            targets: dict[str, list[Target]] = {}
            # Each message ends on its last due status of the step (rows come in due order); the
            # messages ending on one (status, error code) are updated in one statement.
            last = {row["wamid"]: (row["status"], row["error_code"]) for row in rows}
            reaching: dict[tuple[str, int | None], list[str]] = {}
            for wamid, ending in last.items():
                reaching.setdefault(ending, []).append(wamid)
            for (status, error_code), wamids in reaching.items():
                cursor.run_in(q.SET_STATUSES, wamids, status=status, error_code=error_code, updated_at=now)
            queued: list[dict[str, Any]] = []
            for row in rows:
                waba_targets = targets.get(row["waba_id"])
                if waba_targets is None:
                    waba_targets = targets[row["waba_id"]] = webhook_targets(self.sim, cursor, row["waba_id"])
                queued += webhook_rows(row["waba_id"], "messages", status_value(row), row["wamid"], waba_targets, now)
            cursor.insert_rows(q.meta_webhook_queue, queued)
            cursor.run_in(q.DELETE_SCHEDULED, [row["id"] for row in rows])
        if rows:
            wake_sender(self.sim)
        # A full step: more is due now. Otherwise let the next statuses gather for a moment.
        return 0.0 if len(rows) >= STATUSES_PER_STEP else STEP_COALESCE_SECONDS


class ThroughputMeter:
    """Messages per phone number in the last second (this server's), against its tier."""

    def __init__(self) -> None:
        self._sent: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, phone_id: str, limit: int, now: float) -> bool:
        with self._lock:
            recent = self._sent.setdefault(phone_id, collections.deque())
            while recent and recent[0] <= now - 1.0:
                recent.popleft()
            if len(recent) >= limit:
                return False
            recent.append(now)
            return True


def throughput_error() -> GraphError:
    return GraphError(400, "(#130429) Rate limit hit", "OAuthException", 130429,
                      details="Cloud API message throughput has been reached.")


class Messaging:
    """The simulator's messaging machinery of one server: its throughput meter and its two
    background workers (status scheduler, webhook sender)."""

    def __init__(self, sim: MetaSimulator) -> None:
        self.throughput = ThroughputMeter()
        self._sender_step = WebhookSender(sim)
        self.scheduler = Pump("meta-statuses", StatusScheduler(sim).step, poll_seconds=POLL_SECONDS,
                              coalesce_seconds=STEP_COALESCE_SECONDS)
        self.sender = Pump("meta-webhooks", self._sender_step.step, poll_seconds=POLL_SECONDS)

    def start(self) -> None:
        self.scheduler.start()
        self.sender.start()

    def close(self) -> None:
        self.scheduler.stop()
        self.sender.stop()
        self._sender_step.close()
