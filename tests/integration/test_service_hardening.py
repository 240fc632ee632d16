"""Service rules found missing by the adversarial and newcomer runs: one account per Meta WABA,
AWS's tagging limits, expired phase-1 links and the quota, and messages that say which id goes where."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from tests.support.flows import finalize, linked_waba, sign_up


def expect(client: Any, code: str, call: Any, *needles: str) -> str:
    with pytest.raises(getattr(client.exceptions, code)) as caught:
        call()
    message = caught.value.response["Error"]["Message"]
    for needle in needles:
        assert needle in message, message
    return message


# --- one Meta WABA, one AWS account ------------------------------------------------------------

def test_a_waba_linked_in_one_account_is_refused_in_another(server: Any) -> None:
    first, second = server.client(), server.client()
    meta_waba, entry = linked_waba(server, first, "Shared")
    token = server.mint_token([meta_waba["wabaId"]])
    expect(second, "InvalidParametersException",
           lambda: second.associate_whatsapp_business_account(signupCallback={"accessToken": token}),
           "signupCallback.accessToken", meta_waba["wabaId"], "already linked to another AWS account")
    # The first account's link is untouched and still COMPLETE.
    account = first.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    assert account["registrationStatus"] == "COMPLETE"


def test_a_waba_linked_in_one_region_is_refused_in_another_region(server: Any) -> None:
    account_id = str(secrets.randbelow(10**12)).zfill(12)
    east, west = server.client(account_id, "us-east-1"), server.client(account_id, "us-west-2")
    meta_waba, _ = linked_waba(server, east, "Two Regions")
    token = server.mint_token([meta_waba["wabaId"]])
    expect(west, "InvalidParametersException",
           lambda: west.associate_whatsapp_business_account(signupCallback={"accessToken": token}), "already linked")


def test_the_second_account_cannot_finalize_after_the_first_completed(server: Any) -> None:
    """Both ran phase 1 before either finalized: the second finalization is refused."""
    first, second = server.client(), server.client()
    meta_waba = server.create_waba("Race", phone_numbers=1)
    second_token = server.mint_token([meta_waba["wabaId"]])
    first_token, first_incomplete = sign_up(first, meta_waba)
    second_in_progress, second_incomplete = sign_up(second, {"accessToken": second_token})
    finalize(first, first_token, first_incomplete[meta_waba["wabaId"]])
    expect(second, "InvalidParametersException",
           lambda: finalize(second, second_in_progress, second_incomplete[meta_waba["wabaId"]]),
           "setupFinalization.waba.id", "already linked to another AWS account")


# --- tags --------------------------------------------------------------------------------------

def test_fifty_tags_per_resource_at_most(server: Any) -> None:
    client = server.client()
    _, entry = linked_waba(server, client, "Tags")
    arn = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]["arn"]
    client.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])
    expect(client, "InvalidParametersException",
           lambda: client.tag_resource(resourceArn=arn, tags=[{"key": "one-more", "value": "v"}]), "tags", "50")
    # Overwriting existing keys stays within the limit.
    client.tag_resource(resourceArn=arn, tags=[{"key": "k0", "value": "changed"}])
    assert len(client.list_tags_for_resource(resourceArn=arn)["tags"]) == 50


def test_a_request_with_more_than_fifty_tags_is_refused_before_any_write(server: Any) -> None:
    client = server.client()
    _, entry = linked_waba(server, client, "Many Tags")
    arn = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]["arn"]
    expect(client, "InvalidParametersException",
           lambda: client.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}"} for i in range(51)]), "tags", "51")
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_the_aws_prefix_is_reserved(server: Any) -> None:
    client = server.client()
    _, entry = linked_waba(server, client, "Reserved")
    arn = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]["arn"]
    expect(client, "InvalidParametersException",
           lambda: client.tag_resource(resourceArn=arn, tags=[{"key": "aws:owner", "value": "x"}]), "tags[0].key")


# --- the quota and phase-1 links that were never finalized -------------------------------------

def test_an_expired_phase_one_stops_counting_against_the_quota(start_server: Any) -> None:
    server = start_server(extra_args=["--waba-quota", "1", "--associate-token-lifetime", "1"])
    client = server.client()
    abandoned = server.create_waba("Abandoned", phone_numbers=1)
    sign_up(client, abandoned)  # never finalized
    later = server.create_waba("Later", phone_numbers=1)
    expect(client, "LimitExceededException",
           lambda: client.associate_whatsapp_business_account(signupCallback={"accessToken": later["accessToken"]}))
    time.sleep(1.2)  # the abandoned phase-1 token expires
    token, incomplete = sign_up(client, later)
    finalize(client, token, incomplete[later["wabaId"]])
    names = [account["wabaName"] for account in client.list_linked_whatsapp_business_accounts()["linkedAccounts"]]
    assert names == ["Later"]


# --- messages that say which id goes where -----------------------------------------------------

def test_a_meta_waba_id_where_the_linked_id_is_expected_gets_a_hint(server: Any) -> None:
    client = server.client()
    meta_waba, entry = linked_waba(server, client, "Hint")
    expect(client, "ValidationException",
           lambda: client.get_linked_whatsapp_business_account(id=meta_waba["wabaId"]),
           "expected the linked WABA id", "ListLinkedWhatsAppBusinessAccounts")
    phone = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]["phoneNumbers"][0]
    expect(client, "ValidationException",
           lambda: client.get_linked_whatsapp_business_account_phone_number(id=phone["metaPhoneNumberId"]),
           "expected the linked phone number id")


def test_a_meta_id_in_finalization_gets_a_hint(server: Any) -> None:
    client = server.client()
    meta_waba = server.create_waba("Finalization Hint", phone_numbers=1)
    token, incomplete = sign_up(client, meta_waba)
    meta_phone_id = incomplete[meta_waba["wabaId"]]["unregisteredWhatsAppPhoneNumbers"][0]["metaPhoneNumberId"]
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(setupFinalization={
        "associateInProgressToken": token, "phoneNumbers": [{"id": meta_phone_id, "twoFactorPin": "123456"}],
        "waba": {"id": meta_waba["wabaId"]}}), "setupFinalization.phoneNumbers[0].id", "looks like Meta's phone number id",
        "unregisteredWhatsAppPhoneNumbers")


@pytest.mark.parametrize("reason, needle", [("expire", "expired"), ("revoke", "revoked"), (None, "did not issue")])
def test_meta_token_failures_say_which(server: Any, reason: str | None, needle: str) -> None:
    client = server.client()
    meta_waba = server.create_waba("Token " + (reason or "unknown"))
    token = meta_waba["accessToken"]
    if reason is None:
        token = "EAAG" + secrets.token_hex(20)
    else:
        server.sandbox("POST", f"/tokens/{reason}", {"accessToken": token})
    expect(client, "InvalidParametersException",
           lambda: client.associate_whatsapp_business_account(signupCallback={"accessToken": token}),
           "signupCallback.accessToken", needle)


def test_fifo_topics_are_refused_as_event_destinations(server: Any) -> None:
    client = server.client()
    _, entry = linked_waba(server, client, "Fifo")
    expect(client, "InvalidParametersException",
           lambda: client.put_whatsapp_business_account_event_destinations(
               id=entry["wabaId"], eventDestinations=[{"eventDestinationArn": "arn:aws:sns:us-east-1:123456789012:t.fifo"}]),
           "eventDestinations[0].eventDestinationArn", "FIFO")


# --- serve options for the sandbox --------------------------------------------------------------

def _sandbox_status(server: Any, headers: dict[str, str] | None = None) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(server.endpoint + "/meta/sandbox/faults", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_serve_no_sandbox_switches_it_off(start_server: Any) -> None:
    server = start_server(extra_args=["--no-sandbox"])
    assert _sandbox_status(server) == 404


def test_serve_sandbox_token_is_required_once_set(start_server: Any) -> None:
    server = start_server(extra_args=["--sandbox-token", "operator-secret"])
    assert _sandbox_status(server) == 401
    assert _sandbox_status(server, {"Authorization": "Bearer operator-secret"}) == 200


def test_an_aws_id_where_a_meta_id_is_expected_says_where_meta_ids_are(server: Any) -> None:
    import subprocess
    import sys

    client = server.client()
    _, entry = linked_waba(server, client, "Meta Id Hint")
    phone = entry["unregisteredWhatsAppPhoneNumbers"][0]
    for command in (["show-waba", "--waba-id", entry["wabaId"]],
                    ["send-inbound", "--phone-number-id", phone["phoneNumberId"], "--from", "+15550001111",
                     "--text", "hi"]):
        done = subprocess.run([sys.executable, "-m", "wabalink.cli.main", "meta", *command,
                               "--endpoint", server.endpoint], capture_output=True, text=True, timeout=60)
        assert done.returncode == 254, done.stderr
        assert "linked (AWS)" in done.stderr and "Meta's" in done.stderr, done.stderr
