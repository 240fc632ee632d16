"""A real wabalink server inside the test process: the same ASGI app as `wabalink serve`, served by
uvicorn in a background thread on a free 127.0.0.1 port, with a temporary SQLite database that is
removed when the server stops (or a database URL you give).

    with wabalink_server() as server:
        client = server.client()              # boto3 socialmessaging client bound to it
        waba = server.link(name="Acme")       # a WABA linked through both association phases
        server.meta.inject_fault(fail_next=1) # the simulator's sandbox
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wabalink.config import Settings
from wabalink.testing.events import EventLog
from wabalink.testing.linking import LinkedWaba, link
from wabalink.testing.sandbox import SandboxClient

if TYPE_CHECKING:
    from wabalink.server.app import WabalinkApp

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
# Permissive mode does not check signatures: any secret signs.
DUMMY_SECRET_ACCESS_KEY = "wabalink-testing"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
SERVED_SERVICE = "socialmessaging"

log = logging.getLogger("wabalink.testing")


class WabalinkServer:
    """A running in-process server. Use it through `wabalink_server()` (or `start()`/`stop()`)."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = dataclasses.replace(settings or Settings(), **overrides)
        self.settings.host = "127.0.0.1"
        # What client(), link() and events_for() use when not told otherwise.
        self.account_id = DEFAULT_ACCOUNT_ID
        self.region = DEFAULT_REGION
        self._temporary_folder: Path | None = None
        self._thread: threading.Thread | None = None
        self._uvicorn: Any = None
        self.app: WabalinkApp | None = None
        self._stopped = False
        self.start_seconds: float | None = None  # how long start() took, for the curious

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> WabalinkServer:
        started = time.perf_counter()
        import uvicorn

        from wabalink.server.app import WabalinkApp

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))  # the port is ours from here: no race with other servers
        self.settings.port = listener.getsockname()[1]
        if self.settings.database_url is None:
            self._temporary_folder = Path(tempfile.mkdtemp(prefix="wabalink-"))
            self.settings.database_url = f"sqlite:///{self._temporary_folder / 'wabalink.db'}"  # blobs beside it
        elif not self.settings.database_url.startswith("sqlite") and getattr(self.settings, "blob_store", 1) is None:
            # Media bytes would otherwise go to the state folder of the current directory.
            self._temporary_folder = Path(tempfile.mkdtemp(prefix="wabalink-"))
            self.settings.blob_store = str(self._temporary_folder / "blobs")
        try:
            self.app = WabalinkApp(self.settings)
            config = uvicorn.Config(self.app, lifespan="on", access_log=False, log_config=None,
                                    log_level="warning", timeout_keep_alive=self.settings.keep_alive_timeout_seconds)
            self._uvicorn = uvicorn.Server(config)
            self._thread = threading.Thread(target=self._uvicorn.run, kwargs={"sockets": [listener]},
                                            name=f"wabalink-server-{self.settings.port}", daemon=True)
            self._thread.start()
            self._wait_until_started()
        except BaseException:
            listener.close()
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - started
        log.debug("started", extra={"endpoint": self.endpoint, "seconds": round(self.start_seconds, 3)})
        return self

    def _wait_until_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        assert self._thread is not None
        while not self._uvicorn.started:
            if not self._thread.is_alive():
                raise RuntimeError("the wabalink server thread stopped while starting (see the log)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the wabalink server did not start within {START_TIMEOUT_SECONDS} s")
            time.sleep(0.002)

    def stop(self) -> None:
        """Stops serving (the app closes its workers and store through the ASGI lifespan) and
        removes the temporary database. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None and self._thread.is_alive():
            self._uvicorn.should_exit = True
            self._thread.join(STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive():
                log.warning("the wabalink server thread did not stop in time")
        elif self.app is not None and self._thread is None:
            self.app.close()  # never served: the lifespan that closes it did not run
        if self._temporary_folder is not None:
            shutil.rmtree(self._temporary_folder, ignore_errors=True)
            self._temporary_folder = None

    def __enter__(self) -> WabalinkServer:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- what tests use ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.settings.port

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    @property
    def database_url(self) -> str:
        assert self.settings.database_url is not None
        return self.settings.database_url

    @property
    def meta(self) -> SandboxClient:
        """The simulator's sandbox (create WABAs, tokens, faults, inbound messages, ...)."""
        return SandboxClient(self.endpoint, token=self.settings.sandbox_token)

    @property
    def events(self) -> EventLog:
        """The event log of every account on this server (see `events_for` for one account)."""
        return EventLog(self.endpoint, token=self.settings.sandbox_token)

    def events_for(self, account_id: str, region: str | None = None) -> EventLog:
        return EventLog(self.endpoint, token=self.settings.sandbox_token, account_id=account_id, region=region)

    def client(self, service: str = SERVED_SERVICE, account_id: str | None = None, region: str | None = None,
               **options: Any) -> Any:
        """A boto3 client bound to this server. In permissive mode the access key id is the
        account: each account id sees only its own resources. `options` go to `boto3.client`
        (e.g. `config=botocore.config.Config(...)`, or keys for a strict server)."""
        if service != SERVED_SERVICE:
            raise ValueError(f"wabalink serves only {SERVED_SERVICE!r}, not {service!r}")
        import boto3

        options.setdefault("aws_access_key_id", account_id or self.account_id)
        options.setdefault("aws_secret_access_key", DUMMY_SECRET_ACCESS_KEY)
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region or self.region, **options)

    def link(self, name: str = "Acme", phone_numbers: int = 1, *, account_id: str | None = None,
             region: str | None = None, **options: Any) -> LinkedWaba:
        """A WABA created on the simulator and linked through both association phases (see
        `wabalink.testing.link` for the options)."""
        return link(self.client(account_id=account_id, region=region), self.meta, name=name,
                    phone_numbers=phone_numbers, **options)


@contextmanager
def wabalink_server(settings: Settings | None = None, **overrides: Any) -> Iterator[WabalinkServer]:
    """Runs a wabalink server in this process for the `with` block. `overrides` are `Settings`
    fields (`database_url="postgresql://..."`, `waba_quota_per_region=2`, `sandbox_token=...`);
    without `database_url` a temporary SQLite database is used and removed afterwards (media
    bytes beside it). With a PostgreSQL `database_url` and no `blob_store`, media bytes go to a
    temporary folder removed afterwards, while the rows stay in the database."""
    server = WabalinkServer(settings, **overrides).start()
    try:
        yield server
    finally:
        server.stop()


__all__ = ["WabalinkServer", "wabalink_server", "DEFAULT_ACCOUNT_ID", "DEFAULT_REGION"]
