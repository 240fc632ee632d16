"""The store: one SQLAlchemy engine (SQLite file by default, PostgreSQL by URL), versioned
migrations, and transactions.

Every change that touches several rows runs inside one `store.writer()`, so a crash or a kill at any
moment leaves the whole change or none of it. On SQLite, write transactions start with
`BEGIN IMMEDIATE`: two writers then queue instead of failing when both try to upgrade a read lock.
Writers of one process queue on an in-process lock (per database file) before SQLite's: SQLite's
busy handler sleeps in growing steps (up to 100 ms) instead of waking the next writer when the lock
is free, which under load turns a 1 ms transaction into a wait of hundreds of milliseconds. Other
processes on the same file (the CLI) still meet SQLite's busy timeout.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, InvalidatePoolError

from wabalink.store import migrations, schema
from wabalink.store.cursor import Cursor, InListQuery, Query
from wabalink.store.group_commit import GroupCommit

DEFAULT_STATE_DIR = ".wabalink"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Page cache per SQLite connection. Each server thread keeps its own connection (dozens of them), and
# at SQLite's default of 2 MB each the caches alone could reach 100 MB; a miss is a read from the OS's
# page cache. 512 KiB took 11 MB off the messaging benchmark's peak RSS at no measurable cost.
SQLITE_CACHE_KIB = 512
POSTGRES_MAX_OVERFLOW = 32
# A pooled PostgreSQL connection idle longer than this is pinged before use (a server restart or an
# idle timeout may have closed it). A busy server reuses its connections within milliseconds, and a
# ping on every checkout was a round trip per transaction, several per message.
POSTGRES_PING_IDLE_SECONDS = 1.0
T = TypeVar("T")

# One writer lock per SQLite file in this process (several Store objects may open the same file).
_sqlite_writer_locks: dict[str, threading.RLock] = {}
_sqlite_writer_locks_guard = threading.Lock()


def _sqlite_writer_lock(path: str) -> threading.RLock:
    key = os.path.realpath(path)
    with _sqlite_writer_locks_guard:
        found = _sqlite_writer_locks.get(key)
        if found is None:
            found = _sqlite_writer_locks[key] = threading.RLock()
        return found


def default_database_url(state_dir: str | os.PathLike[str] | None = None) -> str:
    folder = Path(state_dir or os.environ.get("WABALINK_STATE_DIR", DEFAULT_STATE_DIR))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'wabalink.db'}"


SUPPORTED_URLS = "sqlite:///path.db or postgresql://user@host:5432/db"
_SUPPORTED_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    return re.sub(r"^([^:/]+://[^:/@]*):[^@/]*@", r"\1:***@", url)


def unreachable_database_message(url: str, error: BaseException) -> str:
    """One line saying which database could not be opened and why, without the URL's password."""
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()
    # psycopg: 'connection failed: connection to server at "h", port 5999 failed: Connection refused'
    reason = re.sub(r"^.*failed: (FATAL:\s+)?", "", detail[0] if detail else "") or type(error).__name__
    if url.startswith("sqlite"):
        return f"cannot open the SQLite database {masked_url(url)} ({reason})"
    try:
        parsed = make_url(_sqlalchemy_url(url))
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    except ArgumentError:
        where = masked_url(url)
    return f"cannot connect to PostgreSQL at {where} ({reason}); is it running, and is the URL right?"


def _sqlalchemy_url(url: str) -> str:
    # Users write plain postgresql:// URLs; psycopg 3 is the driver we ship.
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in _SUPPORTED_SCHEMES:  # another driver would fail later with a traceback
        raise ValueError(f"unsupported database URL {masked_url(url)}; use {SUPPORTED_URLS}")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class _Reader:
    """The context manager `Store.reader()` returns: a class, not a generator, since it runs on
    every read request."""

    __slots__ = ("_store", "_snapshot", "_connection", "_pooled")

    def __init__(self, store: Store, snapshot: bool) -> None:
        self._store, self._snapshot = store, snapshot

    def __enter__(self) -> Cursor:
        self._connection, self._pooled = self._store._checkout()
        if self._snapshot and self._store.is_sqlite:
            self._connection.execute("BEGIN")
        return Cursor(self._connection, self._store.engine.dialect)

    def __exit__(self, *exc_info: object) -> None:
        try:
            # SQLite: end the snapshot; PostgreSQL: the driver opened a transaction implicitly.
            if self._snapshot or not self._store.is_sqlite:
                self._connection.rollback()
        finally:
            self._store._release(self._connection, self._pooled)


class _Writer:
    """The context manager `Store.writer()` returns: a class, not a generator, since it runs several
    times per message."""

    __slots__ = ("_store", "_queued", "_outermost", "_connection", "_pooled")

    def __init__(self, store: Store) -> None:
        self._store = store

    def __enter__(self) -> Cursor:
        store = self._store
        # Queue in-process first (SQLite); after the busy timeout, fall back to SQLite's own wait
        # rather than block for ever on a writer of this process that waits for something else.
        lock = store._writer_lock
        self._queued = lock is not None and lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        self._outermost = not getattr(store._thread_connections, "in_writer", False)
        store._thread_connections.in_writer = True
        try:
            self._connection, self._pooled = store._checkout()
            try:
                cursor = Cursor(self._connection, store.engine.dialect)
                if store.is_sqlite:
                    self._connection.execute("BEGIN IMMEDIATE")
            except BaseException:
                store._release(self._connection, self._pooled)
                raise
        except BaseException:
            self._leave()
            raise
        return cursor

    def __exit__(self, exc_type: type[BaseException] | None, error: BaseException | None, _tb: object) -> None:
        store, connection = self._store, self._connection
        try:
            if error is None:
                connection.commit()
            else:
                connection.rollback()
                if isinstance(error, store.engine.dialect.loaded_dbapi.IntegrityError):
                    raise IntegrityError(None, None, error) from error
        finally:
            try:
                store._release(connection, self._pooled)
            finally:
                self._leave()

    def _leave(self) -> None:
        if self._outermost:
            self._store._thread_connections.in_writer = False
        if self._queued:
            self._store._writer_lock.release()  # type: ignore[union-attr]


class Store:
    """Owns the engine. `writer()` / `reader()` give the lean `Cursor` every query runs on;
    `transaction()` gives a SQLAlchemy connection, for the migrations."""

    def __init__(self, url: str, *, pool_size: int = 16) -> None:
        self.url = url
        sa_url = _sqlalchemy_url(url)
        self.is_sqlite = sa_url.startswith("sqlite")
        self._sqlite_file: str | None = None
        self._thread_connections = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        if self.is_sqlite:
            if sa_url in ("sqlite://", "sqlite:///:memory:"):
                # Each connection would get its own empty database; the service and the simulator
                # share one store across threads.
                raise ValueError("wabalink needs an SQLite file (sqlite:///path.db), not an in-memory database")
            self.engine: Engine = create_engine(
                sa_url, pool_size=pool_size, max_overflow=pool_size,
                connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            )
            _configure_sqlite(self.engine)
            self._sqlite_file = self.engine.url.database
            self._writer_lock: threading.RLock | None = _sqlite_writer_lock(self._sqlite_file or "")
        else:
            # Up to one connection per server worker thread (see server/app.py), no more.
            self.engine = create_engine(sa_url, pool_size=pool_size, max_overflow=POSTGRES_MAX_OVERFLOW)
            self._connection_lost = False  # a transaction lost its connection: renew the pool's
            event.listen(self.engine, "connect", _mark_used)
            event.listen(self.engine, "checkin", _mark_used)
            event.listen(self.engine, "checkout", self._check_out_postgres)
            self._writer_lock = None
        self.group_commit = GroupCommit(self)

    def write_grouped(self, work: Callable[[Cursor], T]) -> T:
        """`work(cursor)` in a write transaction, committed when this returns; on SQLite possibly
        shared with other threads' works (see group_commit.py). Never call it inside `writer()`."""
        if getattr(self._thread_connections, "in_writer", False):
            raise RuntimeError("write_grouped() inside writer(): the group commit would wait for this transaction")
        return self.group_commit.run(work)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One atomic write transaction; commits on success, rolls back on any exception."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE") if self.is_sqlite else conn
            with conn.begin():
                yield conn

    def writer(self) -> _Writer:
        """One atomic write transaction on a `Cursor` (`with store.writer() as cursor:`).
        Constraint violations surface as SQLAlchemy's `IntegrityError`, whichever driver raised them."""
        return _Writer(self)

    def reader(self, *, snapshot: bool = True) -> _Reader:
        """Reads on a `Cursor` (`with store.reader() as cursor:`). On SQLite, one snapshot for all
        its statements, or with `snapshot=False` no transaction at all (a single SELECT is
        consistent by itself; the hottest reads skip BEGIN and ROLLBACK). On PostgreSQL, READ
        COMMITTED: each statement sees what was committed when it ran, so a decision taken on
        what a reader saw is checked again inside the `writer()` that acts on it."""
        return _Reader(self, snapshot)

    def _release(self, dbapi_connection: Any, pooled: bool) -> None:
        """Returns a connection after `writer()`/`reader()`. A kept SQLite connection still inside a
        transaction (its COMMIT or ROLLBACK failed) would hold the write lock for ever: it is rolled
        back, or dropped."""
        if pooled:
            driver_connection = dbapi_connection.dbapi_connection
            if driver_connection is not None and driver_connection.closed:
                # The server closed it (a restart?): the pool's other connections are likely gone
                # too, and were used too recently to be pinged.
                self._connection_lost = True
            dbapi_connection.close()
            return
        if not dbapi_connection.in_transaction:
            return
        try:
            dbapi_connection.rollback()
        except sqlite3.Error:
            self._thread_connections.sqlite = None
            with self._opened_lock:
                self._opened.remove(dbapi_connection)
            dbapi_connection.close()

    def _check_out_postgres(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        """The pool's checkout hook: `pool_pre_ping`, for connections idle past
        POSTGRES_PING_IDLE_SECONDS only. As with `pool_pre_ping`, a failed ping (or a connection
        lost in use since the last checkout) renews every pooled connection older than now, and
        the pool retries with a new one."""
        if self._connection_lost:
            self._connection_lost = False
            raise InvalidatePoolError()
        if time.monotonic() - record.info.get("last_used", 0.0) < POSTGRES_PING_IDLE_SECONDS:
            return
        try:
            alive = self.engine.dialect.do_ping(dbapi_connection)
        except self.engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise InvalidatePoolError()

    def _checkout(self) -> tuple[Any, bool]:
        """A DBAPI connection for `writer()`/`reader()`, and whether it goes back to a pool.
        SQLite files: one connection per thread, kept open (opening is the costly part and SQLite
        connections are cheap to hold); otherwise one from the engine's pool."""
        if self._sqlite_file is None:
            return self.engine.raw_connection(), True
        connection = getattr(self._thread_connections, "sqlite", None)
        if connection is None:
            connection = sqlite3.connect(self._sqlite_file, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                                         isolation_level=None, check_same_thread=False)
            _apply_sqlite_pragmas(connection)
            self._thread_connections.sqlite = connection
            with self._opened_lock:
                self._opened.append(connection)
        return connection, False

    def migrate(self, target: int | None = None) -> int:
        """Bring the schema to the latest version (or to `target`, for tests); returns the version. Safe to run from
        several replicas at once (PostgreSQL: advisory lock; SQLite: write lock)."""
        with self.transaction() as conn:
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(7254031)"))
            schema.schema_version.create(conn, checkfirst=True)
            current = conn.execute(select(schema.schema_version.c.version).order_by(
                schema.schema_version.c.version.desc()).limit(1)).scalar() or 0
            for step in migrations.steps():
                if step.version > current and (target is None or step.version <= target):
                    step.upgrade(conn)
                    conn.execute(schema.schema_version.insert().values(version=step.version, applied_at=time.time()))
                    current = step.version
            return current

    def integrity_check(self) -> str:
        """SQLite's own integrity check ('ok' when sound); PostgreSQL answers 'ok' if reachable."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                return str(conn.exec_driver_sql("PRAGMA integrity_check").scalar())
            conn.execute(text("SELECT 1"))
            return "ok"

    def dispose(self) -> None:
        self.group_commit.stop()
        with self._opened_lock:
            for connection in self._opened:
                connection.close()
            self._opened.clear()
        self.engine.dispose()


def _mark_used(_dbapi_connection: Any, record: Any) -> None:
    """Pool hook (connect, checkin): when a PostgreSQL connection was last known to work."""
    record.info["last_used"] = time.monotonic()


def _apply_sqlite_pragmas(connection: sqlite3.Connection) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a process kill
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        _apply_sqlite_pragmas(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def latest_version() -> int:
    return migrations.steps()[-1].version


def open_store(url: str | None = None) -> Store:
    store = Store(url or default_database_url())
    store.migrate()
    return store


LATEST_VERSION = latest_version()

__all__ = ["Store", "Cursor", "Query", "InListQuery", "open_store", "default_database_url", "latest_version",
           "LATEST_VERSION"]
