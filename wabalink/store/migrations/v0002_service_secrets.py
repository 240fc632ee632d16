"""Step 2: secrets generated per database at first use (the page-token key, the simulator's app
secret), so no secret is a constant in the code and replicas sharing a database agree."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, LargeBinary, MetaData, String, Table

VERSION = 2

metadata = MetaData()

service_secrets = Table(
    "service_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn)
