"""Step 7: the simulator's message templates (content lives on Meta's side only) and its
resumable-upload sessions for template header media."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
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

VERSION = 7

metadata = MetaData()

# Referenced by the foreign key only; never created here.
Table("meta_wabas", metadata, Column("id", String(32), primary_key=True))

meta_message_templates = Table(
    "meta_message_templates",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("waba_id", String(32), ForeignKey("meta_wabas.id"), nullable=False),
    Column("name", String(512), nullable=False),
    Column("language", String(15), nullable=False),
    Column("category", String(20), nullable=False),
    Column("previous_category", String(20)),
    Column("status", String(20), nullable=False),
    Column("reason", String(200)),
    Column("parameter_format", String(15), nullable=False),
    Column("components", Text, nullable=False),
    Column("library_template_name", String(512)),
    Column("cta_url_link_tracking_opted_out", Boolean, nullable=False, default=False),
    Column("review_due_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("waba_id", "name", "language", name="uq_meta_templates_name_language"),
    Index("ix_meta_templates_review_due", "review_due_at"),
)

meta_template_uploads = Table(
    "meta_template_uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(32), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_length", Integer, nullable=False),
    Column("file_type", String(100), nullable=False),
    Column("received", Integer, nullable=False, default=0),
    Column("sha256", String(64)),
    Column("handle", String(300), unique=True),
    Column("created_at", Float, nullable=False),
)


def upgrade(conn: Connection) -> None:
    meta_message_templates.create(conn)
    meta_template_uploads.create(conn)
