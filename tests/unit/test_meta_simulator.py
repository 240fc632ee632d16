"""The Meta simulator over real HTTP: GraphClient against the Graph API handler, the sandbox API and
the `wabalink meta` CLI, all served by uvicorn from a temporary SQLite store."""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from tests.support.meta import (
    GRAPH_PREFIX,
    Server,
    create_waba,
    free_port,
    running_simulator,
    store_of_kind,
)
from wabalink.cli.meta import main as meta_cli
from wabalink.meta.client import GraphApiError, GraphClient, GraphUnavailableError
from wabalink.store import schema


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with store_of_kind(request.param, tmp_path_factory.mktemp("meta")) as (store, db_path):
        with running_simulator(store, db_path) as running:
            yield running


@pytest.fixture(autouse=True)
def no_faults(server: Server) -> Iterator[None]:
    server.simulator.clear_faults()
    yield
    server.simulator.clear_faults()


@pytest.fixture
def client(server: Server) -> Iterator[GraphClient]:
    graph = server.client()
    yield graph
    graph.close()


# --- token introspection ------------------------------------------------------------------------

def test_debug_token_valid(server: Server, client: GraphClient) -> None:
    waba = create_waba(server)
    info = client.debug_token(waba["accessToken"])
    assert info.is_valid
    assert info.app_id == server.simulator.app.app_id
    assert info.type == "USER"
    assert set(info.scopes) == {"whatsapp_business_management", "whatsapp_business_messaging",
                                "business_management"}
    assert info.granted_waba_ids == [waba["wabaId"]]
    assert info.expires_at == waba["expiresAt"]
    assert info.user_id and info.user_id.isdigit()


def test_debug_token_expired_revoked_unknown(server: Server, client: GraphClient) -> None:
    waba = create_waba(server)
    status, minted = server.sandbox("POST", "/tokens", {"wabaIds": [waba["wabaId"]]})
    assert status == 201
    assert server.sandbox("POST", "/tokens/expire", {"accessToken": waba["accessToken"]})[0] == 200
    expired = client.debug_token(waba["accessToken"])
    assert not expired.is_valid and expired.error_code == 190 and expired.error_subcode == 463
    assert "expired" in (expired.error_message or "")

    assert server.sandbox("POST", "/tokens/revoke", {"accessToken": minted["accessToken"]})[0] == 200
    revoked = client.debug_token(minted["accessToken"])
    assert not revoked.is_valid and revoked.error_code == 190

    unknown = client.debug_token("EAAWnot-a-token")
    assert not unknown.is_valid and unknown.error_code == 190 and unknown.granted_waba_ids == []


def test_debug_token_missing_scope(server: Server, client: GraphClient) -> None:
    waba = create_waba(server)
    _, minted = server.sandbox("POST", "/tokens", {"wabaIds": [waba["wabaId"]], "scopes": ["business_management"]})
    info = client.debug_token(minted["accessToken"])
    assert info.is_valid
    assert "whatsapp_business_management" not in info.scopes
    assert info.granted_waba_ids == []
    with pytest.raises(GraphApiError) as raised:
        client.get_waba(waba["wabaId"], minted["accessToken"])
    assert raised.value.code == 200 and raised.value.status == 403 and raised.value.is_permission_error


def test_debug_token_with_wrong_app_token(server: Server) -> None:
    waba = create_waba(server)
    wrong = GraphClient(server.settings.graph_base_url(), "1|wrong-secret", 5)
    with pytest.raises(GraphApiError) as raised:
        wrong.debug_token(waba["accessToken"])
    error = raised.value
    assert error.code == 190 and error.type == "OAuthException" and error.fbtrace_id
    assert "wrong-secret" not in str(error)


def test_debug_token_by_get_query_as_meta_documents(server: Server) -> None:
    waba = create_waba(server)
    query = urllib.parse.urlencode({"input_token": waba["accessToken"],
                                    "access_token": server.app_token})
    with urllib.request.urlopen(f"{server.endpoint}{GRAPH_PREFIX}/v19.0/debug_token?{query}") as response:
        data = json.loads(response.read())["data"]
    assert data["is_valid"] is True
    assert {"scope": "whatsapp_business_management", "target_ids": [waba["wabaId"]]} in data["granular_scopes"]


# --- WABAs and phone numbers --------------------------------------------------------------------

def test_get_waba_and_phone_numbers(server: Server, client: GraphClient) -> None:
    waba = create_waba(server, "Globex", phone_numbers=3)
    meta_waba = client.get_waba(waba["wabaId"], waba["accessToken"])
    assert (meta_waba.id, meta_waba.name, meta_waba.currency, meta_waba.timezone_id) == (
        waba["wabaId"], "Globex", "USD", "1")
    assert client.get_waba(waba["wabaId"]).name == "Globex"  # the app token

    numbers = client.list_phone_numbers(waba["wabaId"], waba["accessToken"])
    assert sorted(n.id for n in numbers) == sorted(p["id"] for p in waba["phoneNumbers"])
    first = numbers[0]
    assert first.display_phone_number.startswith("+1 555-01")
    assert first.phone_number.startswith("+1555") and first.phone_number[1:].isdigit()
    assert first.verified_name == "Globex" and first.quality_rating == "GREEN"
    assert not first.is_registered


def test_phone_numbers_paging_is_followed(server: Server, client: GraphClient) -> None:
    waba = create_waba(server, phone_numbers=1)
    server.sandbox("POST", f"/wabas/{waba['wabaId']}/phone-numbers", {"count": 5})
    token = waba["accessToken"]
    url = f"{server.endpoint}{GRAPH_PREFIX}/v21.0/{waba['wabaId']}/phone_numbers?limit=2"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        page = json.loads(response.read())
    assert len(page["data"]) == 2 and "next" in page["paging"] and token not in page["paging"]["next"]
    import wabalink.meta.client as client_module
    original = client_module.PAGE_LIMIT
    client_module.PAGE_LIMIT = 2
    try:
        assert len(client.list_phone_numbers(waba["wabaId"], token)) == 6
    finally:
        client_module.PAGE_LIMIT = original


def test_waba_not_granted_to_token(server: Server, client: GraphClient) -> None:
    mine, other = create_waba(server), create_waba(server, "Other")
    with pytest.raises(GraphApiError) as raised:
        client.list_phone_numbers(other["wabaId"], mine["accessToken"])
    assert raised.value.code == 200
    with pytest.raises(GraphApiError) as raised:
        client.get_waba("999999999999999", mine["accessToken"])
    assert raised.value.code == 100 and raised.value.error_subcode == 33


def test_expired_and_revoked_tokens_are_refused(server: Server, client: GraphClient) -> None:
    waba = create_waba(server)
    server.sandbox("POST", "/tokens/expire", {"accessToken": waba["accessToken"]})
    with pytest.raises(GraphApiError) as raised:
        client.get_waba(waba["wabaId"], waba["accessToken"])
    assert raised.value.is_token_error and raised.value.error_subcode == 463
    assert waba["accessToken"] not in str(raised.value)


# --- registration ---------------------------------------------------------------------------------

def test_register_is_idempotent_and_stores_region(server: Server, client: GraphClient) -> None:
    waba = create_waba(server)
    phone_id = waba["phoneNumbers"][0]["id"]
    client.register_phone_number(phone_id, "482915", "DE")
    client.register_phone_number(phone_id, "482915", "DE")  # the same call again succeeds
    status, state = server.sandbox("GET", f"/wabas/{waba['wabaId']}")
    assert status == 200
    registered = next(p for p in state["phoneNumbers"] if p["id"] == phone_id)
    assert registered["status"] == "REGISTERED"
    assert registered["dataLocalizationRegion"] == "DE" and registered["pinSet"] is True
    assert "482915" not in json.dumps(state)
    numbers = {n.id: n for n in client.list_phone_numbers(waba["wabaId"])}
    assert numbers[phone_id].is_registered

    with pytest.raises(GraphApiError) as raised:
        client.register_phone_number(phone_id, "000000")
    assert raised.value.code == 133005 and "000000" not in str(raised.value)


@pytest.mark.parametrize("pin", ["12345", "1234567", "12a456", ""])
def test_register_pin_must_be_six_digits(server: Server, client: GraphClient, pin: str) -> None:
    waba = create_waba(server, phone_numbers=1)
    with pytest.raises(GraphApiError) as raised:
        client.register_phone_number(waba["phoneNumbers"][0]["id"], pin)
    assert raised.value.code == 100 and raised.value.status == 400
    assert "pin" in raised.value.message


def test_register_unknown_phone_number(client: GraphClient) -> None:
    with pytest.raises(GraphApiError) as raised:
        client.register_phone_number("123456789012345", "123456")
    assert raised.value.code == 100


def test_register_with_form_body(server: Server) -> None:
    waba = create_waba(server, phone_numbers=1)
    phone_id = waba["phoneNumbers"][0]["id"]
    body = urllib.parse.urlencode({"messaging_product": "whatsapp", "pin": "555555",
                                   "access_token": server.app_token}).encode()
    with urllib.request.urlopen(f"{server.endpoint}{GRAPH_PREFIX}/v21.0/{phone_id}/register", data=body) as response:
        assert json.loads(response.read()) == {"success": True}


def test_pin_and_tokens_never_stored_in_plain_text(server: Server, client: GraphClient) -> None:
    waba = create_waba(server, phone_numbers=1)
    client.register_phone_number(waba["phoneNumbers"][0]["id"], "731946", "IN")
    with server.store.engine.connect() as conn:
        every_row = repr([conn.execute(sqlalchemy.select(table)).all() for table in schema.metadata.sorted_tables])
    assert "731946" not in every_row and waba["accessToken"] not in every_row
    if not server.store.is_sqlite:
        return
    server.store.engine.dispose()  # let SQLite fold the WAL back into the file for a complete read
    files = [server.db_path, Path(f"{server.db_path}-wal")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    assert raw, "nothing to inspect"
    assert b"731946" not in raw
    assert waba["accessToken"].encode() not in raw


def test_deregister(server: Server, client: GraphClient) -> None:
    waba = create_waba(server, phone_numbers=1)
    phone_id = waba["phoneNumbers"][0]["id"]
    client.register_phone_number(phone_id, "111111", "GB")
    client.deregister_phone_number(phone_id)
    client.deregister_phone_number(phone_id)
    _, state = server.sandbox("GET", f"/wabas/{waba['wabaId']}")
    phone = state["phoneNumbers"][0]
    assert phone["status"] == "UNREGISTERED" and phone["pinSet"] is False
    client.register_phone_number(phone_id, "222222")  # a new PIN after deregistration


# --- webhook subscriptions ------------------------------------------------------------------------

def test_subscribe_and_unsubscribe(server: Server, client: GraphClient) -> None:
    waba = create_waba(server, phone_numbers=0)
    client.subscribe_app(waba["wabaId"])
    client.subscribe_app(waba["wabaId"])
    _, state = server.sandbox("GET", f"/wabas/{waba['wabaId']}")
    assert state["subscribedApps"] == [server.simulator.app.app_id]
    request = urllib.request.Request(f"{server.endpoint}{GRAPH_PREFIX}/v21.0/{waba['wabaId']}/subscribed_apps",
                                     headers={"Authorization": f"Bearer {waba['accessToken']}"})
    with urllib.request.urlopen(request) as response:
        listed = json.loads(response.read())["data"]
    assert listed[0]["whatsapp_business_api_data"]["id"] == server.simulator.app.app_id
    client.unsubscribe_app(waba["wabaId"])
    assert server.sandbox("GET", f"/wabas/{waba['wabaId']}")[1]["subscribedApps"] == []
    with pytest.raises(GraphApiError):
        client.subscribe_app("999999999999999")


# --- faults -----------------------------------------------------------------------------------------

def test_fail_next_calls(server: Server, client: GraphClient) -> None:
    waba = create_waba(server, phone_numbers=1)
    status, faults = server.sandbox("PUT", "/faults", {"failNextCalls": 2, "failStatus": 503})
    assert status == 200 and faults["failNextCalls"] == 2
    for _ in range(2):
        with pytest.raises(GraphApiError) as raised:
            client.get_waba(waba["wabaId"])
        assert raised.value.status == 503 and raised.value.is_server_error and raised.value.fbtrace_id
    assert client.get_waba(waba["wabaId"]).id == waba["wabaId"]
    assert server.sandbox("GET", "/faults")[1]["failNextCalls"] == 0


def test_fault_path_filter(server: Server, client: GraphClient) -> None:
    waba = create_waba(server, phone_numbers=2)
    first, second = (p["id"] for p in waba["phoneNumbers"])
    server.sandbox("PUT", "/faults", {"failNextCalls": 1, "pathContains": "/register"})
    client.get_waba(waba["wabaId"])  # not a register call: untouched
    with pytest.raises(GraphApiError) as raised:
        client.register_phone_number(first, "123456")
    assert raised.value.status == 500
    client.register_phone_number(second, "123456")
    client.register_phone_number(first, "123456")


def test_fault_counts_are_consumed_once_under_concurrency(server: Server) -> None:
    waba = create_waba(server, phone_numbers=0)
    server.sandbox("PUT", "/faults", {"failNextCalls": 5})
    graph = server.client()

    def call() -> bool:
        try:
            graph.get_waba(waba["wabaId"])
            return True
        except GraphApiError:
            return False

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: call(), range(40)))
    assert results.count(False) == 5


def test_latency(server: Server, client: GraphClient) -> None:
    waba = create_waba(server, phone_numbers=0)
    server.sandbox("PUT", "/faults", {"latencyMs": 300})
    started = time.perf_counter()
    client.get_waba(waba["wabaId"])
    assert time.perf_counter() - started >= 0.3
    short = server.client(timeout=0.1)
    with pytest.raises(GraphUnavailableError):
        short.get_waba(waba["wabaId"])


def test_unreachable_graph() -> None:
    graph = GraphClient(f"http://127.0.0.1:{free_port()}/meta/graph", "1|secret", 2)
    with pytest.raises(GraphUnavailableError) as raised:
        graph.debug_token("EAAWsecret-user-token")
    assert "secret" not in str(raised.value)


def test_non_json_answer_is_unavailable(server: Server) -> None:
    graph = GraphClient(server.endpoint + "/elsewhere", "1|secret", 2)
    with pytest.raises((GraphUnavailableError, GraphApiError)):
        graph.get_waba("123")


# --- sandbox ----------------------------------------------------------------------------------------

def test_sandbox_create_waba_shape(server: Server) -> None:
    status, answer = server.sandbox("POST", "/wabas", {"name": "Initech", "phoneNumbers": 2, "currency": "EUR",
                                                       "timezoneId": "47", "businessName": "Initech Ltd"})
    assert status == 201
    assert answer["wabaId"].isdigit() and 15 <= len(answer["wabaId"]) <= 16
    assert answer["businessId"].isdigit() and answer["currency"] == "EUR" and answer["timezoneId"] == "47"
    assert len(answer["phoneNumbers"]) == 2
    assert {"id", "displayPhoneNumber", "verifiedName", "qualityRating"} <= set(answer["phoneNumbers"][0])
    assert answer["accessToken"].startswith("EAA") and answer["expiresAt"] > time.time()


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": "x", "phoneNumbers": -1}, "phoneNumbers"),
    ({"name": "x", "phoneNumbers": "2"}, "phoneNumbers"),
    ({"name": "x", "currency": "dollars"}, "currency"),
])
def test_sandbox_bad_input_names_field(server: Server, body: dict[str, Any], field: str) -> None:
    status, answer = server.sandbox("POST", "/wabas", body)
    assert status == 400 and field in answer["error"]["message"]


def test_sandbox_unknown_ids(server: Server) -> None:
    assert server.sandbox("GET", "/wabas/123")[0] == 404
    assert server.sandbox("POST", "/wabas/123/phone-numbers", {"count": 1})[0] == 404
    assert server.sandbox("POST", "/tokens", {"wabaIds": ["123"]})[0] == 404
    assert server.sandbox("POST", "/tokens/revoke", {"accessToken": "nope"})[0] == 404
    assert server.sandbox("PUT", "/phone-numbers/123/quality-rating", {"qualityRating": "RED"})[0] == 404
    assert server.sandbox("GET", "/nothing-here")[0] == 404


def test_sandbox_quality_rating_and_add_numbers(server: Server, client: GraphClient) -> None:
    waba = create_waba(server, phone_numbers=1)
    phone_id = waba["phoneNumbers"][0]["id"]
    status, answer = server.sandbox("PUT", f"/phone-numbers/{phone_id}/quality-rating", {"qualityRating": "YELLOW"})
    assert status == 200 and answer["qualityRating"] == "YELLOW"
    assert server.sandbox("PUT", f"/phone-numbers/{phone_id}/quality-rating", {"qualityRating": "BLUE"})[0] == 400
    status, added = server.sandbox("POST", f"/wabas/{waba['wabaId']}/phone-numbers",
                                   {"displayPhoneNumber": "+1 555-010-4242", "verifiedName": "Acme Support"})
    assert status == 201 and added["phoneNumbers"][0]["displayPhoneNumber"] == "+1 555-010-4242"
    numbers = {n.id: n for n in client.list_phone_numbers(waba["wabaId"], waba["accessToken"])}
    assert numbers[phone_id].quality_rating == "YELLOW"
    assert numbers[added["phoneNumbers"][0]["id"]].verified_name == "Acme Support"


def test_sandbox_mint_token_with_expiry(server: Server, client: GraphClient) -> None:
    waba = create_waba(server, phone_numbers=0)
    status, minted = server.sandbox("POST", "/tokens", {"wabaIds": [waba["wabaId"]], "expiresInSeconds": 0})
    assert status == 201
    assert not client.debug_token(minted["accessToken"]).is_valid


# --- the `wabalink meta` CLI --------------------------------------------------------------------

def run_cli(capsys: pytest.CaptureFixture[str], server: Server, *argv: str) -> tuple[int, Any, str]:
    code = meta_cli([*argv, "--endpoint", server.endpoint])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_cli_flow(server: Server, capsys: pytest.CaptureFixture[str], client: GraphClient) -> None:
    code, waba, _ = run_cli(capsys, server, "create-waba", "--name", "CLI Co", "--phone-numbers", "2")
    assert code == 0 and len(waba["phoneNumbers"]) == 2 and waba["accessToken"] and waba["wabaId"]
    assert client.debug_token(waba["accessToken"]).granted_waba_ids == [waba["wabaId"]]

    code, added, _ = run_cli(capsys, server, "add-phone-number", "--waba-id", waba["wabaId"])
    assert code == 0 and len(added["phoneNumbers"]) == 1
    code, minted, _ = run_cli(capsys, server, "mint-token", "--waba-id", waba["wabaId"], "--expires-in", "60",
                              "--scopes", "whatsapp_business_management")
    assert code == 0 and client.debug_token(minted["accessToken"]).scopes == ["whatsapp_business_management"]
    assert run_cli(capsys, server, "expire-token", "--access-token", minted["accessToken"])[0] == 0
    assert run_cli(capsys, server, "revoke-token", "--access-token", waba["accessToken"])[0] == 0
    assert not client.debug_token(waba["accessToken"]).is_valid

    phone_id = waba["phoneNumbers"][0]["id"]
    code, phone, _ = run_cli(capsys, server, "set-quality-rating", "--phone-number-id", phone_id, "--rating", "RED")
    assert code == 0 and phone["qualityRating"] == "RED"
    code, state, _ = run_cli(capsys, server, "show-waba", "--waba-id", waba["wabaId"])
    assert code == 0 and len(state["phoneNumbers"]) == 3

    code, faults, _ = run_cli(capsys, server, "inject-fault", "--fail-next", "3", "--status", "502",
                              "--path-contains", "register", "--latency-ms", "5")
    assert code == 0 and faults == {"failNextCalls": 3, "failStatus": 502, "pathContains": "register",
                                    "latencyMs": 5}
    code, faults, _ = run_cli(capsys, server, "clear-faults")
    assert code == 0 and faults["failNextCalls"] == 0


def test_cli_errors(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, server, "show-waba", "--waba-id", "123")
    assert code == 254 and "404" in err
    code, _, err = run_cli(capsys, server, "set-quality-rating", "--phone-number-id", "1", "--rating", "BLUE")
    assert code == 252 and "rating" in err
    assert meta_cli([]) == 252
    assert meta_cli(["create-waba"]) == 252  # --name is required
    capsys.readouterr()
    code = meta_cli(["clear-faults", "--endpoint", f"http://127.0.0.1:{free_port()}"])
    assert code == 255 and "Could not connect to" in capsys.readouterr().err


def test_no_secret_in_debug_logs(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    waba = create_waba(server, phone_numbers=1)
    caplog.set_level(logging.DEBUG)
    graph = server.client()
    assert graph.debug_token(waba["accessToken"]).is_valid
    graph.list_phone_numbers(waba["wabaId"], waba["accessToken"])
    graph.register_phone_number(waba["phoneNumbers"][0]["id"], "864209", "BR")
    graph.subscribe_app(waba["wabaId"])
    server.sandbox("PUT", "/faults", {"failNextCalls": 1})
    with pytest.raises(GraphApiError) as raised:
        graph.deregister_phone_number(waba["phoneNumbers"][0]["id"])
    logged = caplog.text + str(raised.value)
    for secret in (waba["accessToken"], "864209", server.simulator.app.app_secret):
        assert secret not in logged
