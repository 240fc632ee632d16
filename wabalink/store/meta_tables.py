"""Simulator-only tables not (yet) in `schema.py`: the simulator's own app credentials and its
fault injection (which gained a time window, `fail_until`). They have their own MetaData and are
created by `create_meta_tables` (idempotent) when a simulator starts; a migration step may create
them instead, with the same definitions.

The older single-row `meta_faults` table (schema.py) is superseded by `meta_fault_injection`.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, text

from wabalink.store.db import Store

meta_tables_metadata = MetaData()

# A single row (id=1): the simulator's Meta app, generated at the database's first start. The app
# token ("{app_id}|{app_secret}") authenticates the service; the secret must be readable to build it.
meta_simulator_app = Table(
    "meta_simulator_app",
    meta_tables_metadata,
    Column("id", Integer, primary_key=True),
    Column("app_id", String(32), nullable=False),
    Column("app_secret", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

# A single row (id=1): faults the sandbox injected into the Graph API.
meta_fault_injection = Table(
    "meta_fault_injection",
    meta_tables_metadata,
    Column("id", Integer, primary_key=True),
    Column("fail_next_calls", Integer, nullable=False, default=0),
    Column("fail_status", Integer, nullable=False, default=500),
    Column("fail_path_contains", String(200)),  # only calls whose path contains this fail
    Column("latency_ms", Integer, nullable=False, default=0),
    Column("fail_until", Float),  # epoch seconds: every matching call fails until then
)

# PostgreSQL: replicas starting together must not race on CREATE TABLE.
_CREATE_LOCK_KEY = 7254032


def create_meta_tables(store: Store) -> None:
    with store.transaction() as conn:
        if not store.is_sqlite:
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_CREATE_LOCK_KEY})"))
        meta_tables_metadata.create_all(conn, checkfirst=True)


__all__ = ["meta_tables_metadata", "meta_simulator_app", "meta_fault_injection", "create_meta_tables"]
