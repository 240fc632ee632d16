"""The whole sign-up and the linked-account lifecycle through boto3, only `endpoint_url` changed."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from tests.support.flows import finalize, linked_waba, sign_up

SNS_TOPIC = "arn:aws:sns:us-east-1:123456789012:whatsapp-events"
CONNECT_INSTANCE = "arn:aws:connect:us-east-1:123456789012:instance/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab"


def test_full_sign_up_and_lifecycle(server: Any, account_id: str) -> None:
    meta_waba = server.create_waba("Acme Retail", phone_numbers=2)
    client = server.client(account_id)

    # Phase 1: Meta's token -> an in-progress token and the WABA with its unregistered numbers.
    token, incomplete = sign_up(client, meta_waba)
    assert 0 < len(token) <= 50
    assert list(incomplete) == [meta_waba["wabaId"]]
    entry = incomplete[meta_waba["wabaId"]]
    assert entry["accountName"] == "Acme Retail"
    assert entry["registrationStatus"] == "INCOMPLETE"
    assert entry["wabaId"].startswith("waba-") and len(entry["wabaId"]) == len("waba-") + 32
    numbers = entry["unregisteredWhatsAppPhoneNumbers"]
    assert sorted(n["metaPhoneNumberId"] for n in numbers) == sorted(p["id"] for p in meta_waba["phoneNumbers"])
    for number in numbers:
        hex_id = number["phoneNumberId"].removeprefix("phone-number-id-")
        assert len(hex_id) == 32
        assert number["arn"] == f"arn:aws:social-messaging:us-east-1:{account_id}:phone-number-id/{hex_id}"
        assert number["phoneNumber"].startswith("+") and number["displayPhoneNumber"]
        assert number["qualityRating"] in ("GREEN", "YELLOW", "RED", "UNKNOWN")

    # Phase 1 already created the INCOMPLETE link.
    pending = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    assert pending["registrationStatus"] == "INCOMPLETE" and pending["phoneNumbers"] == []

    # Phase 2: both numbers with PIN and data localization region, one SNS destination, tags.
    answer = client.associate_whatsapp_business_account(setupFinalization={
        "associateInProgressToken": token,
        "phoneNumbers": [{"id": number["phoneNumberId"], "twoFactorPin": "123456", "dataLocalizationRegion": region,
                          "tags": [{"key": "line", "value": region}]}
                         for number, region in zip(numbers, ["DE", "GB"])],
        "waba": {"id": entry["wabaId"], "eventDestinations": [{"eventDestinationArn": SNS_TOPIC}],
                 "tags": [{"key": "team", "value": "support"}]},
    })
    assert answer["linkedWhatsAppBusinessAccountId"] == entry["wabaId"]
    assert answer["statusCode"] == 200

    account = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    assert account["registrationStatus"] == "COMPLETE"
    assert account["wabaId"] == meta_waba["wabaId"] and account["wabaName"] == "Acme Retail"
    assert account["arn"] == f"arn:aws:social-messaging:us-east-1:{account_id}:waba/{entry['wabaId'][5:]}"
    assert isinstance(account["linkDate"], datetime.datetime)
    assert account["eventDestinations"] == [{"eventDestinationArn": SNS_TOPIC}]
    assert sorted(p["dataLocalizationRegion"] for p in account["phoneNumbers"]) == ["DE", "GB"]
    # The ARN is accepted wherever the id is.
    assert client.get_linked_whatsapp_business_account(id=account["arn"])["account"]["id"] == entry["wabaId"]

    # Meta's side saw the registration and the webhook subscription.
    meta_state = server.sandbox("GET", f"/wabas/{meta_waba['wabaId']}")
    assert all(p["status"] == "REGISTERED" for p in meta_state["phoneNumbers"])
    assert sorted(p["dataLocalizationRegion"] for p in meta_state["phoneNumbers"]) == ["DE", "GB"]
    assert meta_state["subscribedApps"]

    # A second linked WABA, so the paginator has two pages at maxResults=1.
    other = server.create_waba("Acme Logistics", phone_numbers=1)
    other_token, other_incomplete = sign_up(client, other)
    finalize(client, other_token, other_incomplete[other["wabaId"]])
    pages = list(client.get_paginator("list_linked_whatsapp_business_accounts").paginate(
        PaginationConfig={"PageSize": 1}))
    assert [len(page["linkedAccounts"]) for page in pages] == [1, 1]
    listed = [page["linkedAccounts"][0] for page in pages]
    assert [a["wabaName"] for a in listed] == ["Acme Retail", "Acme Logistics"]
    assert all(a["registrationStatus"] == "COMPLETE" for a in listed)

    phone = account["phoneNumbers"][0]
    detail = client.get_linked_whatsapp_business_account_phone_number(id=phone["phoneNumberId"])
    assert detail["phoneNumber"] == phone
    assert detail["linkedWhatsAppBusinessAccountId"] == entry["wabaId"]

    assert client.list_tags_for_resource(resourceArn=account["arn"])["tags"] == [{"key": "team", "value": "support"}]
    assert client.list_tags_for_resource(resourceArn=phone["arn"])["tags"] == [
        {"key": "line", "value": phone["dataLocalizationRegion"]}]
    client.tag_resource(resourceArn=account["arn"], tags=[{"key": "env", "value": "ci"}])
    client.untag_resource(resourceArn=account["arn"], tagKeys=["team"])
    assert client.list_tags_for_resource(resourceArn=account["arn"])["tags"] == [{"key": "env", "value": "ci"}]

    client.put_whatsapp_business_account_event_destinations(
        id=entry["wabaId"], eventDestinations=[{"eventDestinationArn": CONNECT_INSTANCE}])
    account = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    assert account["eventDestinations"] == [{"eventDestinationArn": CONNECT_INSTANCE}]

    for linked in listed:
        client.disassociate_whatsapp_business_account(id=linked["id"])
    assert client.list_linked_whatsapp_business_accounts()["linkedAccounts"] == []
    meta_state = server.sandbox("GET", f"/wabas/{meta_waba['wabaId']}")
    assert all(p["status"] != "REGISTERED" for p in meta_state["phoneNumbers"])
    assert not meta_state["subscribedApps"]

    # Disassociated WABAs can be linked again.
    again_token, again = sign_up(client, {"accessToken": server.mint_token([meta_waba["wabaId"]])})
    assert again[meta_waba["wabaId"]]["registrationStatus"] == "INCOMPLETE"
    assert again[meta_waba["wabaId"]]["wabaId"] != entry["wabaId"]


def test_second_sign_up_adds_a_number_with_phone_number_parent(server: Any, account_id: str) -> None:
    meta_waba = server.create_waba("Parent Co", phone_numbers=1)
    client = server.client(account_id)
    token, incomplete = sign_up(client, meta_waba)
    linked_id = finalize(client, token, incomplete[meta_waba["wabaId"]])["linkedWhatsAppBusinessAccountId"]

    # Nothing new on Meta's side: a second sign-up finds nothing to finalize.
    _, nothing_new = sign_up(client, {"accessToken": server.mint_token([meta_waba["wabaId"]])})
    assert nothing_new == {}

    added = server.sandbox("POST", f"/wabas/{meta_waba['wabaId']}/phone-numbers", {"count": 1})
    new_meta_id = added["phoneNumbers"][0]["id"]
    token2, incomplete2 = sign_up(client, {"accessToken": server.mint_token([meta_waba["wabaId"]])})
    entry = incomplete2[meta_waba["wabaId"]]
    assert entry["registrationStatus"] == "COMPLETE"
    assert entry["wabaId"] == linked_id
    assert [n["metaPhoneNumberId"] for n in entry["unregisteredWhatsAppPhoneNumbers"]] == [new_meta_id]

    answer = client.associate_whatsapp_business_account(setupFinalization={
        "associateInProgressToken": token2,
        "phoneNumbers": [{"id": entry["unregisteredWhatsAppPhoneNumbers"][0]["arn"], "twoFactorPin": "654321"}],
        "phoneNumberParent": linked_id,
    })
    assert answer["linkedWhatsAppBusinessAccountId"] == linked_id
    account = client.get_linked_whatsapp_business_account(id=linked_id)["account"]
    assert len(account["phoneNumbers"]) == 2
    assert new_meta_id in {p["metaPhoneNumberId"] for p in account["phoneNumbers"]}


def test_repeating_phase_one_returns_the_same_ids(server: Any, account_id: str) -> None:
    meta_waba = server.create_waba("Repeat", phone_numbers=2)
    client = server.client(account_id)
    _, first = sign_up(client, meta_waba)
    _, second = sign_up(client, {"accessToken": server.mint_token([meta_waba["wabaId"]])})
    assert first == second
    assert len(client.list_linked_whatsapp_business_accounts()["linkedAccounts"]) == 1


def test_meta_waba_id_is_accepted_in_phase_two(server: Any, account_id: str) -> None:
    meta_waba = server.create_waba("By Meta Id", phone_numbers=1)
    client = server.client(account_id)
    token, incomplete = sign_up(client, meta_waba)
    entry = incomplete[meta_waba["wabaId"]]
    answer = finalize(client, token, {**entry, "wabaId": meta_waba["wabaId"]})
    assert answer["linkedWhatsAppBusinessAccountId"] == entry["wabaId"]


def test_an_incomplete_link_can_be_disassociated(server: Any, account_id: str) -> None:
    meta_waba = server.create_waba("Abandoned", phone_numbers=1)
    client = server.client(account_id)
    _, incomplete = sign_up(client, meta_waba)
    client.disassociate_whatsapp_business_account(id=incomplete[meta_waba["wabaId"]]["wabaId"])
    assert client.list_linked_whatsapp_business_accounts()["linkedAccounts"] == []


def test_update_phone_number_call_settings(server: Any, account_id: str) -> None:
    client = server.client(account_id)
    meta_waba, entry = linked_waba(server, client, "Calls", phone_numbers=1)
    phone_id = entry["unregisteredWhatsAppPhoneNumbers"][0]["phoneNumberId"]
    settings = {"callEnabled": True, "callIconVisibility": "DEFAULT",
                "callHours": {"enabled": True, "timezone": "Europe/Berlin", "weeklyOperatingHours": [
                    {"dayOfWeek": "MONDAY", "openTime": {"hours": 9, "minutes": 0},
                     "closeTime": {"hours": 17, "minutes": 30}}]}}
    assert client.update_linked_whatsapp_business_account_phone_number(
        id=phone_id, callSettings=settings)["phoneNumberId"] == phone_id
    assert client.get_linked_whatsapp_business_account_phone_number(id=phone_id)["callSettings"] == settings


def test_quality_rating_changes_at_meta_show_in_the_phone_number(server: Any, account_id: str) -> None:
    client = server.client(account_id)
    meta_waba, entry = linked_waba(server, client, "Quality", phone_numbers=1)
    phone = entry["unregisteredWhatsAppPhoneNumbers"][0]
    server.sandbox("PUT", f"/phone-numbers/{phone['metaPhoneNumberId']}/quality-rating", {"qualityRating": "RED"})
    detail = client.get_linked_whatsapp_business_account_phone_number(id=phone["phoneNumberId"])["phoneNumber"]
    assert detail["qualityRating"] == "RED"
    account = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    assert account["phoneNumbers"][0]["qualityRating"] == "RED"


def test_meta_failing_on_a_phone_number_read_is_a_dependency_exception(start_server: Any) -> None:
    server = start_server()
    client = server.client()
    meta_waba, entry = linked_waba(server, client, "Flaky Read", phone_numbers=1)
    server.set_faults(failNextCalls=1, failStatus=500)
    with pytest.raises(client.exceptions.DependencyException):
        client.get_linked_whatsapp_business_account_phone_number(
            id=entry["unregisteredWhatsAppPhoneNumbers"][0]["phoneNumberId"])


def test_phase_one_lists_every_number_of_a_large_waba(server: Any, account_id: str) -> None:
    # More numbers than one Graph page: the field-expanded first page, then the paging cursors.
    meta_waba = server.create_waba("Call Centre", phone_numbers=60)
    _, incomplete = sign_up(server.client(account_id), meta_waba)
    numbers = incomplete[meta_waba["wabaId"]]["unregisteredWhatsAppPhoneNumbers"]
    assert sorted(n["metaPhoneNumberId"] for n in numbers) == sorted(p["id"] for p in meta_waba["phoneNumbers"])
