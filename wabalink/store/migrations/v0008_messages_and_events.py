"""Step 8: messages sent through SendWhatsAppMessage (the hand-over outbox) and the event log/outbox
of every event bound for a WABA's event destination."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, Index, Integer, MetaData, String, Table, Text

VERSION = 8

metadata = MetaData()

sent_messages = Table(
    "sent_messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("waba_link_id", String(32), nullable=False),
    Column("phone_link_id", String(32), nullable=False),
    Column("meta_phone_number_id", String(100), nullable=False),
    Column("meta_api_version", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_until", Float, nullable=False),
    Column("wamid", String(200)),
    Column("created_at", Float, nullable=False),
    Column("handed_over_at", Float),
    Index("ix_sent_messages_wamid", "wamid"),
    Index("ix_sent_messages_outbox", "state", "claimed_until"),
)

events = Table(
    "events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("waba_link_id", String(32), nullable=False),
    Column("phone_link_id", String(32)),
    Column("message_id", String(36), nullable=False),
    Column("wamid", String(200)),
    Column("kind", String(64), nullable=False),
    Column("envelope", Text, nullable=False),
    Column("destinations", Text, nullable=False),
    Column("dedupe_key", String(100), unique=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    Index("ix_events_due", "state", "next_attempt_at"),
    Index("ix_events_message", "message_id", "seq"),
    Index("ix_events_owner", "account_id", "waba_link_id", "seq"),
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn)
