"""Step 4: the simulator's app credentials, generated per database (no secret in the code), and
fault injection with a time window; the single-row `meta_faults` of step 1 is replaced."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, Integer, MetaData, String, Table, text

VERSION = 4

metadata = MetaData()

meta_simulator_app = Table(
    "meta_simulator_app",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("app_id", String(32), nullable=False),
    Column("app_secret", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

meta_fault_injection = Table(
    "meta_fault_injection",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fail_next_calls", Integer, nullable=False, default=0),
    Column("fail_status", Integer, nullable=False, default=500),
    Column("fail_path_contains", String(200)),
    Column("latency_ms", Integer, nullable=False, default=0),
    Column("fail_until", Float),
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn)
    conn.execute(text("DROP TABLE meta_faults"))
