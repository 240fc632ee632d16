"""The simulator under hostile or careless input, on SQLite and PostgreSQL: the same input gets
the same JSON 400 on both stores; strict servers guard the sandbox; every Graph route needs a
token; the app's credentials are generated per database; token errors say why; faults can
fail a whole time window."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.support.meta import GRAPH_PREFIX, Server, create_waba, running_simulator, store_of_kind
from wabalink.config import Settings
from wabalink.meta.client import GraphApiError
from wabalink.meta.graph_api import GRAPH_ROUTES
from wabalink.meta.routing import Route, RouteTable
from wabalink.meta.simulator import MetaSimulator, simulator_app_credentials
from wabalink.store.db import Store

STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=STORES)
def stored(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    with store_of_kind(request.param, tmp_path_factory.mktemp("hardening")) as pair:
        yield pair


@pytest.fixture(scope="module")
def server(stored: tuple[Store, Path]) -> Iterator[Server]:
    with running_simulator(*stored) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults(server: Server) -> Iterator[None]:
    server.simulator.clear_faults()
    yield
    server.simulator.clear_faults()


def graph(server: Server, method: str, path: str, body: dict[str, Any] | None = None, *,
          token: str | None = "app", raw: bytes | None = None) -> tuple[int, Any]:
    headers = {} if token is None else {"Authorization": f"Bearer {server.app_token if token == 'app' else token}"}
    return server.call(method, f"{GRAPH_PREFIX}/v21.0{path}", body, headers=headers, raw=raw)


def assert_sandbox_400(answer: tuple[int, Any], *words: str) -> None:
    status, body = answer
    assert status == 400, body
    assert set(body) == {"error"} and set(body["error"]) == {"message"}
    for word in words:
        assert word in body["error"]["message"]


def assert_graph_error(answer: tuple[int, Any], code: int, status: int = 400) -> dict[str, Any]:
    got_status, body = answer
    assert got_status == status, body
    assert {"message", "type", "code", "fbtrace_id"} <= set(body["error"]) and body["error"]["code"] == code
    return dict(body["error"])


# --- the same 400 on both stores (hostile input never reaches the store) -------------------------

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


def test_deep_json_is_a_400(server: Server) -> None:
    assert_sandbox_400(server.sandbox("POST", "/wabas", raw=DEEP_JSON), "JSON")
    assert_sandbox_400(server.sandbox("POST", "/wabas", raw=b'{"name": ' + DEEP_JSON + b"}"), "JSON")
    waba = create_waba(server, phone_numbers=1)
    assert_graph_error(graph(server, "POST", f"/{waba['phoneNumbers'][0]['id']}/register", raw=DEEP_JSON), 100)
    assert_graph_error(graph(server, "POST", f"/{waba['phoneNumbers'][0]['id']}/register",
                             raw=b'{"pin": ' + DEEP_JSON + b"}"), 100)


@pytest.mark.parametrize("body", [
    {"name": "Ac\u0000me"},
    {"name": "Acme", "businessName": "Acme\u0000 Inc"},
    {"name": "n" * 201},
    {"name": "Acme", "businessName": "b" * 201},
    {"name": "Acme", "currency": "U\u0000D"},
    {"name": "Acme", "timezoneId": "1\u0000"},
])
def test_bad_waba_names_are_400(server: Server, body: dict[str, Any]) -> None:
    assert_sandbox_400(server.sandbox("POST", "/wabas", body))


def test_names_at_the_column_length_are_accepted(server: Server) -> None:
    status, waba = server.sandbox("POST", "/wabas", {"name": "n" * 200, "businessName": "b" * 200})
    assert status == 201 and waba["name"] == "n" * 200
    status, added = server.sandbox("POST", f"/wabas/{waba['wabaId']}/phone-numbers",
                                   {"displayPhoneNumber": "+1 555 010 1234 5678", "verifiedName": "v" * 200})
    assert status == 201 and len(added["phoneNumbers"][0]["displayPhoneNumber"]) == 20


@pytest.mark.parametrize("body", [
    {"displayPhoneNumber": "+1 555 010 1234 56789"},  # 21 characters: the column holds 20
    {"displayPhoneNumber": "+1 555\u0000010 1234"},
    {"verifiedName": "v" * 201},
    {"verifiedName": "Ac\u0000me"},
])
def test_bad_phone_numbers_are_400(server: Server, body: dict[str, Any]) -> None:
    waba = create_waba(server, phone_numbers=0)
    assert_sandbox_400(server.sandbox("POST", f"/wabas/{waba['wabaId']}/phone-numbers", body))


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/wabas/12%00", None),
    ("GET", "/wabas/%00", None),
    ("POST", "/wabas/12%0034/phone-numbers", {}),
    ("GET", "/wabas/" + "9" * 40, None),
    ("PUT", "/phone-numbers/1%00/quality-rating", {"qualityRating": "RED"}),
    ("POST", "/tokens", {"wabaIds": ["12\u0000"]}),
    ("POST", "/tokens", {"wabaIds": ["1"] * 101}),
    ("POST", "/tokens", {"scopes": ["whatsapp\u0000"]}),
    ("POST", "/tokens/expire", {"accessToken": "EAAW\u0000"}),
    ("POST", "/tokens/revoke", {"accessToken": "x" * 1001}),
    ("POST", "/faults", {"failNext": 1, "pathContains": "/reg\u0000ister"}),
])
def test_bad_ids_and_values_are_400(server: Server, method: str, path: str, body: dict[str, Any] | None) -> None:
    assert_sandbox_400(server.sandbox(method, path, body))


@pytest.mark.parametrize("path", ["/12%00", "/%00/phone_numbers", "/12%0034/subscribed_apps"])
def test_graph_nul_in_path_ids_is_a_meta_400(server: Server, path: str) -> None:
    assert_graph_error(graph(server, "GET", path), 2500)


def test_graph_bad_paging_cursor_is_a_meta_400(server: Server) -> None:
    waba = create_waba(server, phone_numbers=1)
    error = assert_graph_error(graph(server, "GET", f"/{waba['wabaId']}/phone_numbers?after=%00"), 100)
    assert "after" in error["message"]


# --- who may call -------------------------------------------------------------------------------

def concrete(route: Route[Any]) -> str:
    return "/".join("123456789012345" if s.startswith("{") else s for s in route.pattern.split("/"))


@pytest.mark.parametrize("route", GRAPH_ROUTES, ids=lambda r: f"{r.method} {r.pattern}")
def test_every_graph_route_needs_a_token(server: Server, route: Route[Any]) -> None:
    assert_graph_error(graph(server, route.method, concrete(route), {} if route.method == "POST" else None,
                             token=None), 104)
    assert_graph_error(graph(server, route.method, concrete(route), {} if route.method == "POST" else None,
                             token="EAAWforged"), 190)


def test_unknown_graph_path_needs_a_token_too(server: Server) -> None:
    assert_graph_error(graph(server, "GET", "/123/no_such_edge", token=None), 104)
    assert_graph_error(graph(server, "GET", "/123/no_such_edge"), 2500)


def test_strict_sandbox_needs_the_operator_token(stored: tuple[Store, Path]) -> None:
    with running_simulator(*stored, auth_mode="strict", sandbox_token="operator-token") as strict:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic operator-token"}):
            status, body = strict.sandbox("POST", "/wabas", {"name": "Acme"}, headers=headers)
            assert status == 401 and "operator token" in body["error"]["message"]
        status, _ = strict.sandbox("GET", "/faults", headers={"Authorization": "Bearer operator-token"})
        assert status == 200
        status, waba = strict.sandbox("POST", "/wabas", {"name": "Acme"},
                                      headers={"Authorization": "Bearer operator-token"})
        assert status == 201
        # Graph calls are the app's or a granted user's, never the operator's.
        assert_graph_error(graph(strict, "GET", f"/{waba['wabaId']}", token="operator-token"), 190)


def test_strict_sandbox_without_an_operator_token_is_closed(stored: tuple[Store, Path]) -> None:
    with running_simulator(*stored, auth_mode="strict") as strict:
        status, body = strict.sandbox("POST", "/wabas", {"name": "Acme"})
        assert status == 403 and "--sandbox-token" in body["error"]["message"]


def test_sandbox_switched_off(stored: tuple[Store, Path]) -> None:
    with running_simulator(*stored, sandbox_enabled=False) as off:
        status, body = off.sandbox("GET", "/faults")
        assert status == 404 and "switched off" in body["error"]["message"]


def test_app_credentials_are_generated_per_database(server: Server, tmp_path: Path) -> None:
    app = server.simulator.app
    defaults = Settings()
    assert app.app_secret != defaults.meta_app_secret and len(app.app_secret) >= 32
    assert simulator_app_credentials(server.store) == (app.app_id, app.app_token, app.app_secret)
    # A restart (another simulator on the same database) keeps them.
    with closing(MetaSimulator(server.store, server.settings)) as restarted:  # its background pumps stop
        assert restarted.app == app
    # The built-in constant of the settings is no credential here.
    assert_graph_error(graph(server, "GET", "/debug_token?input_token=x", token=defaults.meta_app_token), 190)
    with store_of_kind("sqlite", tmp_path) as (other_store, _):
        assert simulator_app_credentials(other_store)[2] != app.app_secret


def test_each_simulator_has_its_own_fault_injector(server: Server) -> None:
    with closing(MetaSimulator(server.store, server.settings)) as other:
        assert other.faults is not server.simulator.faults


# --- token errors say why ---------------------------------------------------------------------------

def test_unknown_expired_and_revoked_tokens_differ(server: Server) -> None:
    waba = create_waba(server, phone_numbers=0)
    _, minted = server.sandbox("POST", "/tokens", {"wabaIds": [waba["wabaId"]]})
    server.sandbox("POST", "/tokens/expire", {"accessToken": waba["accessToken"]})
    server.sandbox("POST", "/tokens/revoke", {"accessToken": minted["accessToken"]})

    unknown = assert_graph_error(graph(server, "GET", f"/{waba['wabaId']}", token="EAAWnever-issued"), 190)
    expired = assert_graph_error(graph(server, "GET", f"/{waba['wabaId']}", token=waba["accessToken"]), 190)
    revoked = assert_graph_error(graph(server, "GET", f"/{waba['wabaId']}", token=minted["accessToken"]), 190)
    assert "error_subcode" not in unknown and "Cannot parse access token" in unknown["message"]
    assert expired["error_subcode"] == 463 and "Session has expired on" in expired["message"]
    assert revoked["error_subcode"] == 460 and "invalidated" in revoked["message"]

    client = server.client()
    assert client.debug_token("EAAWnever-issued").invalid_reason == "unknown"
    assert client.debug_token(waba["accessToken"]).invalid_reason == "expired"
    assert client.debug_token(minted["accessToken"]).invalid_reason == "revoked"
    with pytest.raises(GraphApiError) as raised:
        client.get_waba(waba["wabaId"], waba["accessToken"])
    assert raised.value.token_invalid_reason == "expired"


# --- faults -------------------------------------------------------------------------------------------

def test_fault_window_fails_every_matching_call(server: Server) -> None:
    waba = create_waba(server, phone_numbers=1)
    status, faults = server.sandbox("POST", "/faults", {"durationSeconds": 0.8, "status": 503,
                                                        "pathContains": "/phone_numbers"})
    assert status == 200 and faults["failStatus"] == 503 and 0 < faults["remainingSeconds"] <= 0.8
    assert server.sandbox("GET", "/faults")[1]["failUntil"] == faults["failUntil"]
    client = server.client()
    for _ in range(5):  # as many as an SDK's retries: all fail
        with pytest.raises(GraphApiError) as raised:
            client.list_phone_numbers(waba["wabaId"])
        assert raised.value.status == 503
    assert client.get_waba(waba["wabaId"]).id == waba["wabaId"]  # not matching the path: untouched
    time.sleep(0.85)
    assert len(client.list_phone_numbers(waba["wabaId"])) == 1
    assert "failUntil" not in server.sandbox("GET", "/faults")[1]


def test_fault_post_names_and_clear(server: Server) -> None:
    status, faults = server.sandbox("POST", "/faults", {"failNext": 2, "status": 502, "latencyMs": 1})
    assert status == 200
    assert faults == {"failNextCalls": 2, "failStatus": 502, "pathContains": None, "latencyMs": 1}
    status, cleared = server.sandbox("DELETE", "/faults")
    assert status == 200 and cleared["failNextCalls"] == 0 and cleared["latencyMs"] == 0


@pytest.mark.parametrize(("method", "body"), [
    ("POST", {}), ("POST", {"status": 503}), ("POST", {"pathContains": "/register"}),
    ("POST", {"failNext": 0}), ("PUT", {}), ("POST", {"durationSeconds": -1}),
    ("POST", {"durationSeconds": 86401}), ("POST", {"durationSeconds": "1"}), ("POST", {"failNext": 1, "status": 200}),
])
def test_empty_or_bad_fault_specs_are_400(server: Server, method: str, body: dict[str, Any]) -> None:
    server.sandbox("POST", "/faults", {"latencyMs": 1})
    assert_sandbox_400(server.sandbox(method, "/faults", body))
    assert server.sandbox("GET", "/faults")[1]["latencyMs"] == 1  # nothing was silently cleared


# --- route tables ----------------------------------------------------------------------------------

def test_route_table_binds_placeholders_in_declaration_order() -> None:
    table = RouteTable([Route("GET", "/debug_token", "debug"), Route("GET", "/{object_id}", "node"),
                        Route("GET", "/{waba_id}/message_templates", "templates")], placeholder=r"[0-9]{1,32}")
    assert table.match("GET", ["debug_token"]).handler == "debug"  # type: ignore[union-attr]
    found = table.match("GET", ["42", "message_templates"])
    assert found is not None and found.handler == "templates" and found.args == {"waba_id": "42"}
    assert table.match("POST", ["42"]) is None
    assert table.match("GET", ["4\u00002"]) is None
    assert table.match("GET", ["42", "other"]) is None
