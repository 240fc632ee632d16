"""The lean statement path every query runs on: `Query` (a Core statement compiled once per
dialect), `InListQuery` (an IN over a list of any length, still compiled once) and `Cursor` (one
DBAPI connection inside one transaction). `store.db` re-exports them; `Store.writer()` and
`Store.reader()` hand out the cursors."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Table, text
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

# Rows per multi-row INSERT on SQLite, at most, and within its bound-parameter limit (999 before
# SQLite 3.32).
INSERT_ROWS_PER_STATEMENT = 500
SQLITE_MAX_PARAMETERS = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


class Query:
    """A Core statement compiled once per SQL dialect and run straight on the DBAPI cursor.

    The service's hot paths (a signed GET, an association) run a handful of small statements;
    SQLAlchemy's per-execution machinery costs several times the SQLite query itself, so those
    paths compile their statements once and skip it. Parameters are `bindparam` names."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            # Queries are SELECT/INSERT/UPDATE/DELETE statements: SQL compilers, not DDL ones.
            compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect))
            positional = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
            # Literals in the statement (`status == "INCOMPLETE"`) are bound parameters too.
            literals = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
            found = self._compiled[dialect.name] = _Compiled(str(compiled), positional, literals)
        return found


class InListQuery:
    """A statement with `{IN}` standing for "IN <a list of any length>", bound as ONE parameter
    named `values`, so its text is compiled once per dialect whatever the length: PostgreSQL takes
    the list as an array (`= ANY(...)`), SQLite as a JSON array read by json_each. `element` is the
    PostgreSQL type of the list's items (TEXT, or BIGINT for integer keys)."""

    def __init__(self, template: str, *, element: str = "TEXT") -> None:
        self._by_dialect = {
            "postgresql": Query(text(template.format(IN=f"= ANY(CAST(:values AS {element}[]))"))),
            "sqlite": Query(text(template.format(IN="IN (SELECT value FROM json_each(:values))"))),
        }

    def query(self, dialect_name: str) -> Query:
        return self._by_dialect[dialect_name]


class _Compiled:
    __slots__ = ("sql", "positional_names", "literals", "_positional")

    def __init__(self, sql: str, positional_names: tuple[str, ...] | None, literals: dict[str, Any]) -> None:
        self.sql = sql
        self.positional_names = positional_names  # for positional paramstyles (SQLite's "?")
        self.literals = literals
        # The parameter tuple in one C call; itemgetter of one name gives the value, not a tuple.
        self._positional: Callable[[dict[str, Any]], Any] | None = None
        if positional_names:
            getter = itemgetter(*positional_names)
            self._positional = getter if len(positional_names) > 1 else (lambda params: (getter(params),))

    def parameters(self, params: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        if self.positional_names is None:
            return {**self.literals, **params} if self.literals else params
        if self.literals:
            params = {**self.literals, **params}
        if self._positional is None:
            return ()
        return cast(tuple[Any, ...], self._positional(params))


class Cursor:
    """One DBAPI connection inside one transaction, running `Query`s. Rows are dicts."""

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        self._cursor = dbapi_connection.cursor()
        self._dialect = dialect

    def run(self, query: Query, **params: Any) -> int:
        """Executes; returns the number of rows changed."""
        compiled = query.compiled(self._dialect)
        self._cursor.execute(compiled.sql, compiled.parameters(params))
        return self._cursor.rowcount

    def tuples(self, query: Query, **params: Any) -> list[tuple[Any, ...]]:
        """Rows as the driver gives them, columns in the statement's order."""
        self.run(query, **params)
        return self._cursor.fetchall()

    def rows(self, query: Query, **params: Any) -> list[dict[str, Any]]:
        self.run(query, **params)
        columns = [column[0] for column in self._cursor.description]
        return [dict(zip(columns, row)) for row in self._cursor.fetchall()]

    def row(self, query: Query, **params: Any) -> dict[str, Any] | None:
        found = self.rows(query, **params)
        return found[0] if found else None

    def tuples_in(self, query: InListQuery, values: list[Any], **params: Any) -> list[tuple[Any, ...]]:
        """Rows of an `InListQuery` for `values` (none: no statement at all)."""
        if not values:
            return []
        return self.tuples(query.query(self._dialect.name), values=self._list_parameter(values), **params)

    def run_in(self, query: InListQuery, values: list[Any], **params: Any) -> int:
        """An UPDATE or DELETE `InListQuery` for `values` in one statement (none: no statement);
        the number of rows changed. One statement, not one per row: on SQLite each statement gives
        up the GIL and takes it back, which under load costs more than the row."""
        if not values:
            return 0
        return self.run(query.query(self._dialect.name), values=self._list_parameter(values), **params)

    def insert_rows(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Rows into `table` in list order (so generated keys follow it); each row names the same
        columns, those of the first. Columns and values are bound parameters, never SQL text.

        SQLite: multi-row INSERTs of at most INSERT_ROWS_PER_STATEMENT rows (each statement gives
        up the GIL once, not once per row). PostgreSQL: one single-row INSERT run for every row in
        one pipelined driver call; psycopg converts and prepares that one text once, where
        multi-row texts of every length would each be parsed anew."""
        if not rows:
            return
        names = list(rows[0])
        unknown = [name for name in names if name not in table.c]
        if unknown:
            raise ValueError(f"insert_rows: {table.name} has no column {unknown[0]!r}")
        if any(len(row) != len(names) for row in rows):  # same length, other names: KeyError below
            raise ValueError(f"insert_rows: every row must name the same columns of {table.name}")
        values = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
        head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
        if self._dialect.name == "postgresql":
            self._cursor.executemany(head + "(" + ", ".join(["%s"] * len(names)) + ")", [values(row) for row in rows])
            return
        row_sql = "(" + ", ".join(["?"] * len(names)) + ")"
        per_statement = min(INSERT_ROWS_PER_STATEMENT, SQLITE_MAX_PARAMETERS // len(names))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            self._cursor.execute(head + ", ".join([row_sql] * len(chunk)),
                                 [value for row in chunk for value in values(row)])

    def _list_parameter(self, values: list[Any]) -> Any:
        return list(values) if self._dialect.name == "postgresql" else json.dumps(list(values))

    def lock_all(self, keys: list[str]) -> None:
        """`lock` for many keys in one statement, in sorted order (two transactions locking
        overlapping sets then never wait for each other crosswise)."""
        if self._dialect.name == "postgresql" and keys:
            self._cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) "
                                 "FROM (SELECT DISTINCT key FROM unnest(%s::text[]) AS key ORDER BY key) AS sorted",
                                 (sorted(keys),))

    def lock(self, key: str) -> None:
        """Serializes, until this transaction ends, the writers that lock the same key (a
        check-then-write such as a quota count). SQLite's BEGIN IMMEDIATE already serializes every
        writer; PostgreSQL, at READ COMMITTED, takes a transaction-scoped advisory lock."""
        if self._dialect.name == "postgresql":
            self._cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))

    def scalar(self, query: Query, **params: Any) -> Any:
        self.run(query, **params)
        first = self._cursor.fetchone()
        return first[0] if first else None

    def execute_sql(self, sql: str) -> None:
        """A statement without parameters (SAVEPOINT, RELEASE): for the store's own machinery."""
        self._cursor.execute(sql)
