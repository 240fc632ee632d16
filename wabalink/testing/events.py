"""The event log of a wabalink server, for assertions: every event the service produced for a
linked WABA (hand-over outcomes, message statuses, inbound messages, template updates), as it is
delivered to the WABA's event destinations, readable without an SNS endpoint.

    events = server.events_for(account_id)
    [inbound] = events.wait_for(1, kind="inbound_message", timeout=5)
    entry = webhook_entry(inbound)        # Meta's webhook entry inside AWS's envelope

Served by the messaging service area at `GET /_wabalink/events`; each event is a dict with
"eventId", "sequence", "accountId", "region", "wabaId", "phoneNumberId", "messageId", "wamid",
"kind" (handover_succeeded, handover_failed, status_sent, status_delivered, status_read,
status_failed, inbound_message, message_template_status_update, ...), "status" (delivery state)
and "envelope" (the SNS Message, as an object).
"""

from __future__ import annotations

import importlib.util
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

EVENTS_PATH = "/_wabalink/events"
EVENTS_MODULE = "wabalink.server.events_api"
PAGE_SIZE = 1000
POLL_SECONDS = 0.02
TIMEOUT_SECONDS = 30.0

Event = dict[str, Any]
Events = list[Event]  # (EventLog.list would shadow `list` in the class's annotations)


class EventLogUnavailable(NotImplementedError):
    """This build of wabalink has no event log (the messaging service module is missing)."""


class EventLog:
    """Events of one account (and region) when given, else of every account on the server."""

    def __init__(self, endpoint: str, token: str | None = None, *, account_id: str | None = None,
                 region: str | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.account_id = account_id
        self.region = region

    def list(self, *, kind: str | None = None, waba_id: str | None = None, message_id: str | None = None,
             status: str | None = None, after: int = 0) -> Events:
        """Every matching event, oldest first. `waba_id` is the linked WABA's AWS id; `status` a
        delivery state (pending, delivered, retrying, dead); `after` a sequence number."""
        found: Events = []
        while True:
            page = self._page(waba_id=waba_id, message_id=message_id, status=status, after=after)
            found.extend(event for event in page["events"] if self._wanted(event, kind))
            if len(page["events"]) < PAGE_SIZE:
                return found
            after = page["after"]

    def wait_for(self, count: int = 1, *, kind: str | None = None, waba_id: str | None = None,
                 message_id: str | None = None, where: Callable[[Event], bool] | None = None,
                 timeout: float = 10.0) -> Events:
        """Waits until at least `count` events match (kind, ids, and the `where` predicate), and
        returns the first `count` of them; TimeoutError, naming what was seen, after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.list(kind=kind, waba_id=waba_id, message_id=message_id)
            matching = [event for event in events if where is None or where(event)]
            if len(matching) >= count:
                return matching[:count]
            if time.monotonic() >= deadline:
                seen = ", ".join(sorted({event["kind"] for event in self.list(waba_id=waba_id)})) or "none"
                raise TimeoutError(f"{len(matching)} of {count} matching events after {timeout} s "
                                   f"(kind={kind!r}; event kinds seen: {seen})")
            time.sleep(POLL_SECONDS)

    def _wanted(self, event: Event, kind: str | None) -> bool:
        return (kind is None or event.get("kind") == kind) and (self.region is None or event.get("region") == self.region)

    def _page(self, **filters: Any) -> dict[str, Any]:
        if importlib.util.find_spec(EVENTS_MODULE) is None:
            raise EventLogUnavailable(f"the event log needs {EVENTS_MODULE} (the messaging service area), which "
                                      "this build of wabalink does not include")
        query = {"accountId": self.account_id, **{_camel(name): value for name, value in filters.items()},
                 "limit": PAGE_SIZE}
        url = self.endpoint + EVENTS_PATH + "?" + urllib.parse.urlencode(
            {name: value for name, value in query.items() if value is not None})
        request = urllib.request.Request(url, headers={"Accept": "application/json", **(
            {"Authorization": f"Bearer {self.token}"} if self.token else {})})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"the event log answered HTTP {error.code}: "
                               f"{error.read().decode('utf-8', 'replace')[:500]}") from None


def webhook_entry(event: Event) -> dict[str, Any]:
    """The Meta webhook entry an event carries (`whatsAppWebhookEntry` of AWS's envelope, parsed),
    as an application's Lambda reads it: {"id": <Meta WABA id>, "changes": [{"field", "value"}]}."""
    return json.loads(event["envelope"]["whatsAppWebhookEntry"])


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


__all__ = ["EventLog", "EventLogUnavailable", "webhook_entry", "Event"]
