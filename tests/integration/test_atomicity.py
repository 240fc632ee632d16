"""All-or-nothing finalization, on SQLite and on PostgreSQL: concurrency, Meta failing part way,
and the server killed with SIGKILL in the middle of a stream of finalizations."""

from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.support.flows import finalize, linked_waba, sign_up
from wabalink.store.db import Store

DATABASES = ["sqlite", "postgresql"]


def attempt(call: Any) -> str:
    try:
        call()
        return "ok"
    except ClientError as error:
        return error.response["Error"]["Code"]
    except BotoCoreError:  # the server is gone (killed on purpose)
        return "no-answer"


@pytest.mark.parametrize("database", DATABASES)
def test_twenty_concurrent_finalizations_one_wins(start_server: Any, database: str) -> None:
    server = start_server(database)
    meta_waba = server.create_waba("Race", phone_numbers=2)
    account_id = "123412341234"
    token, incomplete = sign_up(server.client(account_id), meta_waba)
    entry = incomplete[meta_waba["wabaId"]]
    clients = [server.client(account_id) for _ in range(20)]
    start = threading.Barrier(20)

    def race(client: Any) -> str:
        start.wait()
        return attempt(lambda: finalize(client, token, entry))

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(race, clients))
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", "InvalidParametersException"}, outcomes
    account = clients[0].get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    assert account["registrationStatus"] == "COMPLETE"
    assert len(account["phoneNumbers"]) == 2


@pytest.mark.parametrize("database", DATABASES)
def test_meta_failing_after_the_first_registration_links_nothing(start_server: Any, database: str) -> None:
    server = start_server(database)
    client = server.client()
    meta_waba = server.create_waba("Half Way", phone_numbers=2)
    token, incomplete = sign_up(client, meta_waba)
    entry = incomplete[meta_waba["wabaId"]]
    first, second = (phone["metaPhoneNumberId"] for phone in entry["unregisteredWhatsAppPhoneNumbers"])
    # Only the second number's registration fails: the first one has already succeeded at Meta.
    server.set_faults(failNextCalls=1, failStatus=500, pathContains=f"/{second}/register")

    with pytest.raises(client.exceptions.DependencyException):
        finalize(client, token, entry)
    meta_state = server.sandbox("GET", f"/wabas/{meta_waba['wabaId']}")
    assert {p["id"]: p["status"] for p in meta_state["phoneNumbers"]}[first] == "REGISTERED"
    account = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    assert account["registrationStatus"] == "INCOMPLETE" and account["phoneNumbers"] == []
    assert client.list_tags_for_resource(resourceArn=account["arn"])["tags"] == []

    # The same call, retried with the same token, now succeeds.
    assert finalize(client, token, entry, tags=[{"key": "k", "value": "v"}])["linkedWhatsAppBusinessAccountId"]
    account = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    assert account["registrationStatus"] == "COMPLETE" and len(account["phoneNumbers"]) == 2


@pytest.mark.parametrize("database", DATABASES)
def test_sigkill_during_finalizations_leaves_whole_links_or_none(start_server: Any, database: str) -> None:
    server = start_server(database, extra_args=["--waba-quota", "100"])
    account_id = "555566667777"
    client = server.client(account_id)
    prepared = []
    for index in range(30):
        meta_waba = server.create_waba(f"Crash {index}", phone_numbers=2)
        token, incomplete = sign_up(client, meta_waba)
        prepared.append((token, incomplete[meta_waba["wabaId"]]))

    outcomes: list[str] = []
    clients = [server.client(account_id) for _ in range(4)]

    def stream(worker: int) -> None:
        for token, entry in prepared[worker::4]:
            outcomes.append(attempt(functools.partial(finalize, clients[worker], token, entry)))

    threads = [threading.Thread(target=stream, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(outcomes) < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    server.kill()  # mid-stream: some finalized, some in flight, some not started
    for thread in threads:
        thread.join(60)
    assert 5 <= outcomes.count("ok") < 30, outcomes

    store = Store(server.database_url)
    assert store.integrity_check() == "ok"
    store.dispose()
    server.start()
    client = server.client(account_id)
    complete = 0
    for _, entry in prepared:
        account = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
        if account["registrationStatus"] == "COMPLETE":
            complete += 1
            assert len(account["phoneNumbers"]) == 2, account
        else:
            assert account["phoneNumbers"] == [], account
    assert complete >= outcomes.count("ok")


@pytest.mark.parametrize("database", DATABASES)
def test_concurrent_sign_ups_respect_the_quota(start_server: Any, database: str) -> None:
    server = start_server(database, extra_args=["--waba-quota", "1"])
    account_id = "777788889999"
    tokens = [server.create_waba(f"Quota race {index}")["accessToken"] for index in range(12)]
    clients = [server.client(account_id) for _ in tokens]
    start = threading.Barrier(len(tokens))

    def sign_up_racing(pair: tuple[Any, str]) -> str:
        client, token = pair
        start.wait()
        return attempt(lambda: client.associate_whatsapp_business_account(signupCallback={"accessToken": token}))

    with ThreadPoolExecutor(len(tokens)) as pool:
        outcomes = list(pool.map(sign_up_racing, zip(clients, tokens)))
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", "LimitExceededException"}, outcomes
    assert len(clients[0].list_linked_whatsapp_business_accounts()["linkedAccounts"]) == 1


@pytest.mark.parametrize("database", DATABASES)
def test_concurrent_tagging_of_one_resource(start_server: Any, database: str) -> None:
    server = start_server(database)
    account_id = "121212121212"
    client = server.client(account_id)
    _, entry = linked_waba(server, client, "Tagged")
    arn = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]["arn"]
    clients = [server.client(account_id) for _ in range(16)]
    start = threading.Barrier(len(clients))

    def tag(indexed: tuple[int, Any]) -> str:
        index, racing_client = indexed
        start.wait()
        return attempt(lambda: racing_client.tag_resource(resourceArn=arn, tags=[
            {"key": "shared", "value": str(index)}, {"key": f"own-{index}", "value": "x"}]))

    with ThreadPoolExecutor(len(clients)) as pool:
        outcomes = list(pool.map(tag, enumerate(clients)))
    assert outcomes == ["ok"] * len(clients)
    tags = {tag["key"] for tag in client.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert tags == {"shared"} | {f"own-{index}" for index in range(16)}
