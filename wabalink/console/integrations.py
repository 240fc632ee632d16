"""What the console uses from areas that may not be merged yet, looked up when asked, so a page
says "not available yet" instead of failing:

- the inbox: the simulator's sandbox routes `GET /phone-numbers/{phone_id}/conversations` and
  `POST /phone-numbers/{phone_id}/inbound` (the same path `wabalink meta send-inbound` takes);
- the event log: `wabalink.service.events` (`list_events`, `replay_event`) and
  `wabalink.store.events` (`get_event`, to check an event's account before replaying it);
- template reviews: the sandbox route `POST /templates/{template_id}/review`;
- templates and flows listings: their AWS operations, through the dispatch table.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from wabalink.meta import sandbox_api

CONVERSATIONS = "/phone-numbers/{phone_id}/conversations"
INBOUND = "/phone-numbers/{phone_id}/inbound"
TEMPLATE_REVIEW = "/templates/{template_id}/review"


def sandbox_route(method: str, pattern: str) -> bool:
    return any(route.method == method and route.pattern == pattern for route in sandbox_api.SANDBOX_ROUTES)


def inbox_available() -> bool:
    return sandbox_route("GET", CONVERSATIONS) and sandbox_route("POST", INBOUND)


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def event_log() -> tuple[ModuleType, ModuleType] | None:
    """(wabalink.service.events, wabalink.store.events) when the event log exists."""
    service, store = _module("wabalink.service.events"), _module("wabalink.store.events")
    if service is None or store is None or not all(
            hasattr(service, name) for name in ("list_events", "replay_event")) or not hasattr(store, "get_event"):
        return None
    return service, store


__all__ = ["inbox_available", "event_log", "sandbox_route", "CONVERSATIONS", "INBOUND", "TEMPLATE_REVIEW"]
