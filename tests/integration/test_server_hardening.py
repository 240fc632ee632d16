"""`wabalink serve` against misbehaving clients, over real sockets: idle and half-sent connections are
closed, open connections are capped, over-long values never stall other requests; and its settings
(IPv6 hosts, numeric options) are checked at start."""

from __future__ import annotations

import functools
import json
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from wabalink.config import SettingError, Settings, parse_int_in_range, url_host
from wabalink.server.connections import RESERVED_DESCRIPTORS, connection_cap
from wabalink.server.main import main as serve_main

try:
    from conftest import REPO_ROOT, ServerProcess
    from flows import linked_waba
except ImportError:  # tests/ imported as a package
    from tests.support import REPO_ROOT
    from tests.support.flows import linked_waba
    from tests.support.servers import ServerProcess

KEEP_ALIVE = 1
HEAD_TIMEOUT = 2
MAX_CONNECTIONS = 60
GUARDS = ["--keep-alive-timeout", str(KEEP_ALIVE), "--header-timeout", str(HEAD_TIMEOUT),
          "--max-connections", str(MAX_CONNECTIONS)]
# Margin for a loaded machine: a close is expected within its timeout plus this.
SLACK = 3.0
HEALTH = b"GET /_wabalink/health HTTP/1.1\r\nHost: localhost\r\n\r\n"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("guarded")
    process = ServerProcess(f"sqlite:///{folder / 'wabalink.db'}", folder / "server.log", GUARDS).start()
    yield process
    process.stop()


def _connect(server: Any) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=HEAD_TIMEOUT + SLACK + 5)
    return connection


def _read_until_closed(connection: socket.socket, limit_seconds: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started = time.monotonic()
    received = b""
    connection.settimeout(limit_seconds)
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {limit_seconds} s; received {received[:200]!r}")
    except ConnectionResetError:
        pass
    return received, time.monotonic() - started


def _health_ok(server: Any) -> bool:
    with urllib.request.urlopen(server.endpoint + "/_wabalink/health", timeout=10) as response:
        return response.status == 200


def test_an_idle_keep_alive_connection_is_closed(guarded: Any) -> None:
    with _connect(guarded) as connection:
        connection.sendall(HEALTH)
        received, seconds = _read_until_closed(connection, KEEP_ALIVE + SLACK)
    assert received.startswith(b"HTTP/1.1 200 ")
    assert seconds >= KEEP_ALIVE * 0.5


def test_a_connection_that_sends_nothing_is_closed_with_408(guarded: Any) -> None:
    with _connect(guarded) as connection:
        received, _ = _read_until_closed(connection, HEAD_TIMEOUT + SLACK)
    assert received.startswith(b"HTTP/1.1 408 Request Timeout")


def test_headers_sent_a_byte_at_a_time_are_cut_off(guarded: Any) -> None:
    head = b"GET /_wabalink/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 100
    closed_after: list[float] = []
    with _connect(guarded) as connection:
        started = time.monotonic()
        try:
            for byte in head:  # ~2.5 bytes a second: far slower than the head deadline allows
                connection.sendall(bytes([byte]))
                time.sleep(0.4)
                if time.monotonic() - started > HEAD_TIMEOUT + SLACK:
                    break
        except (BrokenPipeError, ConnectionResetError):
            closed_after.append(time.monotonic() - started)
        if not closed_after:
            received, _ = _read_until_closed(connection, 1.0)
            assert received.startswith(b"HTTP/1.1 408 ")
            closed_after.append(time.monotonic() - started)
    assert closed_after[0] < HEAD_TIMEOUT + SLACK


def test_many_idle_connections_do_not_stop_normal_requests(guarded: Any) -> None:
    idle = [_connect(guarded) for _ in range(MAX_CONNECTIONS - 10)]
    try:
        client = guarded.client()
        for _ in range(5):
            assert client.list_linked_whatsapp_business_accounts()["linkedAccounts"] == []
            assert _health_ok(guarded)
    finally:
        for connection in idle:
            connection.close()


def test_connections_beyond_the_cap_are_answered_503_until_idle_ones_time_out(guarded: Any) -> None:
    idle = [_connect(guarded) for _ in range(MAX_CONNECTIONS + 5)]
    try:
        time.sleep(0.3)  # let the server accept them all
        with _connect(guarded) as extra:  # answered as it opens, before any request
            received, _ = _read_until_closed(extra, SLACK)
        assert received.startswith(b"HTTP/1.1 503 ")
        assert b"x-amzn-errortype: ServiceUnavailableException" in received
        # The idle connections reach their head deadline and close: the server serves again.
        deadline = time.monotonic() + HEAD_TIMEOUT + SLACK
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                if _health_ok(guarded):
                    break
            except OSError:
                continue
        assert _health_ok(guarded)
    finally:
        for connection in idle:
            connection.close()


def test_an_oversized_request_head_is_431(guarded: Any) -> None:
    with _connect(guarded) as connection:
        connection.sendall(b"GET /_wabalink/health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\n")
        received, _ = _read_until_closed(connection, SLACK)
    assert received.startswith(b"HTTP/1.1 431 ")


def _long_id_answer(server: Any, length: int) -> tuple[urllib.error.HTTPError, float]:
    """The answer to a long-id request, and how long a health check sent meanwhile took."""
    health_seconds: list[float] = []

    def check_health() -> None:
        started = time.monotonic()
        _health_ok(server)
        health_seconds.append(time.monotonic() - started)

    checker = threading.Thread(target=check_health)
    checker.start()
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(server.endpoint + "/v1/whatsapp/waba/details?id=" + "A" * length, timeout=10)
    checker.join(10)
    assert health_seconds, "the health check got no answer"
    return caught.value, health_seconds[0]


def test_a_long_id_is_a_validation_error_and_does_not_stall_health_checks(guarded: Any) -> None:
    error, health_seconds = _long_id_answer(guarded, 40_000)
    assert error.code == 400
    assert error.headers["x-amzn-ErrorType"] == "ValidationException"
    message = json.loads(error.read())["message"]
    assert "at 'id' failed to satisfy constraint: Member must have length less than or equal to 115" in message
    assert health_seconds < 1.0  # a hang detector: before, 40,000 characters stalled it 4.7 s


def test_a_url_beyond_64_kib_is_414_at_once(guarded: Any) -> None:
    error, health_seconds = _long_id_answer(guarded, 80_000)
    assert error.code == 414
    assert "longer than 65535 bytes" in json.loads(error.read())["message"]
    assert health_seconds < 1.0


def test_a_9_mb_body_with_millions_of_problems_gets_a_short_answer_without_stalling_others(guarded: Any) -> None:
    tags = b",".join([b"{}"] * 3_000_000)  # 9 MB: every tag lacks its key
    body = b'{"resourceArn":"arn:aws:social-messaging:us-east-1:123456789012:waba/' + b"a" * 32 + b'","tags":[' + tags + b"]}"
    answer: list[Any] = []

    def tag_resource() -> None:
        request = urllib.request.Request(guarded.endpoint + "/v1/tags/tag-resource", data=body, method="POST",
                                         headers={"content-type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as error:
            answer.append((error.code, error.headers["x-amzn-ErrorType"], error.read()))

    sender = threading.Thread(target=tag_resource)
    sender.start()
    slowest = 0.0
    while sender.is_alive():
        started = time.monotonic()
        assert _health_ok(guarded)
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.05)
    sender.join()
    [(status, code, payload)] = answer
    assert (status, code) == (400, "ValidationException")
    assert len(payload) < 2000
    assert json.loads(payload)["message"].endswith("; ... and 2,999,990 more problems")
    assert slowest < 2.0, slowest  # a hang detector: parsing this body on the event loop blocks it for seconds


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"name": "\xff"}', b"{"])
def test_a_sandbox_body_that_is_not_json_is_a_json_400(guarded: Any, body: bytes) -> None:
    request = urllib.request.Request(guarded.endpoint + "/meta/sandbox/wabas", data=body, method="POST",
                                     headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert "JSON" in json.loads(caught.value.read())["error"]["message"]


# -- IPv6 -------------------------------------------------------------------------------------------


def _ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


class _Ipv6ServerProcess(ServerProcess):
    @property
    def endpoint(self) -> str:
        return f"http://[::1]:{self.port}"


def test_url_host_brackets_ipv6_only() -> None:
    assert url_host("::1") == "[::1]"
    assert url_host("[::1]") == "[::1]"
    assert url_host("fe80::1%eth0") == "[fe80::1%eth0]"
    assert url_host("127.0.0.1") == "127.0.0.1"
    assert url_host("localhost") == "localhost"
    for host, graph in (("::1", "http://[::1]:4599/meta/graph"), ("::", "http://[::1]:4599/meta/graph"),
                        ("0.0.0.0", "http://127.0.0.1:4599/meta/graph"), ("127.0.0.1", "http://127.0.0.1:4599/meta/graph")):
        assert Settings(host=host).graph_base_url() == graph


@pytest.mark.skipif(not _ipv6_loopback_available(), reason="this machine has no IPv6 loopback (::1)")
def test_serve_on_ipv6_loopback_links_a_waba_through_its_graph_url(tmp_path: Path) -> None:
    server = _Ipv6ServerProcess(f"sqlite:///{tmp_path / 'wabalink.db'}", tmp_path / "server.log", ["--host", "::1"])
    server.start()
    try:
        client = server.client()
        meta_waba, _ = linked_waba(server, client, "Over IPv6")  # phase 1 and 2 call the Graph API
        [linked] = client.list_linked_whatsapp_business_accounts()["linkedAccounts"]
        assert linked["wabaId"] == meta_waba["wabaId"]
    finally:
        server.stop()


# -- numeric settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(("option", "value", "allowed"), [
    ("--associate-token-lifetime", "0", "1 to 86400"), ("--associate-token-lifetime", "-5", "1 to 86400"),
    ("--waba-quota", "0", "1 to 1000000"), ("--waba-quota", "-1", "1 to 1000000"),
    ("--waba-quota", "many", "1 to 1000000"), ("--header-timeout", "0", "1 to 3600"),
])
def test_out_of_range_options_are_refused_naming_the_option(option: str, value: str, allowed: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        serve_main([option, value])
    assert caught.value.code == 2
    assert f"argument {option}: must be an integer from {allowed}, not '{value}'" in capsys.readouterr().err


@pytest.mark.parametrize(("variable", "value"), [
    ("WABALINK_ASSOCIATE_TOKEN_LIFETIME", "0"), ("WABALINK_ASSOCIATE_TOKEN_LIFETIME", "-5"),
    ("WABALINK_WABA_QUOTA", "0"), ("WABALINK_WABA_QUOTA", "-1"),
])
def test_out_of_range_variables_are_refused_naming_the_variable(variable: str, value: str,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(variable, value)
    assert serve_main([]) == 2
    assert f"wabalink serve: {variable} must be an integer from " in capsys.readouterr().err


def test_the_command_exits_with_the_message_before_listening() -> None:
    completed = subprocess.run([sys.executable, "-m", "wabalink.cli.main", "serve", "--waba-quota", "0"],
                               capture_output=True, text=True, timeout=30, cwd=REPO_ROOT)
    assert completed.returncode == 2
    assert "argument --waba-quota: must be an integer from 1 to 1000000, not '0'" in completed.stderr


def test_parse_int_in_range_bounds_are_inclusive() -> None:
    assert parse_int_in_range("1", "X", (1, 5)) == 1
    assert parse_int_in_range(" 5 ", "X", (1, 5)) == 5
    for bad in ("0", "6", "", "1.5", "five"):
        with pytest.raises(SettingError, match="X must be an integer from 1 to 5"):
            parse_int_in_range(bad, "X", (1, 5))


# -- descriptors ------------------------------------------------------------------------------------


def test_the_connection_cap_leaves_descriptors_for_the_databases() -> None:
    assert connection_cap(1000, 20_000) == 1000
    assert connection_cap(1000, 1024) == 1024 - RESERVED_DESCRIPTORS
    assert connection_cap(1000, 100) == 1


def test_the_descriptor_limit_is_raised_to_the_hard_limit() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", "import resource; from wabalink.server.connections import raise_descriptor_limit; "
         "soft = raise_descriptor_limit(); print(soft, *resource.getrlimit(resource.RLIMIT_NOFILE))"],
        capture_output=True, text=True, timeout=30, cwd=REPO_ROOT, check=True)
    returned, soft, hard = (int(part) for part in completed.stdout.split())
    assert returned == soft
    assert soft == hard or hard == -1  # -1: unlimited, where the soft limit is raised as far as allowed


def _limited_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0  # refused or reset: not an answer, and never a 500


def test_running_short_of_descriptors_answers_503_never_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server may open at most 1,024 files: its connection cap drops to 1,024 - 512 so that the
    # worker threads' database files always have descriptors left.
    monkeypatch.setattr(subprocess, "Popen", functools.partial(subprocess.Popen, preexec_fn=_limited_descriptors))
    server = ServerProcess(f"sqlite:///{tmp_path / 'wabalink.db'}", tmp_path / "server.log",
                           ["--header-timeout", str(HEAD_TIMEOUT), "--max-connections", "5000"]).start()
    idle: list[socket.socket] = []
    try:
        for _ in range(1100):  # more than the 1,024 descriptors the server may open
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        urls = [server.endpoint + "/v1/whatsapp/waba/list", server.endpoint + "/_wabalink/health"] * 40
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(_status, urls))
        assert 500 not in statuses
        assert set(statuses) <= {200, 503, 0}
        time.sleep(HEAD_TIMEOUT + 1)  # the idle connections reach their head deadline
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(_status, urls))
        assert statuses == [200] * len(urls)
        assert "unable to open database file" not in server.logs()
    finally:
        for connection in idle:
            connection.close()
        server.stop()
