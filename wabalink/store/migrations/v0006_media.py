"""Step 6: the simulator's media ids (their bytes live in the blob store, not in the database)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Connection, Float, Index, MetaData, String, Table

VERSION = 6


def upgrade(conn: Connection) -> None:
    metadata = MetaData()
    Table(
        "meta_media",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("phone_number_id", String(32), nullable=False),
        Column("mime_type", String(200), nullable=False),
        Column("sha256", String(64), nullable=False),
        Column("file_size", BigInteger, nullable=False),
        Column("filename", String(255)),
        Column("blob_key", String(64), nullable=False),
        Column("origin", String(10), nullable=False),
        Column("created_at", Float, nullable=False),
        Column("expires_at", Float, nullable=False),
        Column("deleted", Boolean, nullable=False, default=False),
        Index("ix_meta_media_phone", "phone_number_id"),
        Index("ix_meta_media_expires", "deleted", "expires_at"),
    )
    metadata.create_all(conn)
