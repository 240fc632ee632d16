"""Step 5: the simulator's messaging: messages both ways, scheduled status changes, customer
service windows, per-number messaging settings and failure rules, webhook override callbacks and
the durable webhook queue."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, Index, Integer, MetaData, String, Table, Text

VERSION = 5

metadata = MetaData()

meta_messages = Table(
    "meta_messages",
    metadata,
    Column("wamid", String(128), primary_key=True),
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
    Column("wamid", String(128), nullable=False),
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
    Column("callback_url", String(2048), nullable=False),
    Column("created_at", Float, nullable=False),
)

# One row per (change, target URL) still to deliver. Rows sharing an ordering key (a message's
# wamid) go out in id order: a later one waits while an earlier one is waiting for its retry.
meta_webhook_queue = Table(
    "meta_webhook_queue",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("waba_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("target_url", String(2048)),  # None: the app's callback, resolved when sent
    Column("field", String(64), nullable=False),
    Column("value", Text, nullable=False),  # JSON
    Column("ordering_key", String(128)),
    Column("created_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(500)),
    Index("ix_meta_webhook_queue_due", "due_at", "id"),
    Index("ix_meta_webhook_queue_order", "ordering_key", "id"),
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn)
