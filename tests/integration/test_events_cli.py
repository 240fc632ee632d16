"""`wabalink events`: truthful help, AWS CLI exit codes and messages shared with `wabalink meta`,
real tables with ISO-8601 times, --query, and a word on stderr about whose events are listed."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

try:
    from conftest import REPO_ROOT, free_port
except ImportError:  # tests/ imported as a package
    from tests.support import REPO_ROOT
    from tests.support.servers import free_port

CREATED_AT = 1764136800.5  # 2025-11-26T06:00:00.500Z
EVENT = {"eventId": "ev-1", "sequence": 3, "accountId": "000000000000", "region": "us-east-1",
         "wabaId": "waba-0123456789abcdef0123456789abcdef", "phoneNumberId": None, "messageId": "m-1",
         "wamid": None, "kind": "handover_succeeded", "status": "retrying", "attempts": 2,
         "lastError": "SNS PublishBatch failed", "nextAttemptAt": CREATED_AT + 60, "createdAt": CREATED_AT,
         "deliveredAt": None, "destinations": [{"eventDestinationArn": "arn:aws:sns:us-east-1:0:t"}],
         "envelope": {"whatsAppWebhookEntry": "{}"}}


class FakeEventsApi(BaseHTTPRequestHandler):
    """The server's /_wabalink/events API answering one event, or 404 for a replay of an unknown one."""
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        FakeEventsApi.seen.append(self.path)
        self._answer(200, {"events": [EVENT], "after": 3})

    def do_POST(self) -> None:  # noqa: N802
        self._answer(404, {"error": {"message": "no event nope"}})

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEventsApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def events(*args: str, env: dict[str, str] | None = None, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(home or "/nonexistent"), "AWS_EC2_METADATA_DISABLED": "true"}
    return subprocess.run([sys.executable, "-m", "wabalink.cli.main", "events", *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO_ROOT, env={**base, **(env or {})})


def test_help_names_the_endpoint_lookup_wabalink_meta_uses() -> None:
    completed = events("list", "--help", env={"AWS_ENDPOINT_URL_SOCIALMESSAGING": "http://10.0.0.1:1"})
    assert completed.returncode == 0
    text = " ".join(completed.stdout.split())
    assert ("(default: $WABALINK_ENDPOINT, $AWS_ENDPOINT_URL_SOCIALMESSAGING, $AWS_ENDPOINT_URL, "
            "else http://127.0.0.1:4599)") in text
    assert "List the events of the log" in text


def test_events_help_lists_the_commands_with_descriptions() -> None:
    completed = events("help")
    assert completed.returncode == 0
    for name in ("list", "tail", "replay"):
        assert name in completed.stdout
    assert "Follow the log" in completed.stdout and "Deliver an event again" in completed.stdout
    assert "Deliver an event again" in events("help", "replay").stdout


def test_an_unreachable_server_exits_255_with_meta_s_hint(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    completed = events("list", "--endpoint-url", endpoint, env={"AWS_ACCESS_KEY_ID": "123456789012"})
    assert completed.returncode == 255
    assert f"wabalink events list: Could not connect to {endpoint}: is `wabalink serve` running there?" \
        in completed.stderr


def test_usage_errors_exit_252() -> None:
    assert events("list", "--status", "bogus").returncode == 252
    assert events().returncode == 252
    assert events("list", "--query", "[[").returncode == 252


def test_a_server_error_exits_254(api: str) -> None:
    completed = events("replay", "--event-id", "nope", "--endpoint-url", api)
    assert completed.returncode == 254
    assert completed.stderr.strip() == "wabalink events replay: no event nope (HTTP 404)"


def test_list_without_an_access_key_says_which_account_it_lists(api: str, tmp_path: Path) -> None:
    completed = events("list", "--endpoint-url", api, home=tmp_path)
    assert completed.returncode == 0
    assert completed.stderr.strip() == ("listing account 000000000000 (from no access key; set AWS_ACCESS_KEY_ID "
                                        "or --account-id)")
    keyed = events("list", "--endpoint-url", api, env={"AWS_ACCESS_KEY_ID": "123456789012"})
    assert keyed.stderr == "" and FakeEventsApi.seen[-1].endswith("accountId=123456789012&limit=1000")


def test_table_output_is_an_aws_cli_table_with_iso_times(api: str) -> None:
    completed = events("list", "--endpoint-url", api, "--output", "table",
                       env={"AWS_ACCESS_KEY_ID": "123456789012"})
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("-") and "ListEvents" in lines[1]
    assert "2025-11-26T06:00:00.500Z" in completed.stdout and str(CREATED_AT) not in completed.stdout
    assert "handover_succeeded" in completed.stdout and "\t" not in completed.stdout
    assert "envelope" not in completed.stdout  # a summary row per event, not the nested envelope


def test_query_and_json_keep_the_api_answer(api: str) -> None:
    env = {"AWS_ACCESS_KEY_ID": "123456789012"}
    answer = json.loads(events("list", "--endpoint-url", api, env=env).stdout)
    assert answer == {"events": [EVENT], "after": 3}
    picked = events("list", "--endpoint-url", api, "--query", "events[].createdAt", env=env)
    assert json.loads(picked.stdout) == [CREATED_AT]
    text = events("list", "--endpoint-url", api, "--query", "events[].[sequence,createdAt]", "--output", "text",
                  env=env)
    assert text.stdout.strip() == "3\t2025-11-26T06:00:00.500Z"
