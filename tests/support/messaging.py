"""Helpers for the simulator's messaging tests: a registered, subscribed business number and calls
to its messages endpoint and sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.meta import GRAPH_PREFIX, Server, create_waba, running_simulator, store_of_kind
from tests.support.webhooks import WebhookReceiver


@dataclass(frozen=True)
class Business:
    waba_id: str
    phone_id: str
    display_digits: str


def graph(server: Server, method: str, path: str, body: dict[str, Any] | None = None,
          version: str = "v21.0") -> tuple[int, Any]:
    return server.call(method, f"{GRAPH_PREFIX}/{version}{path}", body,
                       headers={"Authorization": f"Bearer {server.app_token}"})


def new_business(server: Server, *, register: bool = True, subscribe: dict[str, str] | None = None) -> Business:
    """A WABA with one number, registered, with the app subscribed (optionally with an override callback)."""
    waba = create_waba(server, phone_numbers=1)
    phone = waba["phoneNumbers"][0]
    if register:
        status, answer = graph(server, "POST", f"/{phone['id']}/register",
                               {"messaging_product": "whatsapp", "pin": "123456"})
        assert status == 200, answer
    status, answer = graph(server, "POST", f"/{waba['wabaId']}/subscribed_apps", subscribe or {})
    assert status == 200, answer
    digits = "".join(ch for ch in phone["displayPhoneNumber"] if ch.isdigit())
    return Business(waba["wabaId"], phone["id"], digits)


def send(server: Server, business: Business, body: dict[str, Any], version: str = "v21.0") -> tuple[int, Any]:
    return graph(server, "POST", f"/{business.phone_id}/messages", {"messaging_product": "whatsapp", **body},
                 version)


def send_ok(server: Server, business: Business, body: dict[str, Any]) -> str:
    status, answer = send(server, business, body)
    assert status == 200, answer
    return answer["messages"][0]["id"]


def inbound(server: Server, business: Business, body: dict[str, Any]) -> tuple[int, Any]:
    return server.sandbox("POST", f"/phone-numbers/{business.phone_id}/inbound", body)


def inbound_ok(server: Server, business: Business, body: dict[str, Any]) -> str:
    status, answer = inbound(server, business, body)
    assert status == 201, answer
    return answer["wamid"]


def sandbox_ok(server: Server, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    status, answer = server.sandbox(method, path, body)
    assert status in (200, 201), answer
    return answer


@contextmanager
def simulator_posting_to(receiver: WebhookReceiver, kind: str, folder: Path) -> Iterator[Server]:
    """An in-process simulator on a store of `kind` whose app webhooks go to `receiver` (which then
    checks their signatures with the simulator's generated app secret)."""
    with store_of_kind(kind, folder) as (store, db_path):
        with running_simulator(store, db_path, meta_webhook_url=receiver.url) as running:
            receiver.app_secret = running.simulator.app.app_secret
            yield running
