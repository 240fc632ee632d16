"""The simulator's messaging state: messages both ways, scheduled status changes, customer service
windows, per-number messaging settings and failure rules, webhook subscriptions' override callbacks
and the durable webhook queue. Queries are `Query` objects run on a caller's `Cursor`, so a message,
its scheduled statuses and the webhooks they cause are written in one transaction.

Times are epoch seconds (float)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)

from wabalink.store.db import Cursor, InListQuery, Query
from wabalink.store.schema import meta_phone_numbers, meta_webhook_subscriptions, metadata

WAMID_MAX_LENGTH = 128
URL_MAX_LENGTH = 2048

meta_messages = Table(
    "meta_messages",
    metadata,
    Column("wamid", String(WAMID_MAX_LENGTH), primary_key=True),
    Column("phone_number_id", String(32), nullable=False),
    Column("waba_id", String(32), nullable=False),
    Column("direction", String(8), nullable=False),  # outbound | inbound
    Column("user_wa_id", String(20), nullable=False),  # the WhatsApp user: recipient or sender
    Column("type", String(32), nullable=False),
    Column("content", Text, nullable=False),  # JSON: the message object as sent or received
    Column("status", String(16), nullable=False),  # accepted sent delivered read failed | received read
    Column("error_code", Integer),
    Column("pricing_category", String(32)),  # outbound: service | utility | marketing | authentication
    Column("callback_data", Text),  # biz_opaque_callback_data, echoed in statuses
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_meta_messages_pair", "phone_number_id", "user_wa_id", "created_at"),
)

# Status changes still to happen: a restart continues them.
meta_status_schedule = Table(
    "meta_status_schedule",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("wamid", String(WAMID_MAX_LENGTH), nullable=False),
    Column("status", String(16), nullable=False),  # sent | delivered | read | failed
    Column("due_at", Float, nullable=False),
    Column("error_code", Integer),
    Column("error_title", String(200)),
    Index("ix_meta_status_schedule_due", "due_at", "id"),
)

# When each WhatsApp user last wrote to each business number: the 24-hour customer service window.
meta_conversation_windows = Table(
    "meta_conversation_windows",
    metadata,
    Column("phone_number_id", String(32), primary_key=True),
    Column("user_wa_id", String(20), primary_key=True),
    Column("profile_name", String(200), nullable=False),
    Column("last_inbound_at", Float, nullable=False),
)

# Sandbox settings of a number; a number without a row has the defaults (meta/delivery.py).
meta_number_messaging = Table(
    "meta_number_messaging",
    metadata,
    Column("phone_number_id", String(32), primary_key=True),
    Column("throughput_mps", Integer, nullable=False),
    Column("sent_delay_ms", Integer, nullable=False),
    Column("delivered_delay_ms", Integer, nullable=False),
    Column("read_delay_ms", Integer, nullable=False),
    Column("stop_at", String(16)),  # None: up to read; "delivered" or "sent": the last status
    Column("pair_limit", Integer, nullable=False),
    Column("pair_window_seconds", Integer, nullable=False),
    Column("undeliverable_suffix", String(20), nullable=False),  # "" disables the built-in rule
    Column("updated_at", Float, nullable=False),
)

meta_failure_rules = Table(
    "meta_failure_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone_number_id", String(32), nullable=False, index=True),
    Column("recipient_suffix", String(20)),
    Column("recipient_pattern", String(200)),
    Column("error_code", Integer, nullable=False),
    Column("error_title", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
)

# `override_callback_uri` of a WABA's app subscription (POST /{waba_id}/subscribed_apps).
meta_webhook_overrides = Table(
    "meta_webhook_overrides",
    metadata,
    Column("waba_id", String(32), primary_key=True),
    Column("app_id", String(32), primary_key=True),
    Column("callback_url", String(URL_MAX_LENGTH), nullable=False),
    Column("created_at", Float, nullable=False),
)

# One row per (change, target) still to deliver. A target is a subscribed app's callback
# (`target_url` NULL: resolved when sent, by whichever server sends it) or a subscription's override
# URL. Rows sharing an ordering key (a message's wamid) and a target go out in id order: a later
# one waits while an earlier one is being sent or waiting for its retry.
meta_webhook_queue = Table(
    "meta_webhook_queue",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("waba_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("target_url", String(URL_MAX_LENGTH)),
    Column("field", String(64), nullable=False),
    Column("value", Text, nullable=False),  # JSON
    Column("ordering_key", String(WAMID_MAX_LENGTH)),
    Column("created_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(500)),
    Index("ix_meta_webhook_queue_due", "due_at", "id"),
    Index("ix_meta_webhook_queue_order", "ordering_key", "id"),
)



def _insert_generating_id(table: Table) -> Query:
    """An INSERT naming every column but the generated `id`."""
    return Query(insert(table).values({c.name: bindparam(c.name) for c in table.c if c.name != "id"}))


M, SCH, WIN, NUM, RULE = (meta_messages.c, meta_status_schedule.c, meta_conversation_windows.c,
                          meta_number_messaging.c, meta_failure_rules.c)
OVR, Q, P, SUB = meta_webhook_overrides.c, meta_webhook_queue.c, meta_phone_numbers.c, meta_webhook_subscriptions.c

# --- messages
INSERT_MESSAGE = Query(insert(meta_messages))
SELECT_MESSAGE = Query(select(meta_messages).where(M.wamid == bindparam("message_wamid")))
MARK_INBOUND_READ = Query(update(meta_messages).where(
    M.wamid == bindparam("message_wamid"), M.phone_number_id == bindparam("phone_id"),
    M.direction == "inbound").values(status="read", updated_at=bindparam("updated_at")))
# The messages of a scheduler step that reach one status (with one error code): one statement.
SET_STATUSES = InListQuery("UPDATE meta_messages SET status = :status, error_code = :error_code, "
                           "updated_at = :updated_at WHERE wamid {IN}")
COUNT_TO_USER_SINCE = Query(select(func.count()).select_from(meta_messages).where(
    M.phone_number_id == bindparam("phone_id"), M.user_wa_id == bindparam("user"),
    M.direction == "outbound", M.created_at > bindparam("since")))
CONVERSATION_USERS = Query(
    select(M.user_wa_id, func.max(M.created_at).label("last_at"))
    .where(M.phone_number_id == bindparam("phone_id"))
    .group_by(M.user_wa_id).order_by(func.max(M.created_at).desc()).limit(bindparam("limit")))
LAST_MESSAGES = Query(select(meta_messages).where(
    M.phone_number_id == bindparam("phone_id"), M.user_wa_id == bindparam("user"))
    .order_by(M.created_at.desc()).limit(bindparam("limit")))

# --- scheduled statuses
DUE_STATUSES = Query(
    select(SCH.id, SCH.wamid, SCH.status, SCH.due_at, SCH.error_code, SCH.error_title,
           M.phone_number_id, M.waba_id, M.user_wa_id, M.pricing_category, M.callback_data, M.created_at,
           P.display_phone_number)
    .select_from(meta_status_schedule.join(meta_messages, M.wamid == SCH.wamid)
                 .join(meta_phone_numbers, P.id == M.phone_number_id))
    .where(SCH.due_at <= bindparam("now")).order_by(SCH.due_at, SCH.id).limit(bindparam("limit")))
DELETE_SCHEDULED = InListQuery("DELETE FROM meta_status_schedule WHERE id {IN}", element="BIGINT")
FIRST_STATUS_DUE = Query(select(func.min(SCH.due_at)))

# --- windows
SELECT_WINDOW = Query(select(meta_conversation_windows).where(
    WIN.phone_number_id == bindparam("phone_id"), WIN.user_wa_id == bindparam("user")))
UPDATE_WINDOW = Query(update(meta_conversation_windows).where(
    WIN.phone_number_id == bindparam("phone_id"), WIN.user_wa_id == bindparam("user")).values(
    profile_name=bindparam("profile_name"), last_inbound_at=bindparam("last_inbound_at")))
INSERT_WINDOW = Query(insert(meta_conversation_windows))

# --- settings and rules
SELECT_SETTINGS = Query(select(meta_number_messaging).where(NUM.phone_number_id == bindparam("phone_id")))
DELETE_SETTINGS = Query(delete(meta_number_messaging).where(NUM.phone_number_id == bindparam("phone_id")))
INSERT_SETTINGS = Query(insert(meta_number_messaging))
SELECT_RULES = Query(select(meta_failure_rules).where(RULE.phone_number_id == bindparam("phone_id"))
                     .order_by(RULE.id))
INSERT_RULE = _insert_generating_id(meta_failure_rules)
DELETE_RULES = Query(delete(meta_failure_rules).where(RULE.phone_number_id == bindparam("phone_id")))

# --- webhook subscriptions' callbacks
SUBSCRIBED_APPS = Query(select(SUB.app_id, OVR.callback_url).select_from(
    meta_webhook_subscriptions.outerjoin(meta_webhook_overrides, and_(
        OVR.waba_id == SUB.waba_id, OVR.app_id == SUB.app_id)))
    .where(SUB.waba_id == bindparam("waba_id")).order_by(SUB.created_at))
DELETE_OVERRIDE = Query(delete(meta_webhook_overrides).where(
    OVR.waba_id == bindparam("waba_id"), OVR.app_id == bindparam("app_id")))
INSERT_OVERRIDE = Query(insert(meta_webhook_overrides))

# --- the webhook queue
_earlier = meta_webhook_queue.alias("earlier")
# Ready rows whose ordering key has no earlier row of the same target still waiting (for its retry,
# or being sent by any server).
READY_WEBHOOKS = Query(
    select(meta_webhook_queue).where(
        Q.due_at <= bindparam("now"),
        ~exists().where(_earlier.c.ordering_key == Q.ordering_key, _earlier.c.id < Q.id,
                        _earlier.c.app_id == Q.app_id, _earlier.c.target_url.is_not_distinct_from(Q.target_url),
                        _earlier.c.due_at > bindparam("now")))
    .order_by(Q.id).limit(bindparam("limit")))
# A step's rows in one statement each (cursor.run_in), not one per row.
LEASE_WEBHOOKS = InListQuery("UPDATE meta_webhook_queue SET due_at = :due_at, attempts = attempts + 1 WHERE id {IN}",
                             element="BIGINT")
DELETE_WEBHOOKS = InListQuery("DELETE FROM meta_webhook_queue WHERE id {IN}", element="BIGINT")
RETRY_WEBHOOK = Query(update(meta_webhook_queue).where(Q.id == bindparam("webhook_id")).values(
    due_at=bindparam("due_at"), last_error=bindparam("last_error")))
DELETE_WEBHOOK = Query(delete(meta_webhook_queue).where(Q.id == bindparam("webhook_id")))
DELETE_ALL_WEBHOOKS = Query(delete(meta_webhook_queue))
NEXT_WEBHOOK_DUE = Query(select(func.min(Q.due_at)).where(Q.due_at > bindparam("now")))
FLUSH_WEBHOOKS = Query(update(meta_webhook_queue).values(due_at=0.0))
LIST_WEBHOOKS = Query(select(meta_webhook_queue).order_by(Q.id).limit(bindparam("limit")))
COUNT_WEBHOOKS = Query(select(func.count()).select_from(meta_webhook_queue))


def subscription_targets(cursor: Cursor, waba_id: str) -> list[tuple[str, str | None]]:
    """(app id, override callback URL or None) of each app subscribed to the WABA."""
    return [(row[0], row[1]) for row in cursor.tuples(SUBSCRIBED_APPS, waba_id=waba_id)]


def set_override(cursor: Cursor, waba_id: str, app_id: str, callback_url: str | None, now: float) -> None:
    cursor.run(DELETE_OVERRIDE, waba_id=waba_id, app_id=app_id)
    if callback_url is not None:
        cursor.run(INSERT_OVERRIDE, waba_id=waba_id, app_id=app_id, callback_url=callback_url, created_at=now)


def touch_window(cursor: Cursor, phone_id: str, user: str, profile_name: str, now: float) -> None:
    """Opens or refreshes the user's customer service window with this number."""
    cursor.lock(f"meta-window:{phone_id}:{user}")
    if not cursor.run(UPDATE_WINDOW, phone_id=phone_id, user=user, profile_name=profile_name, last_inbound_at=now):
        cursor.run(INSERT_WINDOW, phone_number_id=phone_id, user_wa_id=user, profile_name=profile_name,
                   last_inbound_at=now)


def window_of(cursor: Cursor, phone_id: str, user: str) -> dict[str, Any] | None:
    return cursor.row(SELECT_WINDOW, phone_id=phone_id, user=user)


__all__ = ["meta_messages", "meta_status_schedule", "meta_conversation_windows", "meta_number_messaging",
           "meta_failure_rules", "meta_webhook_overrides", "meta_webhook_queue"]
