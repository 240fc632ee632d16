"""State control for test suites: `serve --ephemeral` (a database removed at exit), `meta reset`
(the store emptied, the server's secrets kept), and `--allow-unauthenticated` (permissive mode on
a non-loopback address, deliberately)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support import REPO_ROOT
from tests.support.flows import linked_waba
from tests.support.servers import free_port
from wabalink.meta.reset import KEPT_TABLES, emptied_tables
from wabalink.store import schema
from wabalink.store.blobs import default_blob_folder
from wabalink.store.db import Store

JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")

SERVE = [sys.executable, "-m", "wabalink.cli.main", "serve"]


def start_serve(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen([*SERVE, "--port", str(port), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, cwd=REPO_ROOT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"wabalink serve exited {process.returncode}: {process.stderr.read()}")
        try:
            urllib.request.urlopen(endpoint + "/_wabalink/health", timeout=1).read()
            return process, endpoint
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("wabalink serve did not start")


def stop_serve(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    return stderr


# --- serve --ephemeral --------------------------------------------------------------------------

def test_ephemeral_database_is_removed_at_exit(tmp_path: Path) -> None:
    process, endpoint = start_serve(["--ephemeral"], env={"TMPDIR": str(tmp_path)})
    try:
        [folder] = list(tmp_path.glob("wabalink-ephemeral-*"))
        assert (folder / "wabalink.db").exists()
        request = urllib.request.Request(endpoint + "/meta/sandbox/wabas", method="POST",
                                         data=json.dumps({"name": "Gone soon"}).encode(),
                                         headers={"content-type": "application/json"})
        assert json.load(urllib.request.urlopen(request, timeout=10))["name"] == "Gone soon"
    finally:
        stop_serve(process)
    assert process.returncode in (0, 128 + signal.SIGTERM), process.returncode
    assert not folder.exists()
    assert not Path(REPO_ROOT, ".wabalink", "ephemeral").exists()


def test_ephemeral_refuses_an_explicit_database(tmp_path: Path) -> None:
    done = subprocess.run([*SERVE, "--ephemeral", "--database", f"sqlite:///{tmp_path / 'x.db'}"],
                          capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert done.returncode == 2
    assert "--ephemeral" in done.stderr and "--database" in done.stderr


# --- meta reset ---------------------------------------------------------------------------------

def count_rows(database_url: str) -> dict[str, int]:
    store = Store(database_url)
    try:
        metadata = schema.complete_metadata()
        with store.engine.connect() as conn:
            return {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                    for name, table in metadata.tables.items()}
    finally:
        store.dispose()


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_meta_reset_empties_the_store_and_keeps_the_secrets(start_server: Any, database: str) -> None:
    server = start_server(database)
    client = server.client("123456789012")
    meta_waba, entry = linked_waba(server, client, "Before reset", phone_numbers=2)
    arn = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]["arn"]
    client.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "a"}])
    server.set_faults(latencyMs=1)
    phone = server.sandbox("GET", f"/wabas/{meta_waba['wabaId']}")["phoneNumbers"][0]["id"]
    server.sandbox("POST", f"/phone-numbers/{phone}/inbound", {
        "from": "+15550001111", "image": {"data": base64.b64encode(JPEG).decode(), "mimeType": "image/jpeg"}})
    blobs = default_blob_folder(server.database_url)
    if database == "sqlite":
        assert [path for path in blobs.rglob("*") if path.is_file()]
    before = count_rows(server.database_url)
    assert before["linked_wabas"] == 1 and before["meta_wabas"] == 1 and before["resource_tags"] == 1

    done = subprocess.run([sys.executable, "-m", "wabalink.cli.main", "meta", "reset", "--endpoint", server.endpoint],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["reset"] is True and answer["tables"]["linked_wabas"] == 1

    after = count_rows(server.database_url)
    assert {name: count for name, count in after.items() if name not in KEPT_TABLES and count} == {}
    assert after["service_secrets"] == before["service_secrets"] >= 1
    assert after["meta_simulator_app"] == 1
    assert set(emptied_tables()) | KEPT_TABLES == set(after)
    assert client.list_linked_whatsapp_business_accounts()["linkedAccounts"] == []
    assert server.sandbox("GET", "/faults")["latencyMs"] == 0
    if database == "sqlite":
        assert [path for path in blobs.rglob("*") if path.is_file()] == []  # the media bytes went too
    # the server goes on working: same app credentials, same page-token key
    linked_waba(server, client, "After reset")
    assert [a["wabaName"] for a in client.list_linked_whatsapp_business_accounts()["linkedAccounts"]] \
        == ["After reset"]


def test_meta_reset_needs_the_operator_token_when_one_is_set(start_server: Any) -> None:
    server = start_server(env={"WABALINK_SANDBOX_TOKEN": "operator"})
    command = [sys.executable, "-m", "wabalink.cli.main", "meta", "reset", "--endpoint", server.endpoint]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "HTTP 401" in refused.stderr
    done = subprocess.run([*command, "--sandbox-token", "operator"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)["reset"] is True, done.stderr


# --- --allow-unauthenticated ---------------------------------------------------------------------

def test_plain_permissive_refuses_a_non_loopback_address(tmp_path: Path) -> None:
    done = subprocess.run([*SERVE, "--host", "0.0.0.0", "--port", str(free_port()),
                           "--database", f"sqlite:///{tmp_path / 'x.db'}"],
                          capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
                          env={k: v for k, v in os.environ.items() if k != "WABALINK_ALLOW_UNAUTHENTICATED"})
    assert done.returncode == 2
    assert "--auth strict" in done.stderr and "--allow-unauthenticated" in done.stderr


@pytest.mark.parametrize("how", ["option", "environment"])
def test_allow_unauthenticated_serves_on_all_addresses_with_a_warning(tmp_path: Path, how: str) -> None:
    args = ["--host", "0.0.0.0", "--database", f"sqlite:///{tmp_path / 'x.db'}"]
    env = None
    if how == "option":
        args.append("--allow-unauthenticated")
    else:
        env = {"WABALINK_ALLOW_UNAUTHENTICATED": "1"}
    process, endpoint = start_serve(args, env)
    try:
        import boto3

        client = boto3.client("socialmessaging", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="123456789012", aws_secret_access_key="x")
        assert client.list_linked_whatsapp_business_accounts()["linkedAccounts"] == []
    finally:
        stderr = stop_serve(process)
    warnings = [json.loads(line) for line in stderr.splitlines()
                if line.startswith("{") and json.loads(line)["level"] == "warning"]
    assert any("without authentication" in entry["message"] and entry["host"] == "0.0.0.0" for entry in warnings)
