"""The store's group commit: many threads' writes share a transaction on SQLite, yet each caller
gets its own result or its own exception, and a failing write takes nothing else with it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from wabalink.store.db import Cursor, Store, open_store

CREATE = "CREATE TABLE IF NOT EXISTS group_probe (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'group.db'}")
    with opened.writer() as cursor:
        cursor.execute_sql(CREATE)
    yield opened
    opened.dispose()


def insert(name: str, value: int, fail: bool = False):  # type: ignore[no-untyped-def]
    def work(cursor: Cursor) -> str:
        cursor.execute_sql(f"INSERT INTO group_probe VALUES ('{name}', {value})")
        if fail:
            raise ValueError(f"{name} refused")
        return name
    return work


def names(store: Store) -> set[str]:
    with store.writer() as cursor:
        cursor.execute_sql("SELECT name FROM group_probe")
        return {row[0] for row in cursor._cursor.fetchall()}


def test_concurrent_writes_each_get_their_result_and_a_failure_rolls_back_alone(store: Store) -> None:
    results: dict[int, object] = {}

    def writer(index: int) -> None:
        try:
            results[index] = store.write_grouped(insert(f"n{index}", index, fail=index % 7 == 0))
        except ValueError as error:
            results[index] = error

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(isinstance(results[i], ValueError) for i in range(60) if i % 7 == 0)
    assert {results[i] for i in range(60) if i % 7} == {f"n{i}" for i in range(60) if i % 7}
    # The failing works' inserts were rolled back to their savepoints; the others' are committed.
    assert names(store) == {f"n{i}" for i in range(60) if i % 7}


def test_a_constraint_violation_is_sqlalchemys_integrity_error_as_from_writer(store: Store) -> None:
    store.write_grouped(insert("same", 1))
    with pytest.raises(IntegrityError):
        store.write_grouped(insert("same", 2))
    assert names(store) == {"same"}


def test_inside_a_writer_it_refuses_instead_of_waiting_for_itself(store: Store) -> None:
    with store.writer(), pytest.raises(RuntimeError, match="inside writer"):
        store.write_grouped(insert("nested", 1))


def test_after_dispose_writes_still_commit_in_the_callers_thread(tmp_path: Path) -> None:
    opened = open_store(f"sqlite:///{tmp_path / 'late.db'}")
    opened.write_grouped(lambda cursor: None)  # starts the committer
    opened.group_commit.stop()
    with opened.writer() as cursor:
        cursor.execute_sql(CREATE)
    assert opened.write_grouped(insert("late", 1)) == "late"
    assert names(opened) == {"late"}
    opened.dispose()
