"""The simulator's own app credentials and its fault injection (with a time window, `fail_until`),
created by migration step 4."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table

from wabalink.store.schema import metadata

# A single row (id=1): the simulator's Meta app, generated at the database's first start. The app
# token ("{app_id}|{app_secret}") authenticates the service; the secret must be readable to build it.
meta_simulator_app = Table(
    "meta_simulator_app",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("app_id", String(32), nullable=False),
    Column("app_secret", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

# A single row (id=1): faults the sandbox injected into the Graph API.
meta_fault_injection = Table(
    "meta_fault_injection",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fail_next_calls", Integer, nullable=False, default=0),
    Column("fail_status", Integer, nullable=False, default=500),
    Column("fail_path_contains", String(200)),  # only calls whose path contains this fail
    Column("latency_ms", Integer, nullable=False, default=0),
    Column("fail_until", Float),  # epoch seconds: every matching call fails until then
)

__all__ = ["meta_simulator_app", "meta_fault_injection"]
