"""Every error path of the association, produced through the sandbox, as boto3's modeled exceptions."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.flows import finalize, sign_up


def phase_one(server: Any, client: Any, phone_numbers: int = 1, name: str = "Errors Inc") -> tuple[str, dict[str, Any]]:
    meta_waba = server.create_waba(name, phone_numbers=phone_numbers)
    token, incomplete = sign_up(client, meta_waba)
    return token, incomplete[meta_waba["wabaId"]]


def expect(client: Any, code: str, call: Any, *fields: str) -> str:
    """Runs `call`, expects the modeled exception `code`, and that its message names each field."""
    with pytest.raises(getattr(client.exceptions, code)) as caught:
        call()
    message = caught.value.response["Error"]["Message"]
    for field in fields:
        assert field in message, message
    return message


def signup(client: Any, access_token: str) -> Any:
    return lambda: client.associate_whatsapp_business_account(signupCallback={"accessToken": access_token})


# --- phase 1: Meta's token ---------------------------------------------------------------------

def test_unknown_meta_token(server: Any) -> None:
    client = server.client()
    expect(client, "InvalidParametersException", signup(client, "EAAG" + secrets.token_hex(20)),
           "signupCallback.accessToken")


def test_expired_meta_token(server: Any) -> None:
    client = server.client()
    meta_waba = server.create_waba("Expired")
    server.sandbox("POST", "/tokens/expire", {"accessToken": meta_waba["accessToken"]})
    expect(client, "InvalidParametersException", signup(client, meta_waba["accessToken"]), "signupCallback.accessToken")


def test_revoked_meta_token(server: Any) -> None:
    client = server.client()
    meta_waba = server.create_waba("Revoked")
    server.sandbox("POST", "/tokens/revoke", {"accessToken": meta_waba["accessToken"]})
    expect(client, "InvalidParametersException", signup(client, meta_waba["accessToken"]), "signupCallback.accessToken")


def test_meta_token_without_whatsapp_permission(server: Any) -> None:
    client = server.client()
    meta_waba = server.create_waba("No Scope")
    token = server.mint_token([meta_waba["wabaId"]], scopes=["business_management"])
    expect(client, "InvalidParametersException", signup(client, token), "whatsapp_business_management")


def test_meta_failing_is_a_dependency_exception(start_server: Any) -> None:
    server = start_server()
    client = server.client()
    meta_waba = server.create_waba("Outage")
    server.set_faults(failNextCalls=50, failStatus=503)
    expect(client, "DependencyException", signup(client, meta_waba["accessToken"]))
    assert client.list_linked_whatsapp_business_accounts()["linkedAccounts"] == []
    server.clear_faults()
    assert client.associate_whatsapp_business_account(signupCallback={"accessToken": meta_waba["accessToken"]})


def test_meta_unreachable_is_a_dependency_exception(start_server: Any) -> None:
    server = start_server(extra_args=["--meta-graph-url", "http://127.0.0.1:9/graph"])
    client = server.client()
    expect(client, "DependencyException", signup(client, "EAAGanything"))


def test_waba_quota(start_server: Any) -> None:
    server = start_server(extra_args=["--waba-quota", "2"])
    client = server.client()
    for index in range(2):
        phase_one(server, client, name=f"Quota {index}")
    message = expect(client, "LimitExceededException", signup(client, server.create_waba("One Too Many")["accessToken"]))
    assert "quota" in message
    assert len(client.list_linked_whatsapp_business_accounts()["linkedAccounts"]) == 2
    # Another account has its own quota.
    assert phase_one(server, server.client(), name="Other Account")


# --- the request's shape -------------------------------------------------------------------

def test_neither_phase(server: Any) -> None:
    client = server.client()
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(),
           "signupCallback", "setupFinalization")


def test_both_phases(server: Any) -> None:
    client = server.client()
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        signupCallback={"accessToken": "x"},
        setupFinalization={"associateInProgressToken": "t", "phoneNumbers": []}), "signupCallback", "setupFinalization")


# --- phase 2 ---------------------------------------------------------------------------------

def finalization(token: str, entry: dict[str, Any], pin: str = "123456", region: str | None = None,
                 **extra: Any) -> dict[str, Any]:
    phone = {"id": entry["unregisteredWhatsAppPhoneNumbers"][0]["phoneNumberId"], "twoFactorPin": pin}
    if region:
        phone["dataLocalizationRegion"] = region
    body = {"associateInProgressToken": token, "phoneNumbers": [phone]}
    body.update(extra or {"waba": {"id": entry["wabaId"]}})
    return body


@pytest.mark.parametrize("pin", ["12345", "abcdef", "12 456"])
def test_pin_must_be_six_digits(server: Any, pin: str) -> None:
    client = server.client()
    token, entry = phase_one(server, client)
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=finalization(token, entry, pin=pin)), "twoFactorPin")


def test_pin_longer_than_the_model_allows(server: Any) -> None:
    client = server.client(validate=False)  # let the server, not boto3, reject it
    token, entry = phase_one(server, client)
    expect(client, "ValidationException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=finalization(token, entry, pin="1234567")), "twoFactorPin")


def test_region_outside_the_list(server: Any) -> None:
    client = server.client()
    token, entry = phase_one(server, client)
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=finalization(token, entry, region="US")), "dataLocalizationRegion", "US")


def test_waba_with_phone_number_parent(server: Any) -> None:
    client = server.client()
    token, entry = phase_one(server, client)
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=finalization(token, entry, waba={"id": entry["wabaId"]}, phoneNumberParent=entry["wabaId"])),
        "waba", "phoneNumberParent")


def test_neither_waba_nor_phone_number_parent(server: Any) -> None:
    client = server.client()
    token, entry = phase_one(server, client)
    body = finalization(token, entry)
    del body["waba"]
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=body), "waba", "phoneNumberParent")


def test_phone_number_parent_of_an_incomplete_waba(server: Any) -> None:
    client = server.client()
    token, entry = phase_one(server, client)
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=finalization(token, entry, phoneNumberParent=entry["wabaId"])), "phoneNumberParent")


def test_unknown_phone_id(server: Any) -> None:
    client = server.client()
    token, entry = phase_one(server, client)
    body = finalization(token, entry)
    body["phoneNumbers"][0]["id"] = "phone-number-id-" + secrets.token_hex(16)
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=body), "phoneNumbers[0].id")


def test_unknown_waba_id(server: Any) -> None:
    client = server.client()
    token, entry = phase_one(server, client)
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=finalization(token, entry, waba={"id": "waba-" + secrets.token_hex(16)})), "waba.id")


def test_unknown_in_progress_token(server: Any) -> None:
    client = server.client()
    _, entry = phase_one(server, client)
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=finalization("not-a-token", entry)), "associateInProgressToken")


def test_in_progress_token_from_another_account(server: Any) -> None:
    owner, intruder = server.client(), server.client()
    token, entry = phase_one(server, owner)
    expect(intruder, "InvalidParametersException", lambda: intruder.associate_whatsapp_business_account(
        setupFinalization=finalization(token, entry)), "associateInProgressToken")


def test_in_progress_token_from_another_region(server: Any, account_id: str) -> None:
    home, away = server.client(account_id, "us-east-1"), server.client(account_id, "eu-west-2")
    token, entry = phase_one(server, home)
    expect(away, "InvalidParametersException", lambda: away.associate_whatsapp_business_account(
        setupFinalization=finalization(token, entry)), "associateInProgressToken")


def test_expired_in_progress_token(start_server: Any) -> None:
    server = start_server(extra_args=["--associate-token-lifetime", "1"])
    client = server.client()
    token, entry = phase_one(server, client)
    time.sleep(1.2)
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=finalization(token, entry)), "associateInProgressToken")


def test_finalizing_twice(server: Any) -> None:
    client = server.client()
    token, entry = phase_one(server, client)
    finalize(client, token, entry)
    expect(client, "InvalidParametersException", lambda: finalize(client, token, entry), "already linked")


def test_event_destination_must_be_sns_or_connect(server: Any) -> None:
    client = server.client()
    token, entry = phase_one(server, client)
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=finalization(token, entry, waba={"id": entry["wabaId"], "eventDestinations": [
            {"eventDestinationArn": "arn:aws:s3:::bucket"}]})), "eventDestinationArn")


# --- the linked-account calls -----------------------------------------------------------------

def test_other_accounts_resources_are_not_found(server: Any) -> None:
    owner, other = server.client(), server.client()
    token, entry = phase_one(server, owner)
    finalize(owner, token, entry)
    account = owner.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    expect(other, "ResourceNotFoundException", lambda: other.get_linked_whatsapp_business_account(id=entry["wabaId"]),
           entry["wabaId"])
    expect(other, "ResourceNotFoundException", lambda: other.get_linked_whatsapp_business_account(id=account["arn"]))
    phone_id = account["phoneNumbers"][0]["phoneNumberId"]
    expect(other, "ResourceNotFoundException",
           lambda: other.get_linked_whatsapp_business_account_phone_number(id=phone_id), phone_id)
    expect(other, "ResourceNotFoundException", lambda: other.disassociate_whatsapp_business_account(id=entry["wabaId"]))
    expect(other, "InvalidParametersException", lambda: other.tag_resource(
        resourceArn=account["arn"], tags=[{"key": "k", "value": "v"}]), "resourceArn")
    expect(other, "InvalidParametersException", lambda: other.put_whatsapp_business_account_event_destinations(
        id=entry["wabaId"], eventDestinations=[]), "id")
    assert other.list_linked_whatsapp_business_accounts()["linkedAccounts"] == []
    assert owner.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]["registrationStatus"] == "COMPLETE"


def test_bad_next_token(server: Any) -> None:
    client = server.client()
    expect(client, "InvalidParametersException",
           lambda: client.list_linked_whatsapp_business_accounts(nextToken="garbage!"), "nextToken")


def test_an_operation_without_code_answers_501_naming_it() -> None:
    """Every operation is built; the mechanism for one that is not is still the model's route, a
    501 NotImplementedException naming it (a server whose dispatch table lacks one)."""
    from wabalink.testing import wabalink_server

    with wabalink_server() as server:
        del server.app.operations["ListWhatsAppFlows"]
        client = server.client()
        with pytest.raises(ClientError) as caught:
            client.list_whatsapp_flows(id="waba-" + "0" * 32)
    assert caught.value.response["Error"]["Code"] == "NotImplementedException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "ListWhatsAppFlows" in caught.value.response["Error"]["Message"]


def test_a_pin_other_than_the_one_meta_has_names_the_pin(start_server: Any) -> None:
    # A finalization that failed part way left the first number registered at Meta with its PIN;
    # retrying with another PIN is the caller's mistake, not an outage.
    server = start_server()
    client = server.client()
    meta_waba = server.create_waba("Two PINs", phone_numbers=2)
    token, incomplete = sign_up(client, meta_waba)
    entry = incomplete[meta_waba["wabaId"]]
    second = entry["unregisteredWhatsAppPhoneNumbers"][1]["metaPhoneNumberId"]
    server.set_faults(failNextCalls=1, failStatus=500, pathContains=f"/{second}/register")
    with pytest.raises(client.exceptions.DependencyException):
        finalize(client, token, entry)
    body = finalization(token, entry, pin="654321")
    expect(client, "InvalidParametersException", lambda: client.associate_whatsapp_business_account(
        setupFinalization=body), "phoneNumbers[0].twoFactorPin")

    # Disassociating releases every number at Meta, including the one the failed attempt registered.
    client.disassociate_whatsapp_business_account(id=entry["wabaId"])
    meta_state = server.sandbox("GET", f"/wabas/{meta_waba['wabaId']}")
    assert all(phone["status"] != "REGISTERED" for phone in meta_state["phoneNumbers"])


def test_a_body_beyond_ten_megabytes_is_refused_unread(server: Any) -> None:
    client = server.client(validate=False)
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.associate_whatsapp_business_account(signupCallback={"accessToken": "x" * (11 * 1024 * 1024)})
    assert "larger than" in caught.value.response["Error"]["Message"]


def test_the_app_token_rejected_at_meta_is_a_dependency_exception(start_server: Any) -> None:
    # The service introspects the caller's token with its own app token: if Meta refuses that one,
    # the caller's accessToken is not to blame.
    meta_side = start_server()
    service = start_server(extra_args=["--meta-graph-url", meta_side.endpoint + "/meta/graph"],
                           env={"WABALINK_META_APP_SECRET": "not-the-app-secret"})
    client = service.client()
    message = expect(client, "DependencyException", signup(client, meta_side.create_waba("Rotated")["accessToken"]))
    assert "accessToken" not in message
