"""Shared fixtures: a live `wabalink serve` process, real AWS clients pointed at it, the sandbox.

Each test gets its own random AWS account id (the access key id is the account in permissive
mode), so tests share one server without seeing each other's resources.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Every server the tests start (in process or as a subprocess) answers a modeled error that an
# operation does not declare as a 500, so the test that provoked it fails.
os.environ["WABALINK_CHECK_DECLARED_ERRORS"] = "1"

POSTGRES_URL = os.environ.get("WABALINK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("WABALINK_REQUIRE_POSTGRES") == "1"
REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def new_account_id() -> str:
    return str(random.randint(100000000000, 999999999999))


class ServerProcess:
    """`wabalink serve` in a child process, as users run it."""

    def __init__(self, database_url: str, log_path: Path, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.database_url = database_url
        self.log_path = log_path
        self.extra_args = extra_args or []
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        env = {**os.environ, **self.env}
        command = [sys.executable, "-m", "wabalink.cli.main", "serve", "--port", str(self.port),
                   "--database", self.database_url, *self.extra_args]
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115 - the server writes to it until stop() or kill()
        self.process = subprocess.Popen(command, stdout=self.log_file, stderr=subprocess.STDOUT, env=env,
                                        cwd=REPO_ROOT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"wabalink serve exited: {self.log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.endpoint + "/_wabalink/health", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"wabalink serve did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process:
            self.log_file.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.log_file.close()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    # --- the simulator's sandbox -------------------------------------------------------------

    def sandbox(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        headers = {"content-type": "application/json"}
        if self.env.get("WABALINK_SANDBOX_TOKEN"):  # the operator token a strict server requires
            headers["authorization"] = f"Bearer {self.env['WABALINK_SANDBOX_TOKEN']}"
        request = urllib.request.Request(self.endpoint + "/meta/sandbox" + path, data=data, method=method,
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def create_waba(self, name: str = "Acme", phone_numbers: int = 2) -> dict[str, Any]:
        return self.sandbox("POST", "/wabas", {"name": name, "phoneNumbers": phone_numbers})

    def mint_token(self, waba_ids: list[str], **options: Any) -> str:
        return self.sandbox("POST", "/tokens", {"wabaIds": waba_ids, **options})["accessToken"]

    def set_faults(self, **faults: Any) -> None:
        self.sandbox("PUT", "/faults", faults)

    def clear_faults(self) -> None:
        self.sandbox("DELETE", "/faults")

    def client(self, account_id: str | None = None, region: str = "us-east-1", *, retries: int = 1,
               validate: bool = True, secret: str = "secret") -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "socialmessaging", endpoint_url=self.endpoint, region_name=region,
            aws_access_key_id=account_id or new_account_id(), aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": retries, "mode": "standard"},
                          parameter_validation=validate, read_timeout=60))


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
