"""Both association phases through `wabalink socialmessaging` against a live server, with
`--cli-input-yaml`, `--query` and `--output table`, as users script the sign-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.servers import new_account_id


def wabalink(server: Any, home: Path, account_id: str, *args: str, expect_rc: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": account_id, "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_DEFAULT_REGION": "ap-southeast-1", "HOME": str(home), "AWS_CONFIG_FILE": str(home / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"), "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"}
    env.pop("AWS_DEFAULT_OUTPUT", None)
    completed = subprocess.run([sys.executable, "-m", "wabalink.cli.main", "socialmessaging", *args,
                                "--endpoint-url", server.endpoint], capture_output=True, text=True, env=env, timeout=60)
    assert completed.returncode == expect_rc, completed.stderr
    return completed


def test_both_phases_through_the_wabalink_cli(server: Any, tmp_path: Path) -> None:
    account_id = new_account_id()
    meta_waba = server.create_waba("Table Co", phone_numbers=2)

    # Phase 1 with shorthand; --query picks the token out of the answer.
    token = wabalink(server, tmp_path, account_id, "associate-whatsapp-business-account",
                     "--signup-callback", f"accessToken={meta_waba['accessToken']}",
                     "--query", "signupCallbackResult.associateInProgressToken", "--output", "text").stdout.strip()
    assert token and "\t" not in token

    # Repeating phase 1 returns the same ids: read them as JSON this time.
    answer = json.loads(wabalink(server, tmp_path, account_id, "associate-whatsapp-business-account",
                                 "--signup-callback", f"accessToken={meta_waba['accessToken']}").stdout)
    entry = answer["signupCallbackResult"]["linkedAccountsWithIncompleteSetup"][meta_waba["wabaId"]]
    token = answer["signupCallbackResult"]["associateInProgressToken"]

    # Phase 2 from a YAML input file, answered as a table.
    phone_lines = "".join(
        f"  - id: {phone['phoneNumberId']}\n    twoFactorPin: '112233'\n    dataLocalizationRegion: JP\n"
        for phone in entry["unregisteredWhatsAppPhoneNumbers"])
    (tmp_path / "finalize.yaml").write_text(
        "setupFinalization:\n"
        f"  associateInProgressToken: {token}\n"
        "  phoneNumbers:\n" + phone_lines +
        f"  waba:\n    id: {entry['wabaId']}\n")
    table = wabalink(server, tmp_path, account_id, "associate-whatsapp-business-account",
                     "--cli-input-yaml", f"file://{tmp_path / 'finalize.yaml'}", "--output", "table").stdout
    assert "AssociateWhatsAppBusinessAccount" in table
    assert entry["wabaId"] in table and "200" in table

    listed = wabalink(server, tmp_path, account_id, "list-linked-whatsapp-business-accounts", "--output", "table",
                      "--query", "linkedAccounts[].{Name: wabaName, Status: registrationStatus}").stdout
    assert "Table Co" in listed and "COMPLETE" in listed
    numbers = wabalink(server, tmp_path, account_id, "get-linked-whatsapp-business-account", "--id", entry["wabaId"],
                       "--query", "account.phoneNumbers[].dataLocalizationRegion", "--output", "json").stdout
    assert json.loads(numbers) == ["JP", "JP"]

    # A service error: the v2 exit code and message on stderr.
    failed = wabalink(server, tmp_path, account_id, "associate-whatsapp-business-account",
                      "--cli-input-yaml", f"file://{tmp_path / 'finalize.yaml'}", expect_rc=254)
    assert "An error occurred (InvalidParametersException) when calling the AssociateWhatsAppBusinessAccount " \
           "operation" in failed.stderr
    assert "already linked" in failed.stderr
