"""`wabalink meta` and the top-level `wabalink` command: endpoint, output, errors and usage.

A small recording HTTP server stands in for the sandbox, so each test sees the exact request the
CLI sends (method, path, JSON body) and answers what the test chooses.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wabalink.cli.main import main as wabalink_main
from wabalink.cli.meta import main as meta_main


@dataclass
class Sandbox:
    url: str
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    status: int = 200
    answer: Any = field(default_factory=lambda: {"failNextCalls": 0, "failStatus": 500, "latencyMs": 0})


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    state = Sandbox(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append((self.command, self.path, body))
            data = json.dumps(state.answer).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_endpoint_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WABALINK_ENDPOINT", "AWS_ENDPOINT_URL_SOCIALMESSAGING", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


# --- endpoint: one setting for both commands -----------------------------------------------------

@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_SOCIALMESSAGING", "AWS_ENDPOINT_URL"])
def test_meta_uses_the_aws_endpoint_settings(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str], variable: str) -> None:
    monkeypatch.setenv(variable, sandbox.url)
    assert meta_main(["show-faults"]) == 0
    assert sandbox.requests == [("GET", "/meta/sandbox/faults", None)]
    assert json.loads(capsys.readouterr().out) == sandbox.answer


def test_service_specific_endpoint_wins_and_the_option_wins_over_both(
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port_url())
    monkeypatch.setenv("AWS_ENDPOINT_URL_SOCIALMESSAGING", sandbox.url)
    assert meta_main(["show-faults"]) == 0
    monkeypatch.setenv("AWS_ENDPOINT_URL_SOCIALMESSAGING", closed_port_url())
    assert meta_main(["show-faults", "--endpoint", sandbox.url]) == 0
    assert meta_main(["show-faults", "--endpoint-url", sandbox.url]) == 0
    assert len(sandbox.requests) == 3


# --- --query and --output -------------------------------------------------------------------------

def test_meta_query_and_output_formats(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.answer = {"wabaId": "1234", "accessToken": "EAAG1", "phoneNumbers": [{"id": "55"}, {"id": "56"}]}
    args = ["create-waba", "--name", "Acme", "--endpoint", sandbox.url]
    assert meta_main([*args, "--query", "accessToken", "--output", "text"]) == 0
    assert capsys.readouterr().out == "EAAG1\n"
    assert meta_main([*args, "--query", "phoneNumbers[].id", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == ["55", "56"]
    assert meta_main([*args, "--output", "yaml", "--query", "{waba: wabaId}"]) == 0
    assert capsys.readouterr().out == "waba: '1234'\n"
    assert meta_main([*args, "--output", "table", "--query", "{waba: wabaId}"]) == 0
    table = capsys.readouterr().out
    assert "CreateWaba" in table.splitlines()[1] and "|  waba |  1234  |" in table
    assert sandbox.requests[0] == ("POST", "/meta/sandbox/wabas", {"name": "Acme", "phoneNumbers": 1})


def test_meta_bad_query_and_output_are_usage_errors(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert meta_main(["show-faults", "--endpoint", sandbox.url, "--query", "[?"]) == 252
    assert "--query" in capsys.readouterr().err
    assert meta_main(["show-faults", "--endpoint", sandbox.url, "--output", "xml"]) == 252
    assert sandbox.requests == []


# --- inject-fault -----------------------------------------------------------------------------------

def test_inject_fault_without_a_fault_is_an_error(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert meta_main(["inject-fault", "--endpoint", sandbox.url]) == 252
    assert meta_main(["inject-fault", "--status", "503", "--endpoint", sandbox.url]) == 252
    err = capsys.readouterr().err
    assert "--fail-next" in err and "--duration-seconds" in err and "--latency-ms" in err
    assert sandbox.requests == []  # nothing was cleared


def test_inject_fault_sends_only_the_given_options(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert meta_main(["inject-fault", "--duration-seconds", "30", "--path-contains", "register",
                      "--endpoint", sandbox.url]) == 0
    assert meta_main(["inject-fault", "--fail-next", "5", "--status", "503", "--endpoint", sandbox.url]) == 0
    assert sandbox.requests == [
        ("PUT", "/meta/sandbox/faults", {"durationSeconds": 30, "pathContains": "register"}),
        ("PUT", "/meta/sandbox/faults", {"failNextCalls": 5, "failStatus": 503}),
    ]


def test_inject_fault_help_explains_retries(capsys: pytest.CaptureFixture[str]) -> None:
    assert meta_main(["inject-fault", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--fail-next 1` is usually absorbed by a retry" in text and "--duration-seconds S" in text


# --- errors and help ----------------------------------------------------------------------------

def test_meta_error_is_one_clean_line(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.status, sandbox.answer = 404, {"error": {"message": "Unknown WABA id 123:\n not found"}}
    assert meta_main(["show-waba", "--waba-id", "123", "--endpoint", sandbox.url]) == 254
    assert capsys.readouterr().err == "wabalink meta show-waba: Unknown WABA id 123: not found (HTTP 404)\n"
    sandbox.status, sandbox.answer = 500, {"detail": "boom"}
    assert meta_main(["show-faults", "--endpoint", sandbox.url]) == 254
    assert capsys.readouterr().err == 'wabalink meta show-faults: {"detail": "boom"} (HTTP 500)\n'


def test_meta_unreachable_server_hint(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = closed_port_url()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    assert meta_main(["show-faults"]) == 255
    err = capsys.readouterr().err
    assert err.startswith(f"wabalink meta show-faults: Could not connect to {url}: is `wabalink serve` running there?")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("argv", [["help"], ["--help"], ["-h"]])
def test_meta_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert wabalink_main(["meta", *argv]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: wabalink meta") and "inject-fault" in out


def test_meta_help_for_one_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert meta_main(["help", "mint-token"]) == 0
    assert capsys.readouterr().out.startswith("usage: wabalink meta mint-token")


# --- the top-level command ---------------------------------------------------------------------------

def test_wabalink_alone_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert wabalink_main([]) == 252
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("\nwabalink: [ERROR]: An error occurred (ParamValidation): "
                                   "the following arguments are required: command\n\nusage: wabalink")


def test_wabalink_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert wabalink_main(["help"]) == 0
    assert capsys.readouterr().out.startswith("usage: wabalink")


def test_mistyped_command_and_operation_suggest_the_right_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert wabalink_main(["socialmesaging"]) == 252
    assert "Found invalid choice 'socialmesaging'\n\nMaybe you meant:\n\n  * socialmessaging\n" in capsys.readouterr().err
    assert wabalink_main(["socialmessaging", "list-linked-whatsapp-busines-accounts"]) == 252
    err = capsys.readouterr().err
    assert err.startswith("\nwabalink: [ERROR]: An error occurred (ParamValidation): argument operation: "
                          "Found invalid choice 'list-linked-whatsapp-busines-accounts'\n\nMaybe you meant:\n\n"
                          "  * list-linked-whatsapp-business-accounts\n")
