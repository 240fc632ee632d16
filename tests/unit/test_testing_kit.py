"""wabalink.testing: the in-process server, its sandbox client, one-call linking and the event log
client, used as a test suite uses them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.postgres import drop_postgres_schema, fresh_postgres_url, require_postgres
from wabalink.testing import (
    SandboxError,
    WabalinkServer,
    wabalink_server,
)


@pytest.fixture(scope="module")
def kit_server() -> Any:
    with wabalink_server() as server:
        yield server


def test_starts_in_well_under_a_second_and_removes_its_database() -> None:
    import wabalink.server.app  # noqa: F401 - imports are the process's, paid once: time the server itself

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        with wabalink_server() as server:
            timings.append(time.perf_counter() - started)
            database = Path(server.database_url.removeprefix("sqlite:///"))
            assert database.exists()
            assert server.client().list_linked_whatsapp_business_accounts()["linkedAccounts"] == []
        assert not database.parent.exists()
    print(f"\nin-process server start: {', '.join(f'{t * 1000:.0f} ms' for t in timings)}")
    assert min(timings) < 1.0


def test_stop_is_clean_and_idempotent() -> None:
    server = WabalinkServer().start()
    endpoint = server.endpoint
    server.stop()
    server.stop()
    import urllib.request

    with pytest.raises(OSError):
        urllib.request.urlopen(endpoint + "/_wabalink/health", timeout=2)


def test_two_servers_side_by_side_do_not_share_state() -> None:
    with wabalink_server() as first, wabalink_server() as second:
        assert first.port != second.port
        first.link(name="Only here")
        assert [a["wabaName"] for a in first.client().list_linked_whatsapp_business_accounts()["linkedAccounts"]] \
            == ["Only here"]
        assert second.client().list_linked_whatsapp_business_accounts()["linkedAccounts"] == []


def test_settings_reach_the_server() -> None:
    with wabalink_server(waba_quota_per_region=1) as server:
        server.link(name="First")
        with pytest.raises(ClientError) as raised:
            server.link(name="Second")
        assert raised.value.response["Error"]["Code"] == "LimitExceededException"


def test_link_returns_the_linked_waba_and_its_numbers(kit_server: Any) -> None:
    waba = kit_server.link(name="Acme", phone_numbers=2, account_id="111122223333", region="eu-west-1",
                           event_destinations=["arn:aws:sns:eu-west-1:111122223333:events"],
                           data_localization_region="DE")
    assert waba.id.startswith("waba-") and waba.arn.endswith(waba.id.removeprefix("waba-"))
    assert waba.arn.startswith("arn:aws:social-messaging:eu-west-1:111122223333:waba/")
    assert (waba.account_id, waba.region, waba.name) == ("111122223333", "eu-west-1", "Acme")
    assert len(waba.phone_numbers) == 2 and waba.phone_number == waba.phone_numbers[0]
    client = kit_server.client(account_id="111122223333", region="eu-west-1")
    account = client.get_linked_whatsapp_business_account(id=waba.id)["account"]
    assert account["registrationStatus"] == "COMPLETE" and account["wabaId"] == waba.meta_waba_id
    assert account["eventDestinations"] == [{"eventDestinationArn": "arn:aws:sns:eu-west-1:111122223333:events"}]
    for phone in waba.phone_numbers:
        details = client.get_linked_whatsapp_business_account_phone_number(id=phone.id)
        assert details["phoneNumber"]["metaPhoneNumberId"] == phone.meta_phone_number_id
        assert details["phoneNumber"]["arn"] == phone.arn
        assert details["phoneNumber"]["dataLocalizationRegion"] == "DE"
    meta_state = kit_server.meta.show_waba(waba.meta_waba_id)
    assert {p["status"] for p in meta_state["phoneNumbers"]} == {"REGISTERED"}
    # another account, or the same account in another region, does not see it
    assert kit_server.client(account_id="111122223333").list_linked_whatsapp_business_accounts()["linkedAccounts"] == []


def test_sandbox_client_drives_the_simulator(kit_server: Any) -> None:
    meta = kit_server.meta
    created = meta.create_waba("Sandbox", phone_numbers=0, currency="EUR")
    assert created["currency"] == "EUR" and created["phoneNumbers"] == []
    added = meta.add_phone_numbers(created["wabaId"], 1, display_phone_number="+1 555-010-9999")
    assert added[0]["displayPhoneNumber"] == "+1 555-010-9999"
    assert meta.set_quality_rating(added[0]["id"], "RED")["qualityRating"] == "RED"

    client = kit_server.client(account_id="222233334444")
    token = meta.mint_token([created["wabaId"]])
    meta.expire_token(token)
    with pytest.raises(ClientError) as raised:
        client.associate_whatsapp_business_account(signupCallback={"accessToken": token})
    assert raised.value.response["Error"]["Code"] == "InvalidParametersException"
    assert "signupCallback.accessToken" in raised.value.response["Error"]["Message"]
    revoked = meta.mint_token([created["wabaId"]])
    meta.revoke_token(revoked)
    with pytest.raises(ClientError):
        client.associate_whatsapp_business_account(signupCallback={"accessToken": revoked})

    with pytest.raises(SandboxError) as refused:
        meta.set_quality_rating(added[0]["id"], "PURPLE")
    assert refused.value.status == 400 and "qualityRating" in refused.value.message


def test_faults_through_the_sandbox_client(kit_server: Any) -> None:
    meta = kit_server.meta
    try:
        # boto3 retries a failing dependency: fail more calls than it makes
        assert meta.inject_fault(fail_next=20, status=503)["failNextCalls"] == 20
        with pytest.raises(ClientError) as raised:
            kit_server.link(name="Faulty", account_id="333344445555")
        assert raised.value.response["Error"]["Code"] == "DependencyException"
        assert meta.show_faults()["failNextCalls"] < 20
        meta.clear_faults()
        assert meta.show_faults()["failNextCalls"] == 0
        assert kit_server.link(name="Healthy", account_id="333344445555").name == "Healthy"
    finally:
        meta.clear_faults()


def test_client_serves_only_socialmessaging(kit_server: Any) -> None:
    with pytest.raises(ValueError, match="socialmessaging"):
        kit_server.client("s3")


def test_inbound_and_delivery_rules(kit_server: Any) -> None:
    waba = kit_server.link(name="Inbound", account_id="444455556667")
    phone = waba.phone_number.meta_phone_number_id
    wamid = kit_server.meta.send_inbound(phone, from_number="+15550001111", text="hello")
    assert wamid.startswith("wamid.")
    settings = kit_server.meta.set_delivery(phone, delivered_delay_ms=5, stop_at="delivered")
    assert settings["deliveredDelayMs"] == 5 and settings["stopAt"] == "delivered"


def test_review_of_an_unknown_template_is_a_404(kit_server: Any) -> None:
    with pytest.raises(SandboxError) as raised:
        kit_server.meta.review_template("999999999999", "APPROVED")
    assert raised.value.status == 404


def test_wait_for_events_times_out_naming_what_it_saw(kit_server: Any) -> None:
    events = kit_server.events_for("555566667777")
    assert events.list() == []
    with pytest.raises(TimeoutError, match="0 of 1"):
        events.wait_for(1, kind="inbound_message", timeout=0.2)


@pytest.mark.postgres
def test_a_given_database_url_is_used_and_kept() -> None:
    require_postgres()
    url = fresh_postgres_url()
    try:
        with wabalink_server(database_url=url) as server:
            assert server.app is not None and not server.app.store.is_sqlite
            server.link(name="On PostgreSQL")
        with wabalink_server(database_url=url) as again:  # the data outlives the server
            names = [a["wabaName"] for a in again.client().list_linked_whatsapp_business_accounts()["linkedAccounts"]]
            assert names == ["On PostgreSQL"]
    finally:
        drop_postgres_schema(url)


def test_stopping_leaves_no_thread_behind() -> None:
    import threading

    before = set(threading.enumerate())
    with wabalink_server() as server:
        waba = server.link(name="Threads", account_id="666677778888")
        server.meta.send_inbound(waba.phone_number.meta_phone_number_id, from_number="+15550002222", text="hi")
        assert len(set(threading.enumerate()) - before) > 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = [thread.name for thread in set(threading.enumerate()) - before if thread.is_alive()]
        if not left:
            break
        time.sleep(0.05)
    assert left == []
