"""The pytest plugin, as a user's test suite meets it: installed with wabalink (the `pytest11`
entry point), fixtures `wabalink` and `socialmessaging_client`, one server per session and a fresh
account per test. Each suite runs in its own pytest process (pytester)."""

from __future__ import annotations

import time
from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

FIXTURES_SUITE = '''
import pytest

seen_endpoints = set()
seen_accounts = set()


def test_link_and_call(wabalink, socialmessaging_client):
    waba = wabalink.link(name="Acme", phone_numbers=2)
    assert waba.account_id == wabalink.account_id and len(waba.phone_numbers) == 2
    account = socialmessaging_client.get_linked_whatsapp_business_account(id=waba.id)["account"]
    assert account["registrationStatus"] == "COMPLETE"
    seen_endpoints.add(wabalink.endpoint)
    seen_accounts.add(wabalink.account_id)


@pytest.mark.parametrize("attempt", range(3))
def test_each_test_starts_empty(wabalink, socialmessaging_client, attempt):
    assert socialmessaging_client.list_linked_whatsapp_business_accounts()["linkedAccounts"] == []
    wabalink.link(name=f"Attempt {attempt}")
    seen_endpoints.add(wabalink.endpoint)
    seen_accounts.add(wabalink.account_id)


def test_one_server_many_accounts():
    assert len(seen_endpoints) == 1
    assert len(seen_accounts) == 4


def test_other_accounts_and_regions_on_demand(wabalink):
    wabalink.link(name="Elsewhere", region="eu-west-1")
    assert wabalink.client().list_linked_whatsapp_business_accounts()["linkedAccounts"] == []
    names = [a["wabaName"] for a in
             wabalink.client(region="eu-west-1").list_linked_whatsapp_business_accounts()["linkedAccounts"]]
    assert names == ["Elsewhere"]


def test_the_sandbox(wabalink):
    created = wabalink.meta.create_waba("Sandbox only", phone_numbers=1)
    assert wabalink.meta.show_waba(created["wabaId"])["name"] == "Sandbox only"
'''

LINKING_SUITE = '''
import pytest


@pytest.mark.parametrize("index", range(100))
def test_link_a_fresh_waba(wabalink, socialmessaging_client, index):
    waba = wabalink.link(name=f"Shop {index}")
    listed = socialmessaging_client.list_linked_whatsapp_business_accounts()["linkedAccounts"]
    assert [account["id"] for account in listed] == [waba.id]
'''


def test_the_plugin_is_registered_by_the_entry_point() -> None:
    registered = {entry.name: entry.value for entry in entry_points(group="pytest11")}
    assert registered.get("wabalink") == "wabalink.testing.pytest_plugin"


def test_the_fixtures_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=FIXTURES_SUITE)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)


def test_settings_can_be_overridden_in_a_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
import pytest

@pytest.fixture(scope="session")
def wabalink_settings():
    return {"waba_quota_per_region": 1}
''')
    pytester.makepyfile(test_quota='''
from botocore.exceptions import ClientError
import pytest

def test_quota_of_one(wabalink):
    wabalink.link(name="First")
    with pytest.raises(ClientError) as raised:
        wabalink.link(name="Second")
    assert raised.value.response["Error"]["Code"] == "LimitExceededException"
''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_hundred_tests_each_linking_a_fresh_waba(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_linking=LINKING_SUITE)
    started = time.perf_counter()
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "--durations=0")
    elapsed = time.perf_counter() - started
    result.assert_outcomes(passed=100)
    durations = [line for line in result.outlines if "test_link_a_fresh_waba" in line and "call" in line]
    calls = sorted(float(line.split("s", 1)[0]) for line in durations)
    median_ms = calls[len(calls) // 2] * 1000 if calls else float("nan")
    session = next((line for line in result.outlines if " passed in " in line), "")
    print(f"\n100 tests each linking a fresh WABA: {elapsed:.2f} s wall time for the pytest process "
          f"(its own report: {session.strip('= ')}); median test call {median_ms:.0f} ms")
