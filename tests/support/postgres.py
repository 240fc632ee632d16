"""The test PostgreSQL database: a fresh schema per test, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from wabalink.store.db import Store

POSTGRES_URL = os.environ.get("WABALINK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("WABALINK_REQUIRE_POSTGRES") == "1"


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers; otherwise why not."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as error:  # noqa: BLE001 - any failure means "not usable here"
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {error}"


def fresh_postgres_url() -> str:
    """A URL whose connections use a new, empty schema of the test database."""
    import psycopg

    schema = "wl_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


def drop_postgres_schema(url: str) -> None:
    import psycopg

    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def require_postgres() -> None:
    reason = postgres_reachable()
    if reason is None:
        return
    if REQUIRE_POSTGRES:
        pytest.fail(reason + " (WABALINK_REQUIRE_POSTGRES=1: CI must run the PostgreSQL tests)")
    pytest.skip(reason)


@contextmanager
def migrated_store(kind: str, folder: Path) -> Iterator[Store]:
    """A migrated store: "sqlite" a file in `folder`, "postgresql" a fresh schema dropped afterwards
    (skipped, or failed under WABALINK_REQUIRE_POSTGRES=1, when PostgreSQL is unreachable)."""
    if kind == "postgresql":
        require_postgres()
        url = fresh_postgres_url()
    else:
        url = f"sqlite:///{folder / 'store.db'}"
    opened = Store(url)
    opened.migrate()
    try:
        yield opened
    finally:
        opened.dispose()
        if kind == "postgresql":
            drop_postgres_schema(url)
