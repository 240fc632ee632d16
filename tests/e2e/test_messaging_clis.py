"""Every payload kind sent with the `aws` command (awscli v1) and with `wabalink socialmessaging`:
each answers a UUID messageId whose hand-over reaches Meta."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.service_messaging import FakeGraph, sample_payloads, wait_for_events
from tests.support.service_messaging_flows import link_number, start_messaging_server

AWS = str(Path(sys.executable).with_name("aws"))
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
ACCOUNT = "444455556666"
REGION = "eu-west-1"


def cli_env(home: Path) -> dict[str, str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCOUNT, "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_DEFAULT_REGION": REGION, "HOME": str(home), "AWS_CONFIG_FILE": str(home / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"), "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"}
    env.pop("AWS_DEFAULT_OUTPUT", None)
    return env


# awscli v1 passes blob arguments raw; wabalink's CLI follows v2, where raw JSON needs the binary format.
@pytest.mark.parametrize("command, blob_options", [
    ([AWS], []),
    ([sys.executable, "-m", "wabalink.cli.main"], ["--cli-binary-format", "raw-in-base64-out"]),
], ids=["aws", "wabalink"])
def test_every_payload_kind_through_the_command_line(start_server: Any, fake: FakeGraph, tmp_path: Path,
                                                     command: list[str], blob_options: list[str]) -> None:
    server = start_messaging_server(start_server, fake, None)
    number = link_number(server, server.client(account_id=ACCOUNT, region=REGION), None)
    message_ids = []
    for kind, payload in sample_payloads("+14255550150", "wamid.inbound1").items():
        completed = subprocess.run(
            [*command, "socialmessaging", "send-whatsapp-message", "--origination-phone-number-id", number.phone_id,
             "--message", json.dumps(payload), "--meta-api-version", "v20.0",
             *blob_options, "--endpoint-url", server.endpoint, "--output", "json"],
            capture_output=True, text=True, env=cli_env(tmp_path), timeout=60)
        assert completed.returncode == 0, (kind, completed.stderr)
        message_id = json.loads(completed.stdout)["messageId"]
        assert UUID.fullmatch(message_id), kind
        message_ids.append(message_id)
    found = wait_for_events(server.endpoint, lambda events: len(events) >= len(message_ids), wabaId=number.waba_id)
    assert sorted(event["messageId"] for event in found) == sorted(message_ids)
    assert {event["kind"] for event in found} == {"handover_succeeded"}
