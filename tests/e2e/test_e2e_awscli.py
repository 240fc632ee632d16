"""The whole sign-up and lifecycle through the `aws` command of the awscli package, unchanged but
for `--endpoint-url`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.servers import new_account_id

AWS = str(Path(sys.executable).with_name("aws"))


def aws(server: Any, account_id: str, *args: str, tmp_home: Path) -> Any:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": account_id, "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_DEFAULT_REGION": "eu-west-1", "HOME": str(tmp_home), "AWS_CONFIG_FILE": str(tmp_home / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_home / "credentials"), "AWS_PAGER": "",
           "AWS_MAX_ATTEMPTS": "1"}
    completed = subprocess.run([AWS, "socialmessaging", *args, "--endpoint-url", server.endpoint, "--output", "json"],
                               capture_output=True, text=True, env=env, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout) if completed.stdout.strip() else None


def test_full_flow_with_the_aws_cli(server: Any, tmp_path: Path) -> None:
    account_id = new_account_id()
    meta_waba = server.create_waba("CLI Co", phone_numbers=2)

    def run(*args: str) -> Any:
        return aws(server, account_id, *args, tmp_home=tmp_path)

    phase_one = run("associate-whatsapp-business-account", "--signup-callback",
                    f"accessToken={meta_waba['accessToken']}")
    result = phase_one["signupCallbackResult"]
    entry = result["linkedAccountsWithIncompleteSetup"][meta_waba["wabaId"]]
    numbers = entry["unregisteredWhatsAppPhoneNumbers"]
    finalization = {
        "associateInProgressToken": result["associateInProgressToken"],
        "phoneNumbers": [{"id": n["phoneNumberId"], "twoFactorPin": "246810", "dataLocalizationRegion": "SG"}
                         for n in numbers],
        "waba": {"id": entry["wabaId"],
                 "eventDestinations": [{"eventDestinationArn": "arn:aws:sns:eu-west-1:123456789012:wa"}],
                 "tags": [{"key": "owner", "value": "cli"}]},
    }
    phase_two = run("associate-whatsapp-business-account", "--setup-finalization", json.dumps(finalization))
    assert phase_two == {"statusCode": 200, "linkedWhatsAppBusinessAccountId": entry["wabaId"]}

    account = run("get-linked-whatsapp-business-account", "--id", entry["wabaId"])["account"]
    assert account["registrationStatus"] == "COMPLETE" and len(account["phoneNumbers"]) == 2

    other = server.create_waba("CLI Two", phone_numbers=1)
    other_result = run("associate-whatsapp-business-account", "--signup-callback",
                       f"accessToken={other['accessToken']}")["signupCallbackResult"]
    other_entry = other_result["linkedAccountsWithIncompleteSetup"][other["wabaId"]]
    run("associate-whatsapp-business-account", "--setup-finalization", json.dumps({
        "associateInProgressToken": other_result["associateInProgressToken"],
        "phoneNumbers": [{"id": other_entry["unregisteredWhatsAppPhoneNumbers"][0]["phoneNumberId"],
                          "twoFactorPin": "135790"}],
        "waba": {"id": other_entry["wabaId"]}}))
    # --page-size 1: the CLI follows nextToken page by page and merges the pages.
    listed = run("list-linked-whatsapp-business-accounts", "--page-size", "1")["linkedAccounts"]
    assert [a["wabaName"] for a in listed] == ["CLI Co", "CLI Two"]

    phone = run("get-linked-whatsapp-business-account-phone-number", "--id", numbers[0]["phoneNumberId"])
    assert phone["phoneNumber"]["dataLocalizationRegion"] == "SG"
    tags = run("list-tags-for-resource", "--resource-arn", account["arn"])
    assert tags["tags"] == [{"key": "owner", "value": "cli"}]
    run("put-whatsapp-business-account-event-destinations", "--id", entry["wabaId"], "--event-destinations",
        "eventDestinationArn=arn:aws:sns:eu-west-1:123456789012:other")
    account = run("get-linked-whatsapp-business-account", "--id", entry["wabaId"])["account"]
    assert account["eventDestinations"] == [{"eventDestinationArn": "arn:aws:sns:eu-west-1:123456789012:other"}]

    for linked in listed:
        run("disassociate-whatsapp-business-account", "--id", linked["id"])
    assert run("list-linked-whatsapp-business-accounts")["linkedAccounts"] == []


def test_aws_cli_sees_modeled_errors(server: Any, tmp_path: Path) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": new_account_id(), "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_DEFAULT_REGION": "eu-west-1", "HOME": str(tmp_path), "AWS_MAX_ATTEMPTS": "1",
           "AWS_CONFIG_FILE": str(tmp_path / "config")}
    completed = subprocess.run([AWS, "socialmessaging", "associate-whatsapp-business-account", "--signup-callback",
                                "accessToken=EAAGnot-a-real-token", "--endpoint-url", server.endpoint],
                               capture_output=True, text=True, env=env, timeout=60)
    assert completed.returncode == 255  # awscli v1's code for a service error (v2: 254)
    assert "An error occurred (InvalidParametersException) when calling the AssociateWhatsAppBusinessAccount " \
           "operation" in completed.stderr
    assert "signupCallback.accessToken" in completed.stderr
