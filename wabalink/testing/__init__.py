"""Use wabalink from a Python test suite.

- `wabalink_server(**settings)`: a real wabalink server in this process (a background thread, a free
  127.0.0.1 port, a temporary SQLite database removed at exit, or `database_url=...`). Its handle has
  `endpoint`, `client(...)` (boto3), `meta` (the simulator's sandbox), `link(...)` (a WABA linked
  through both association phases) and `events` (the event log: list and wait for events).
- `mock_socialmessaging`: a decorator and context manager pointing every `boto3.client("socialmessaging")`
  created inside it at such a server, so unchanged application code runs against it.
- A pytest plugin (loaded automatically once wabalink is installed) with the fixtures `wabalink` and
  `socialmessaging_client`: one server per test session, a fresh AWS account id per test.
"""

from wabalink.testing.events import EventLog, EventLogUnavailable, webhook_entry
from wabalink.testing.linking import LinkedPhoneNumber, LinkedWaba, link
from wabalink.testing.mock import mock_socialmessaging
from wabalink.testing.sandbox import SandboxClient, SandboxError, SandboxRouteMissing
from wabalink.testing.server import WabalinkServer, wabalink_server

__all__ = [
    "wabalink_server", "WabalinkServer", "mock_socialmessaging", "link", "LinkedWaba", "LinkedPhoneNumber",
    "SandboxClient", "SandboxError", "SandboxRouteMissing", "EventLog", "EventLogUnavailable", "webhook_entry",
]
