"""The store on SQLite and PostgreSQL: versioned migrations, all-or-nothing writers, the lean query path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from tests.support.postgres import migrated_store
from wabalink.store import links
from wabalink.store.db import LATEST_VERSION, Query, Store
from wabalink.store.schema import linked_wabas, schema_version


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request.param, tmp_path) as opened:
        yield opened


def waba_row(hex_id: str, meta_waba_id: str = "1001") -> dict[str, object]:
    return {"id": hex_id, "account_id": "123456789012", "region": "us-east-1", "meta_waba_id": meta_waba_id,
            "waba_name": "Store test", "registration_status": "INCOMPLETE", "link_date": 1.0,
            "event_destinations": "[]", "created_at": 1.0}


def test_migrations_are_versioned_and_run_once(store: Store) -> None:
    assert store.migrate() == LATEST_VERSION
    with store.engine.connect() as conn:
        versions = conn.execute(select(schema_version.c.version)).scalars().all()
    assert versions == list(range(1, LATEST_VERSION + 1))
    assert store.integrity_check() == "ok"


def test_a_failing_writer_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.writer() as cursor:
            links.insert_waba(cursor, waba_row("a" * 32))
            raise RuntimeError("crash between two writes")
    with store.reader() as cursor:
        assert links.get_waba(cursor, "123456789012", "us-east-1", "a" * 32) is None


def test_constraint_violations_are_sqlalchemy_integrity_errors(store: Store) -> None:
    with store.writer() as cursor:
        links.insert_waba(cursor, waba_row("a" * 32))
    with pytest.raises(IntegrityError):
        with store.writer() as cursor:
            links.insert_waba(cursor, waba_row("b" * 32))  # same Meta WABA in the same account and region
    with store.reader() as cursor:
        assert links.count_wabas(cursor, "123456789012", "us-east-1") == 1


def test_literals_in_statements_are_bound(store: Store) -> None:
    incomplete = Query(select(linked_wabas.c.id).where(
        linked_wabas.c.registration_status == "INCOMPLETE", linked_wabas.c.id == bindparam("id")))
    with store.writer() as cursor:
        links.insert_waba(cursor, waba_row("c" * 32))
    with store.reader(snapshot=False) as cursor:
        assert cursor.rows(incomplete, id="c" * 32) == [{"id": "c" * 32}]


def test_lock_serializes_writers_of_one_key(store: Store) -> None:
    # Two writers that count then insert under the same lock never both see "none yet".
    inserted: list[bool] = []
    start = threading.Barrier(2)

    def count_then_insert(hex_id: str, meta_id: str) -> None:
        start.wait()
        with store.writer() as cursor:
            cursor.lock("quota:123456789012:us-east-1")
            if links.count_wabas(cursor, "123456789012", "us-east-1") == 0:
                links.insert_waba(cursor, waba_row(hex_id, meta_id))
                inserted.append(True)

    threads = [threading.Thread(target=count_then_insert, args=(hex_id, meta_id))
               for hex_id, meta_id in (("d" * 32, "2001"), ("e" * 32, "2002"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert inserted == [True]


def test_insert_rows_keeps_list_order_and_types(store: Store) -> None:
    """Many rows in one multi-row INSERT (chunked past INSERT_ROWS_PER_STATEMENT): generated keys
    follow the list's order, and floats, None and non-ASCII text come back as given."""
    from wabalink.store import cursor as cursor_module
    from wabalink.store.meta_messages import meta_status_schedule

    count = cursor_module.INSERT_ROWS_PER_STATEMENT + 7
    rows = [{"wamid": f"wamid.{index}", "status": "sent", "due_at": 1700000000.125 + index,
             "error_code": None if index % 2 else 131026, "error_title": "ünïcode ✓" if index == 3 else None}
            for index in range(count)]
    with store.writer() as cursor:
        cursor.insert_rows(meta_status_schedule, rows)
    with store.reader() as cursor:
        stored = cursor.rows(Query(select(meta_status_schedule).order_by(meta_status_schedule.c.id)))
    assert [row["wamid"] for row in stored] == [row["wamid"] for row in rows]
    assert [{key: row[key] for key in rows[0]} for row in stored] == rows


def test_insert_rows_refuses_rows_that_name_other_columns(store: Store) -> None:
    from wabalink.store.meta_messages import meta_status_schedule

    good = {"wamid": "w1", "status": "sent", "due_at": 1.0, "error_code": None, "error_title": None}
    with store.writer() as cursor:
        with pytest.raises(ValueError, match="no column 'nope'"):
            cursor.insert_rows(meta_status_schedule, [{**good, "nope": 1}])
        with pytest.raises(ValueError, match="same columns"):
            cursor.insert_rows(meta_status_schedule, [good, {**good, "extra": 1}])
        with pytest.raises(ValueError, match="same columns"):
            cursor.insert_rows(meta_status_schedule, [good, {k: v for k, v in good.items() if k != "status"}])
        cursor.insert_rows(meta_status_schedule, [])  # nothing to insert: no statement


def test_run_in_changes_exactly_the_listed_rows(store: Store) -> None:
    """An UPDATE and a DELETE over a list of integer keys, one statement each; an empty list
    changes nothing."""
    from wabalink.store.db import InListQuery
    from wabalink.store.meta_messages import meta_status_schedule

    rows = [{"wamid": f"w{index}", "status": "sent", "due_at": float(index), "error_code": None,
             "error_title": None} for index in range(6)]
    with store.writer() as cursor:
        cursor.insert_rows(meta_status_schedule, rows)
    with store.reader() as cursor:
        ids = [row[0] for row in cursor.tuples(Query(select(meta_status_schedule.c.id)
                                                     .order_by(meta_status_schedule.c.id)))]
    set_due = InListQuery("UPDATE meta_status_schedule SET due_at = :due WHERE id {IN}", element="BIGINT")
    remove = InListQuery("DELETE FROM meta_status_schedule WHERE id {IN}", element="BIGINT")
    with store.writer() as cursor:
        assert cursor.run_in(set_due, ids[:2], due=99.5) == 2
        assert cursor.run_in(remove, ids[4:]) == 2
        assert cursor.run_in(remove, []) == 0
    with store.reader() as cursor:
        left = cursor.tuples(Query(select(meta_status_schedule.c.id, meta_status_schedule.c.due_at)
                                   .order_by(meta_status_schedule.c.id)))
    assert [tuple(row) for row in left] == [(ids[0], 99.5), (ids[1], 99.5), (ids[2], 2.0), (ids[3], 3.0)]


@pytest.fixture
def postgres_store(tmp_path: Path) -> Iterator[Store]:
    with migrated_store("postgresql", tmp_path) as opened:
        yield opened


def _terminate_backends_of(store: Store) -> int:
    """Ends, from outside, the server processes of the store's pooled connections (as a PostgreSQL
    restart would); how many."""
    import psycopg

    from tests.support.postgres import POSTGRES_URL

    pids = _backend_pids(store)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return len(pids)


def _backend_pids(store: Store) -> set[int]:
    pool = store.engine.pool
    return {record.dbapi_connection.info.backend_pid  # type: ignore[attr-defined]
            for record in list(pool._pool.queue)}  # type: ignore[attr-defined]


def test_a_pooled_postgres_connection_that_sat_idle_is_pinged_and_replaced_when_gone(postgres_store: Store) -> None:
    """No ping per checkout (a round trip per transaction under load): a connection idle past
    POSTGRES_PING_IDLE_SECONDS is pinged, and one the server closed meanwhile is replaced."""
    from wabalink.store import db

    with postgres_store.reader() as cursor:
        assert cursor.scalar(Query(select(linked_wabas.c.id).limit(1))) is None
    assert _terminate_backends_of(postgres_store) >= 1
    for record in list(postgres_store.engine.pool._pool.queue):  # type: ignore[attr-defined]
        record.info["last_used"] -= db.POSTGRES_PING_IDLE_SECONDS + 1  # as if idle since
    with postgres_store.reader() as cursor:
        assert cursor.scalar(Query(select(linked_wabas.c.id).limit(1))) is None


def test_a_postgres_connection_lost_in_use_fails_once_and_is_not_pooled_again(postgres_store: Store) -> None:
    with postgres_store.reader() as cursor:
        cursor.scalar(Query(select(linked_wabas.c.id).limit(1)))
    assert _terminate_backends_of(postgres_store) >= 1  # used a moment ago: no ping before the next use
    with pytest.raises(Exception):  # noqa: B017 - psycopg's OperationalError, whichever its wording
        with postgres_store.reader() as cursor:
            cursor.scalar(Query(select(linked_wabas.c.id).limit(1)))
    with postgres_store.reader() as cursor:  # the lost connection was discarded, not reused
        assert cursor.scalar(Query(select(linked_wabas.c.id).limit(1))) is None
