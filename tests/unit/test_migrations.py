"""Migration steps are frozen and add up: a database built at any earlier step and upgraded ends
exactly like a fresh one, and that is exactly what `store/schema.py` describes. On SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from tests.support.postgres import drop_postgres_schema, fresh_postgres_url, require_postgres
from wabalink.store import migrations, schema
from wabalink.store.db import Store, latest_version

STEPS = [step.version for step in migrations.steps()]


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    opened: list[tuple[Store, str]] = []

    def make() -> Store:
        if request.param == "postgresql":
            require_postgres()
            url = fresh_postgres_url()
        else:
            url = f"sqlite:///{tmp_path / f'db{len(opened)}.db'}"
        store = Store(url)
        opened.append((store, url))
        return store

    yield make
    for store, url in opened:
        store.dispose()
        if url.startswith("postgresql"):
            drop_postgres_schema(url)


def describe(store: Store) -> dict[str, Any]:
    """Tables, columns (type, nullability), keys, indexes and constraints, as the database has them."""
    with store.engine.connect() as conn:
        inspector = inspect(conn)
        described: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            if table == "schema_version":
                continue
            described[table] = {
                "columns": {column["name"]: (str(column["type"]), column["nullable"])
                            for column in inspector.get_columns(table)},
                "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted((index["name"], tuple(index["column_names"]), bool(index["unique"]))
                                  for index in inspector.get_indexes(table)),
                "unique": sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)),
                "foreign_keys": sorted((tuple(fk["constrained_columns"]), fk["referred_table"],
                                        tuple(fk["referred_columns"])) for fk in inspector.get_foreign_keys(table)),
            }
        return described


def test_steps_are_numbered_one_to_n() -> None:
    assert STEPS == list(range(1, len(STEPS) + 1))
    assert latest_version() == STEPS[-1]


@pytest.mark.parametrize("start", STEPS[:-1] or [1])
def test_upgrading_from_every_earlier_step_equals_a_fresh_database(new_store: Callable[[], Store], start: int) -> None:
    upgraded = new_store()
    assert upgraded.migrate(target=start) == start
    with upgraded.transaction() as conn:  # a row written at that step survives the upgrade
        conn.execute(text("INSERT INTO meta_businesses (id, name, created_at) VALUES ('42', 'Kept', 1.0)"))
    assert upgraded.migrate() == latest_version()
    fresh = new_store()
    fresh.migrate()
    assert describe(upgraded) == describe(fresh)
    with upgraded.engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM meta_businesses WHERE id = '42'")).scalar() == "Kept"


def test_the_latest_step_is_what_schema_py_describes(new_store: Callable[[], Store]) -> None:
    migrated = new_store()
    migrated.migrate()
    declared = new_store()
    with declared.transaction() as conn:
        schema.complete_metadata().create_all(conn)
    assert describe(migrated) == describe(declared)


def test_step_one_is_frozen_whatever_schema_py_says_today(new_store: Callable[[], Store]) -> None:
    """Step 1 as released: the columns added by later steps are not there."""
    store = new_store()
    store.migrate(target=1)
    linked_wabas = describe(store)["linked_wabas"]["columns"]
    assert "pending_until" not in linked_wabas
    assert "service_secrets" not in describe(store)
