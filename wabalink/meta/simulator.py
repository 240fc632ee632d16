"""The built-in simulator of Meta's side: businesses, WABAs, phone numbers, webhook subscriptions
and access tokens, kept in the store (meta_* tables) so a restart keeps both sides consistent.

`MetaSimulator` holds what every route shares: the store queries, the simulator's own app
credentials (generated per database at its first start), and this instance's fault injector.
Routes live with their Meta resource, one module each, in a route table:

  tokens.py         GET /debug_token;           sandbox /tokens...
  wabas.py          GET /{object_id}, /{waba_id}/subscribed_apps;  sandbox /wabas...
  phone_numbers.py  /{waba_id}/phone_numbers, /{phone_id}/register|deregister;  sandbox numbers
  faults.py         sandbox /faults (the injector runs before every Graph route)
  messages.py       /{phone_id}/messages (send, mark read); delivery.py: statuses, limits, workers
  webhooks.py       the durable webhook queue and its sender; sandbox /webhooks
  messaging_sandbox.py, inbound.py   sandbox numbers' messaging settings, conversations, inbound

`graph_api.py` and `sandbox_api.py` serve those tables over HTTP. Adding a Graph endpoint means a
handler in its resource module and one `Route` in that module's table (new resources add their
table to `graph_api.GRAPH_ROUTES` / `sandbox_api.SANDBOX_ROUTES`).
"""

from __future__ import annotations

from wabalink.config import Settings
from wabalink.meta.access import Caller, authenticate
from wabalink.meta.delivery import Messaging
from wabalink.meta.errors import GraphError, SandboxError
from wabalink.meta.faults import FaultInjector
from wabalink.store.db import Store
from wabalink.store.meta_control import AppCredentials, FaultState, SimulatorControl
from wabalink.store.meta_state import MetaState

DEFAULT_TOKEN_LIFETIME_SECONDS = 3600


def simulator_app_credentials(store: Store) -> tuple[str, str, str]:
    """(app_id, app_token, app_secret) of the simulator's app on this database, created at its
    first start: what the service's GraphClient uses when Meta is the built-in simulator."""
    app = SimulatorControl(store).app_credentials()
    return app.app_id, app.app_token, app.app_secret


class MetaSimulator:
    """Meta's side, one per server: its fault injector is this instance's (not shared by other
    simulators in the same process)."""

    def __init__(self, store: Store, settings: Settings, *,
                 token_lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME_SECONDS) -> None:
        self.state = MetaState(store)
        self.control = SimulatorControl(store)
        self.settings = settings
        self.token_lifetime_seconds = token_lifetime_seconds
        self.app: AppCredentials = self.control.app_credentials()
        self.faults = FaultInjector(self.control)
        # Messaging's background workers (status scheduler, webhook sender) run until close().
        self.messaging = Messaging(self)
        self.messaging.start()

    @property
    def store(self) -> Store:
        return self.state.store

    def close(self) -> None:
        self.messaging.close()

    def authenticate(self, token: str | None) -> Caller:
        return authenticate(self, token)

    def get_faults(self) -> FaultState:
        return self.faults.refresh()

    def set_faults(self, faults: FaultState) -> FaultState:
        return self.faults.set(faults)

    def clear_faults(self) -> FaultState:
        return self.faults.clear()


__all__ = ["MetaSimulator", "GraphError", "SandboxError", "simulator_app_credentials",
           "DEFAULT_TOKEN_LIFETIME_SECONDS"]
