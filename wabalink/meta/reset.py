"""Emptying the store (sandbox `POST /reset`), for test suites that share one server: every row of
every table goes, the service's and the simulator's alike, in one transaction, except what the
server generated for itself (the schema version, its secrets, the simulator's app credentials),
so page tokens, the app token and webhook signatures stay valid across a reset.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from wabalink.meta.calls import SandboxCall, SandboxHandler
from wabalink.meta.routing import Route
from wabalink.server.http import HttpResponse, json_response
from wabalink.store import schema

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

KEPT_TABLES = frozenset({"schema_version", "service_secrets", "meta_simulator_app"})
MEDIA_TABLE = "meta_media"  # its live rows' bytes are in the blob store

log = logging.getLogger("wabalink.meta")


def emptied_tables() -> list[str]:
    """The tables a reset empties, children before their parents (foreign keys)."""
    tables = schema.complete_metadata().sorted_tables
    return [table.name for table in reversed(tables) if table.name not in KEPT_TABLES]


def reset_store(sim: MetaSimulator) -> dict[str, int]:
    """Deletes every row of `emptied_tables()` in one transaction; rows deleted per table. The
    bytes of media that were still live go from the blob store after the commit."""
    metadata = schema.complete_metadata()
    deleted: dict[str, int] = {}
    with sim.control.store.transaction() as conn:
        media = metadata.tables.get(MEDIA_TABLE)
        blob_keys = [] if media is None else list(conn.execute(
            select(media.c.blob_key).where(media.c.deleted.is_(False))).scalars())
        for name in emptied_tables():
            deleted[name] = conn.execute(metadata.tables[name].delete()).rowcount
    sim.faults.refresh()  # the injector caches the (now removed) faults for a moment
    if blob_keys:
        _delete_blobs(sim, blob_keys)
    return deleted


def _delete_blobs(sim: MetaSimulator, keys: list[str]) -> None:
    from wabalink.meta.media import media_side

    blobs = media_side(sim).blobs
    for key in keys:
        try:
            blobs.delete(key)
        except Exception:  # noqa: BLE001 - a byte left behind is no reason to fail a reset already committed
            log.warning("reset: media bytes not removed", extra={"blob_key": key})


def _reset(sim: MetaSimulator, call: SandboxCall) -> HttpResponse:
    deleted = reset_store(sim)
    return json_response(200, {"reset": True, "rowsDeleted": sum(deleted.values()), "tables": deleted})


SANDBOX_ROUTES: list[Route[SandboxHandler]] = [Route("POST", "/reset", _reset)]

__all__ = ["SANDBOX_ROUTES", "KEPT_TABLES", "emptied_tables", "reset_store"]
