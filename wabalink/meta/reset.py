"""Emptying the store (sandbox `POST /reset`), for test suites that share one server: every row of
every table goes, the service's and the simulator's alike, in one transaction, except what the
server generated for itself (the schema version, its secrets, the simulator's app credentials),
so page tokens, the app token and webhook signatures stay valid across a reset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wabalink.meta.calls import SandboxCall, SandboxHandler
from wabalink.meta.routing import Route
from wabalink.server.http import HttpResponse, json_response
from wabalink.store import schema

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

KEPT_TABLES = frozenset({"schema_version", "service_secrets", "meta_simulator_app"})


def emptied_tables() -> list[str]:
    """The tables a reset empties, children before their parents (foreign keys)."""
    tables = schema.complete_metadata().sorted_tables
    return [table.name for table in reversed(tables) if table.name not in KEPT_TABLES]


def reset_store(sim: MetaSimulator) -> dict[str, int]:
    """Deletes every row of `emptied_tables()` in one transaction; rows deleted per table."""
    metadata = schema.complete_metadata()
    deleted: dict[str, int] = {}
    with sim.control.store.transaction() as conn:
        for name in emptied_tables():
            deleted[name] = conn.execute(metadata.tables[name].delete()).rowcount
    sim.faults.refresh()  # the injector caches the (now removed) faults for a moment
    return deleted


def _reset(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    deleted = reset_store(sim)
    return json_response(200, {"reset": True, "rowsDeleted": sum(deleted.values()), "tables": deleted})


SANDBOX_ROUTES: list[Route[SandboxHandler]] = [Route("POST", "/reset", _reset)]

__all__ = ["SANDBOX_ROUTES", "KEPT_TABLES", "emptied_tables", "reset_store"]
