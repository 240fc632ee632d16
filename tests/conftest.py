"""Shared fixtures: a live `wabalink serve` process, real AWS clients pointed at it, the sandbox.

Each test gets its own random AWS account id (the access key id is the account in permissive
mode), so tests share one server without seeing each other's resources.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Every server the tests start (in process or as a subprocess) answers a modeled error that an
# operation does not declare as a 500, so the test that provoked it fails. Set before the helpers
# (and wabalink) are imported.
os.environ["WABALINK_CHECK_DECLARED_ERRORS"] = "1"

import pytest  # noqa: E402

from tests.support.postgres import drop_postgres_schema, fresh_postgres_url, require_postgres  # noqa: E402
from tests.support.servers import ServerProcess, new_account_id  # noqa: E402
from tests.support.service_messaging import FakeGraph, MotoServer  # noqa: E402


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One SQLite-backed server shared by the tests that only need isolation by account."""
    folder = tmp_path_factory.mktemp("server")
    process = ServerProcess(f"sqlite:///{folder / 'wabalink.db'}", folder / "server.log").start()
    yield process
    process.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Any]:
    """Starts servers with their own options and database; all are stopped at the end."""
    started: list[ServerProcess] = []
    schemas: list[str] = []

    def start(database: str = "sqlite", extra_args: list[str] | None = None, env: dict[str, str] | None = None,
              database_url: str | None = None) -> ServerProcess:
        if database_url is None:
            if database == "postgresql":
                require_postgres()
                database_url = fresh_postgres_url()
                schemas.append(database_url)
            else:
                database_url = f"sqlite:///{tmp_path / f'wabalink-{len(started)}.db'}"
        process = ServerProcess(database_url, tmp_path / f"server-{len(started)}.log", extra_args, env).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
    for url in schemas:
        drop_postgres_schema(url)


@pytest.fixture
def account_id() -> str:
    return new_account_id()


# --- messaging: an SNS/SQS (moto's server) and a fake Graph messages endpoint ------------------------

@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's server, for SNS topics with SQS subscriptions a test reads events back from."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    """A Graph API stand-in answering sends as the test says."""
    graph = FakeGraph()
    yield graph
    graph.close()
