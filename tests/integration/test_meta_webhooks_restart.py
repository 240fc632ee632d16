"""The webhook queue and the status schedule are durable: a `wabalink serve` killed with SIGKILL
while webhooks wait for a failing receiver, and statuses are still scheduled, delivers all of them
after a restart, each message's statuses in order. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.support.servers import ServerProcess
from tests.support.webhooks import WebhookReceiver
from wabalink.meta.simulator import simulator_app_credentials
from wabalink.store.db import Store


def graph(server: ServerProcess, app_token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(f"{server.endpoint}/meta/graph/v21.0{path}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "Authorization": f"Bearer {app_token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise AssertionError(error.read().decode()) from None


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_pending_webhooks_and_statuses_survive_sigkill(start_server: Any, database: str) -> None:
    with WebhookReceiver("unset") as receiver:
        receiver.fail_status = 503
        server = start_server(database, ["--meta-webhook-url", receiver.url])
        store = Store(server.database_url)
        try:
            app_id, app_token, app_secret = simulator_app_credentials(store)
        finally:
            store.dispose()
        receiver.app_secret = app_secret
        waba = server.create_waba("Durable", phone_numbers=1)
        phone_id = waba["phoneNumbers"][0]["id"]
        graph(server, app_token, f"/{phone_id}/register", {"messaging_product": "whatsapp", "pin": "123456"})
        graph(server, app_token, f"/{waba['wabaId']}/subscribed_apps", {})
        server.sandbox("PUT", f"/phone-numbers/{phone_id}/delivery",
                       {"sentDelayMs": 0, "deliveredDelayMs": 0, "readDelayMs": 2500})
        user = "+3519" + str(random.randint(10000000, 99999999))
        inbound_wamid = server.sandbox("POST", f"/phone-numbers/{phone_id}/inbound",
                                       {"from": user, "text": "Hi"})["wamid"]
        wamids = [graph(server, app_token, f"/{phone_id}/messages", {
            "messaging_product": "whatsapp", "to": user, "text": {"body": f"m{i}"}})["messages"][0]["id"]
            for i in range(3)]
        deadline = time.monotonic() + 10
        while receiver.failures_served < 1:
            assert time.monotonic() < deadline, "the sender never tried"
            time.sleep(0.02)
        server.kill()  # SIGKILL: no shutdown, whatever was in flight is cut

        restarted = start_server(database_url=server.database_url,
                                 extra_args=["--meta-webhook-url", receiver.url])
        receiver.fail_status = None
        restarted.sandbox("POST", "/webhooks/flush")
        receiver.wait_for(lambda: all(len(receiver.statuses(w)) >= 3 for w in wamids)
                          and any(m["messages"][0]["id"] == inbound_wamid for m in receiver.inbound()), timeout=30)
        for wamid in wamids:
            order = list(dict.fromkeys(s["status"] for s in receiver.statuses(wamid)))
            assert order == ["sent", "delivered", "read"]
        assert receiver.bad_signatures == 0
        deadline = time.monotonic() + 10  # delivered rows are deleted right after the receiver's 200
        while restarted.sandbox("GET", "/webhooks")["pending"] != 0:
            assert time.monotonic() < deadline, restarted.sandbox("GET", "/webhooks")
            time.sleep(0.05)


@pytest.mark.postgres
def test_two_replicas_on_postgresql_send_each_webhook_once(start_server: Any) -> None:
    with WebhookReceiver("unset") as receiver:
        first = start_server("postgresql", ["--meta-webhook-url", receiver.url])
        second = start_server(database_url=first.database_url, extra_args=["--meta-webhook-url", receiver.url])
        store = Store(first.database_url)
        try:
            _, app_token, receiver.app_secret = simulator_app_credentials(store)
        finally:
            store.dispose()
        waba = first.create_waba("Replicas", phone_numbers=1)
        phone_id = waba["phoneNumbers"][0]["id"]
        graph(first, app_token, f"/{phone_id}/register", {"messaging_product": "whatsapp", "pin": "123456"})
        graph(first, app_token, f"/{waba['wabaId']}/subscribed_apps", {})
        users = ["+3519" + str(random.randint(10000000, 99999999)) for _ in range(4)]
        for user in users:
            second.sandbox("POST", f"/phone-numbers/{phone_id}/inbound", {"from": user, "text": "Hi"})
        wamids = [graph(replica, app_token, f"/{phone_id}/messages", {
            "messaging_product": "whatsapp", "to": user, "text": {"body": "hello"}})["messages"][0]["id"]
            for user in users for replica in (first, second)]
        receiver.wait_for(lambda: all(len(receiver.statuses(w)) >= 3 for w in wamids), timeout=30)
        time.sleep(0.5)  # anything sent twice would have arrived by now
        for wamid in wamids:
            assert [s["status"] for s in receiver.statuses(wamid)] == ["sent", "delivered", "read"]
        assert len(receiver.inbound()) == len(users)
