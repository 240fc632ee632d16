"""The review of message templates on the simulator: PENDING until the review is due
(`--template-approval-delay`), then APPROVED, durably; sandbox decisions (approve, reject with a
reason, pause, disable, recategorize); and the `message_template_status_update` /
`template_category_update` webhooks each change sends.

A timer in this process applies due reviews, and every template call (on any replica, after any
restart) applies the ones still due before it answers. Reads treat a PENDING template whose review
is due as APPROVED, so no answer depends on the timer's punctuality.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from wabalink.meta.calls import SandboxCall
from wabalink.meta.errors import SandboxError
from wabalink.meta.routing import Route
from wabalink.meta.sandbox_input import meta_id, optional_str
from wabalink.meta.template_rules import CATEGORIES
from wabalink.server.http import HttpResponse, json_response
from wabalink.store import meta_templates as rows
from wabalink.store.db import Cursor

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

DECISIONS = ("APPROVED", "REJECTED", "PAUSED", "DISABLED")
DEFAULT_REJECTION_REASON = "INVALID_FORMAT"


def approval_delay(sim: MetaSimulator) -> float:
    return float(getattr(sim.settings, "template_approval_delay_seconds", 0) or 0)


def effective_status(row: rows.Row, now: float) -> str:
    if row["status"] == "PENDING" and row["review_due_at"] is not None and row["review_due_at"] <= now:
        return "APPROVED"
    return row["status"]


def send_webhook(sim: MetaSimulator, cursor: Cursor, waba_id: str, field: str, value: dict[str, Any]) -> None:
    """Queues Meta's webhook in the caller's transaction (the sender is the messages area's)."""
    from wabalink.meta.webhooks import enqueue_webhook  # webhooks reaches templates through the simulator

    enqueue_webhook(sim, cursor, waba_id, field, value)


def status_webhook_value(row: rows.Row, status: str, reason: str | None, now: float) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event": status, "message_template_id": int(row["id"]), "message_template_name": row["name"],
        "message_template_language": row["language"], "reason": reason or "NONE",
        "message_template_category": row["category"]}
    if status == "REJECTED":
        value["rejection_info"] = {"reason": reason or DEFAULT_REJECTION_REASON,
                                   "recommendation": "Review the template guidelines and submit again."}
    elif status == "PAUSED":
        value["other_info"] = {"title": "FIRST_PAUSE",
                               "description": "Your template has been paused for 3 hours because of low quality."}
    elif status == "DISABLED":
        value["disable_info"] = {"disable_date": int(now)}
    return value


def change_status(sim: MetaSimulator, cursor: Cursor, row: rows.Row, status: str, reason: str | None,
                  now: float) -> bool:
    """One status change and its webhook, if the template is still as `row` saw it."""
    if not rows.set_status(cursor, row["id"], row["status"], status, reason, None, now):
        return False
    send_webhook(sim, cursor, row["waba_id"], "message_template_status_update",
                 status_webhook_value(row, status, reason, now))
    return True


def apply_due_reviews(sim: MetaSimulator) -> None:
    """Approves every PENDING template whose review is due (each once, whoever gets there first)."""
    now = time.time()
    with sim.state.store.reader() as cursor:
        if not rows.due_for_review(cursor, now):
            return
    with sim.state.store.writer() as cursor:
        for row in rows.due_for_review(cursor, now):
            change_status(sim, cursor, row, "APPROVED", None, now)


class _ReviewTimers:
    """One timer per simulator for the earliest review due in the future."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def schedule(self, sim: MetaSimulator, due_at: float) -> None:
        with self.lock:
            current = self.next_at.get(sim)
            if current is not None and current <= due_at and current > time.time():
                return
            self.next_at[sim] = due_at
        timer = threading.Timer(max(0.0, due_at - time.time()) + 0.01, self._fire, (weakref.ref(sim),))
        timer.daemon = True
        timer.start()

    def _fire(self, sim_ref: weakref.ref[Any]) -> None:
        sim = sim_ref()
        if sim is None:
            return
        with self.lock:
            self.next_at.pop(sim, None)
        try:
            apply_due_reviews(sim)
            with sim.state.store.reader() as cursor:
                following = rows.next_review_due(cursor)
        except Exception:  # noqa: BLE001 - a store closing at shutdown; the next call applies them
            return
        if following is not None:
            self.schedule(sim, following)


REVIEW_TIMERS = _ReviewTimers()


def before_template_call(sim: MetaSimulator) -> None:
    apply_due_reviews(sim)
    if sim not in REVIEW_TIMERS.next_at:  # after a restart: pick up reviews still to come
        with sim.state.store.reader() as cursor:
            following = rows.next_review_due(cursor)
        if following is not None:
            REVIEW_TIMERS.schedule(sim, following)


# --- sandbox --------------------------------------------------------------------------------------

def _review(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    """POST /templates/{templateId}/review {decision?, reason?, category?}: Meta's review outcome."""
    template_id = meta_id(call.args["template_id"], "templateId")
    body = call.body()
    decision = optional_str(body, "decision", max_length=20)
    reason = optional_str(body, "reason", max_length=200)
    category = optional_str(body, "category", max_length=20)
    if decision is None and category is None:
        raise SandboxError(400, "give a decision (APPROVED, REJECTED, PAUSED, DISABLED) and/or a category")
    if decision is not None and decision not in DECISIONS:
        raise SandboxError(400, f"decision must be one of {', '.join(DECISIONS)}")
    if category is not None and category not in CATEGORIES:
        raise SandboxError(400, "category must be one of MARKETING, UTILITY, AUTHENTICATION")
    apply_due_reviews(sim)
    now = time.time()
    with sim.state.store.writer() as cursor:
        row = rows.get_template(cursor, template_id)
        if row is None:
            raise SandboxError(404, f"message template {template_id} not found")
        if decision is not None:
            if decision == row["status"]:
                raise SandboxError(409, f"message template {template_id} is already {decision}")
            reason_given = reason or (DEFAULT_REJECTION_REASON if decision == "REJECTED" else None)
            change_status(sim, cursor, row, decision, reason_given, now)
            row = {**row, "status": decision, "reason": reason_given}
        if category is not None and category != row["category"]:
            rows.set_category(cursor, template_id, category, row["category"], now)
            send_webhook(sim, cursor, row["waba_id"], "template_category_update", {
                "message_template_id": int(template_id), "message_template_name": row["name"],
                "message_template_language": row["language"], "previous_category": row["category"],
                "new_category": category})
            row = {**row, "previous_category": row["category"], "category": category}
    return json_response(200, {"templateId": template_id, "wabaId": row["waba_id"], "name": row["name"],
                               "language": row["language"], "status": row["status"], "category": row["category"],
                               "previousCategory": row["previous_category"], "reason": row["reason"]})


SANDBOX_ROUTES = [Route("POST", "/templates/{template_id}/review", _review)]
