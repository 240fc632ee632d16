"""Step 9: WhatsApp Flows, Conversions API datasets and events, business public keys and calling on
the simulator's side; the service's fingerprint of the business public key it last put."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

VERSION = 9

metadata = MetaData()

# Referenced only (created by step 1).
_linked_phone_numbers = Table("linked_phone_numbers", metadata, Column("id", String(32), primary_key=True))

meta_flows = Table(
    "meta_flows",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("waba_id", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("categories", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("flow_json", Text),
    Column("json_version", String(10)),
    Column("data_api_version", String(10)),
    Column("endpoint_uri", String(2048)),
    Column("validation_errors", Text, nullable=False),
    Column("app_id", String(100), nullable=False),
    Column("preview_token", String(64)),
    Column("preview_expires_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("waba_id", "name", name="uq_meta_flows_name"),
    Index("ix_meta_flows_waba", "waba_id", "id"),
    Index("ix_meta_flows_preview", "preview_token"),
)

meta_datasets = Table(
    "meta_datasets",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("waba_id", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
)

meta_conversion_events = Table(
    "meta_conversion_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", String(20), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("event_name", String(64), nullable=False),
    Column("event_time", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Index("ix_meta_conversion_events_dataset", "dataset_id", "id"),
)

meta_business_public_keys = Table(
    "meta_business_public_keys",
    metadata,
    Column("phone_id", String(32), primary_key=True),
    Column("public_key", Text, nullable=False),
    Column("signature", String(64), nullable=False),
    Column("updated_at", Float, nullable=False),
)

meta_call_permissions = Table(
    "meta_call_permissions",
    metadata,
    Column("phone_id", String(32), primary_key=True),
    Column("user_id", String(100), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("expires_at", Float),
    Column("updated_at", Float, nullable=False),
)

meta_calls = Table(
    "meta_calls",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("phone_id", String(32), nullable=False),
    Column("user_id", String(100), nullable=False),
    Column("direction", String(24), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_meta_calls_user", "phone_id", "user_id", "status"),
)

business_public_keys = Table(
    "business_public_keys",
    metadata,
    Column("phone_link_id", String(32), ForeignKey("linked_phone_numbers.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key_sha256", String(64), nullable=False),
    Column("kms_key_arn", String(256)),
    Column("put_at", Float, nullable=False),
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn, tables=[meta_flows, meta_datasets, meta_conversion_events, meta_business_public_keys,
                                      meta_call_permissions, meta_calls, business_public_keys])
