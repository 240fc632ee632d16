"""Memory settings of `wabalink serve`: the malloc arena limit and SQLite's page cache per
connection (both measured in bench/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wabalink.server import main as serve_main
from wabalink.store.db import SQLITE_CACHE_KIB, Store


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return 1


def test_serve_limits_glibc_malloc_arenas_unless_the_environment_does(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = FakeLibc()
    monkeypatch.setattr(serve_main.ctypes, "CDLL", lambda _name: libc)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    serve_main.limit_malloc_arenas()
    assert libc.calls == [(-8, serve_main.MALLOC_ARENAS)]  # M_ARENA_MAX
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    serve_main.limit_malloc_arenas()
    assert len(libc.calls) == 1


def test_without_glibc_the_arena_limit_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_library(_name: Any) -> Any:
        raise OSError("no such library")

    monkeypatch.setattr(serve_main.ctypes, "CDLL", no_library)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    serve_main.limit_malloc_arenas()  # nothing raised


def test_every_sqlite_connection_gets_the_small_page_cache(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'cache.db'}")
    try:
        store.migrate()
        with store.reader() as cursor:
            cursor.execute_sql("PRAGMA cache_size")
            assert cursor._cursor.fetchone()[0] == -SQLITE_CACHE_KIB
        with store.engine.connect() as conn:  # SQLAlchemy's own connections too
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -SQLITE_CACHE_KIB
    finally:
        store.dispose()
