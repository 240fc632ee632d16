"""The store on SQLite and PostgreSQL: versioned migrations, all-or-nothing writers, the lean query path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, func, select
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


def test_insert_rows_stays_within_an_old_sqlite_parameter_limit(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite before 3.32 binds at most 999 parameters a statement: the chunks shrink to fit."""
    from wabalink.store import cursor as cursor_module
    from wabalink.store.events import events

    monkeypatch.setattr(cursor_module, "SQLITE_MAX_PARAMETERS", 999)
    with migrated_store("sqlite", tmp_path) as store:
        with store.writer() as cursor:
            cursor.execute_sql("SELECT 1")  # a connection of this thread, to watch its statements
        def value(column: Any, index: int) -> object:
            python_type = column.type.python_type
            return python_type(1) if python_type in (int, float) else f"{column.name}-{index}"  # ids unique

        rows = [{column.name: value(column, index) for column in events.columns if column.name != "seq"}
                for index in range(120)]
        statements: list[str] = []
        with store.writer() as cursor:
            cursor._cursor.connection.set_trace_callback(statements.append)
            cursor.insert_rows(events, rows)
            cursor._cursor.connection.set_trace_callback(None)
        width = len(rows[0])
        assert len([sql for sql in statements if sql.startswith("INSERT")]) == -(-120 // (999 // width))
        with store.reader() as cursor:
            assert cursor.scalar(Query(select(func.count()).select_from(events))) == 120


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


def _pooled(store: Store) -> list[object]:
    return list(store.engine.pool._pool.queue)  # type: ignore[attr-defined]


def _terminate_pooled_backends(store: Store) -> int:
    """Ends, from outside, the server processes of the store's pooled connections (as a PostgreSQL
    restart would); how many."""
    import psycopg

    from tests.support.postgres import POSTGRES_URL

    pids = {record.dbapi_connection.info.backend_pid for record in _pooled(store)}  # type: ignore[attr-defined]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return len(pids)


def _age_pool(store: Store, seconds: float) -> None:
    for record in _pooled(store):
        record.info["last_used"] -= seconds  # type: ignore[attr-defined]


def _read(store: Store) -> None:
    with store.reader() as cursor:
        assert cursor.scalar(Query(select(linked_wabas.c.id).limit(1))) is None


def _open_connections(store: Store, count: int) -> None:
    """`count` connections in the pool (as many readers at once)."""
    readers = [store.reader() for _ in range(count)]
    for reader in readers:
        reader.__enter__()
    for reader in readers:
        reader.__exit__(None, None, None)


def test_postgres_connections_in_use_are_not_pinged_and_idle_ones_are(
        postgres_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ping per checkout (it was a round trip per transaction, several per message): only a
    connection idle past POSTGRES_PING_IDLE_SECONDS is pinged before use."""
    from wabalink.store import db

    dialect = postgres_store.engine.dialect
    pings: list[object] = []
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda connection: pings.append(connection) or real_ping(connection))
    for _ in range(5):
        _read(postgres_store)
    assert pings == []
    _age_pool(postgres_store, db.POSTGRES_PING_IDLE_SECONDS + 1)
    _read(postgres_store)
    assert len(pings) == 1


def test_an_idle_postgres_connection_the_server_closed_is_replaced_unseen(postgres_store: Store) -> None:
    from wabalink.store import db

    _open_connections(postgres_store, 3)
    assert _terminate_pooled_backends(postgres_store) == 3
    _age_pool(postgres_store, db.POSTGRES_PING_IDLE_SECONDS + 1)
    _read(postgres_store)
    assert postgres_store.integrity_check() == "ok"  # the SQLAlchemy connection path is pinged too
    for _ in range(4):
        _read(postgres_store)


def test_after_a_postgres_restart_in_use_one_transaction_fails_not_one_per_pooled_connection(
        postgres_store: Store) -> None:
    """Connections used a moment ago are not pinged, so the first transaction after a restart
    fails; it renews the whole pool, and the next ones work."""
    _open_connections(postgres_store, 4)
    assert _terminate_pooled_backends(postgres_store) == 4
    failures = 0
    for _ in range(8):
        try:
            _read(postgres_store)
        except Exception:  # noqa: BLE001 - psycopg's OperationalError, whichever its wording
            failures += 1
    assert failures == 1
