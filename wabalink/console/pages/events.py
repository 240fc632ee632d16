"""The event log: the account's events (this region) with their AWS envelope, the Meta entry it
carries decoded, their delivery state and last error; filters by WABA, number, message and state;
replay. Reads `wabalink.service.events` (see integrations.py)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from wabalink.console import integrations
from wabalink.console.live import Fingerprint
from wabalink.console.render import redirect
from wabalink.console.web import Page, Route, page
from wabalink.server.http import HttpResponse

PAGE_SIZE = 50
FILTERS = ("waba", "phone", "message", "state")


def _filters(p: Page) -> dict[str, str]:
    return {name: p.query[name].strip() for name in FILTERS if p.query.get(name, "").strip()}


def _after(p: Page) -> int:
    try:
        return max(0, int(p.query.get("after", "0")))
    except ValueError:
        return 0


def _events(p: Page, filters: dict[str, str], after: int) -> list[dict[str, Any]]:
    """One page of the caller's events in the session's region, oldest first after `after`."""
    log = integrations.event_log()
    assert log is not None
    service, _ = log
    wanted: list[dict[str, Any]] = []
    # The phone and region filters are applied here: fetch until a page is full or the log ends.
    for _ in range(20):
        with p.console.store.reader() as cursor:
            batch = service.list_events(cursor, account_id=p.session.account_id, waba_id=filters.get("waba"),
                                        message_id=filters.get("message"), status=filters.get("state"),
                                        after=after, limit=PAGE_SIZE + 1)
        for event in batch:
            if event["region"] == p.session.region and filters.get("phone") in (None, event.get("phoneNumberId")):
                wanted.append(event)
        if len(wanted) > PAGE_SIZE or len(batch) <= PAGE_SIZE:
            break
        after = batch[-1]["sequence"]
    return wanted


def _decoded(event: dict[str, Any]) -> dict[str, Any]:
    envelope = dict(event.get("envelope") or {})
    entry = envelope.get("whatsAppWebhookEntry")
    if isinstance(entry, str):
        try:
            envelope["whatsAppWebhookEntry"] = json.loads(entry)
        except ValueError:
            pass
    return envelope


@page()
def event_log(p: Page) -> HttpResponse:
    if integrations.event_log() is None:
        return p.render("events.html", unavailable=True, events=[], filters={}, next_after=None, error=None)
    filters, after = _filters(p), _after(p)
    events = _events(p, filters, after)
    shown = events[:PAGE_SIZE]
    for event in shown:
        event["decoded"] = _decoded(event)
    next_after = shown[-1]["sequence"] if len(events) > PAGE_SIZE else None
    return p.render("events.html", unavailable=False, events=shown, filters=filters, next_after=next_after,
                    after=after, error=p.query.get("error"), replayed=p.query.get("replayed"))


@page()
def replay(p: Page) -> HttpResponse:
    log = integrations.event_log()
    if log is None:
        return redirect("/console/events")
    service, store = log
    event_id = p.args["event_id"]
    with p.console.store.writer() as cursor:
        row = store.get_event(cursor, event_id)
        # Someone else's event is "not found", as the API would answer.
        if row is None or row["account_id"] != p.session.account_id or row["region"] != p.session.region:
            return p.render("refused.html", status=404, message=f"event {event_id[:64]} was not found")
        service.replay_event(cursor, event_id)
    notify = getattr(service, "notify_new_events", None)
    if notify is not None:
        notify()
    return redirect(f"/console/events?replayed={event_id}")


@page(stream=True)
def events_stream(p: Page) -> Fingerprint | None:
    if integrations.event_log() is None:
        return None
    filters, after = _filters(p), _after(p)

    def fingerprint() -> str:
        digest = hashlib.sha256()
        for event in _events(p, filters, after):
            digest.update(f"{event['eventId']}:{event['status']}:{event.get('attempts')};".encode())
        return digest.hexdigest()
    return fingerprint


ROUTES = [
    Route("GET", "/events", event_log),
    Route("POST", "/events/{event_id}/replay", replay),
    Route("GET", "/stream/events", events_stream),
]
