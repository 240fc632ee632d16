"""The wabalink pytest plugin (registered through the `pytest11` entry point: installing wabalink
enables it). Fixtures:

- `wabalink`: one in-process server for the whole session, seen by each test through a fresh
  AWS account id (permissive mode: the access key id is the account), so tests never see each
  other's linked WABAs, tags or events. `wabalink.client()`, `wabalink.link(...)` and
  `wabalink.events` default to that account; `wabalink.meta` is the simulator's sandbox.
- `socialmessaging_client`: `wabalink.client()`, a boto3 socialmessaging client for the test's account.
- `wabalink_settings`: the session server's settings (`wabalink_server`'s keyword arguments);
  override it in a conftest.py, e.g. to run on PostgreSQL:

      @pytest.fixture(scope="session")
      def wabalink_settings():
          return {"database_url": "postgresql://postgres@127.0.0.1:5432/test"}

Only the standard library is imported until a fixture is used.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from wabalink.testing.events import EventLog
    from wabalink.testing.linking import LinkedWaba
    from wabalink.testing.sandbox import SandboxClient
    from wabalink.testing.server import WabalinkServer


def new_account_id() -> str:
    """A random 12-digit AWS account id (no leading zero)."""
    return str(100_000_000_000 + secrets.randbelow(900_000_000_000))


class WabalinkView:
    """The session's server as one test sees it: its own account id (and region)."""

    def __init__(self, server: WabalinkServer, account_id: str, region: str) -> None:
        self.server = server
        self.account_id = account_id
        self.region = region

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    @property
    def meta(self) -> SandboxClient:
        return self.server.meta

    @property
    def events(self) -> EventLog:
        """The event log of this test's account and region."""
        return self.server.events_for(self.account_id, self.region)

    def client(self, service: str = "socialmessaging", account_id: str | None = None, region: str | None = None,
               **options: Any) -> Any:
        return self.server.client(service, account_id=account_id or self.account_id, region=region or self.region,
                                  **options)

    def link(self, name: str = "Acme", phone_numbers: int = 1, *, account_id: str | None = None,
             region: str | None = None, **options: Any) -> LinkedWaba:
        return self.server.link(name, phone_numbers, account_id=account_id or self.account_id,
                                region=region or self.region, **options)


@pytest.fixture(scope="session")
def wabalink_settings() -> dict[str, Any]:
    """Keyword arguments of the session's `wabalink_server` (override in a conftest.py)."""
    return {}


@pytest.fixture(scope="session")
def wabalink_session_server(wabalink_settings: dict[str, Any]) -> Iterator[WabalinkServer]:
    from wabalink.testing.server import wabalink_server

    with wabalink_server(**wabalink_settings) as server:
        yield server


@pytest.fixture
def wabalink(wabalink_session_server: WabalinkServer) -> WabalinkView:
    from wabalink.testing.server import DEFAULT_REGION

    return WabalinkView(wabalink_session_server, new_account_id(), DEFAULT_REGION)


@pytest.fixture
def socialmessaging_client(wabalink: WabalinkView) -> Any:
    return wabalink.client()
