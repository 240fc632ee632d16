"""Output parity with the AWS CLI (`awscli` from PyPI is the oracle).

Each recorded response in tests/data/cli_responses/ is served by a tiny local HTTP
server; the oracle is the AWS CLI's own code path (`aws socialmessaging <op>
--endpoint-url ...`) with `cli_timestamp_format = iso8601`, and our side parses the same
body with botocore (timestamps turned into ISO 8601 strings as the command layer does)
and renders it with `wabalink.cli.aws.output.render`. json, text and table must agree
byte for byte, with and without `--query`, at two terminal widths.

Most oracle runs go through one helper process that drives `awscli.clidriver` in-process
for many commands (this file, run as a script): same code as the `aws` executable,
without paying its start-up for every case. A few cases also run the real `aws`
executable, one of them on a pseudo-terminal to check the terminal width source.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import jmespath
import pytest

# Costly module-scoped set-up: under pytest-xdist (`make test`, --dist loadgroup) the whole module
# runs on one worker, so it runs once. A module mark, so the group is there when xdist reads it.
pytestmark = pytest.mark.xdist_group("test_cli_output_oracle")

RESPONSES_DIR = Path(__file__).resolve().parents[1] / "data" / "cli_responses"
TABLE_WIDTHS = (80, 160)
ORACLE_WORKERS = max(2, min(4, os.cpu_count() or 2))


# --- recorded responses and the fake service ------------------------------------------


def load_recordings() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(RESPONSES_DIR.glob("*.json"))
    }


RECORDINGS = load_recordings()


class RecordedService(ThreadingHTTPServer):
    """Answers every request with the recorded page that follows the request's nextToken."""

    daemon_threads = True

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), _RecordedHandler)
        self.pages = pages

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def page_for(self, next_token: str | None) -> dict[str, Any]:
        if next_token is None:
            return self.pages[0]
        for index, page in enumerate(self.pages[:-1]):
            if page.get("nextToken") == next_token:
                return self.pages[index + 1]
        raise LookupError(next_token)


class _RecordedHandler(BaseHTTPRequestHandler):
    server: RecordedService

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        tokens = parse_qs(urlparse(self.path).query).get("nextToken")
        body = json.dumps(self.server.page_for(tokens[0] if tokens else None)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", "11111111-2222-3333-4444-555555555555")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass


@pytest.fixture(scope="module")
def services() -> Iterator[dict[str, RecordedService]]:
    running = {name: RecordedService(rec["pages"]) for name, rec in RECORDINGS.items()}
    for service in running.values():
        threading.Thread(target=service.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
    yield running
    for service in running.values():
        service.shutdown()
        service.server_close()


@pytest.fixture(scope="module")
def oracle_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("aws-oracle")
    config = home / "config"
    config.write_text("[default]\nregion = us-east-1\ncli_timestamp_format = iso8601\n")
    credentials = home / "credentials"
    credentials.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONIOENCODING="utf-8",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        HOME=str(home),
    )
    return env


# --- cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    recording: str
    output: str
    query: str | None = None
    extra_args: tuple[str, ...] = ()
    width: int = 80
    color: str = "off"

    @property
    def id(self) -> str:
        parts = [self.recording, self.output]
        if self.output == "table":
            parts.append(f"w{self.width}")
        if self.color != "off":
            parts.append(f"color-{self.color}")
        parts.extend(self.extra_args)
        if self.query is not None:
            parts.append(f"q={self.query}")
        return "|".join(parts)

    def cli_args(self, endpoint: str) -> list[str]:
        rec = RECORDINGS[self.recording]
        args = ["socialmessaging", rec["command"], *rec["args"], *self.extra_args,
                "--endpoint-url", endpoint, "--output", self.output, "--color", self.color]
        if self.query is not None:
            args += ["--query", self.query]
        return args


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for name, rec in RECORDINGS.items():
        variants = [()] + [tuple(v) for v in rec.get("arg_variants", [])]
        for extra in variants:
            for query in [None, *rec["queries"]]:
                cases.append(Case(name, "json", query, extra))
                cases.append(Case(name, "text", query, extra))
                for width in TABLE_WIDTHS:
                    cases.append(Case(name, "table", query, extra, width))
    return cases


CASES = all_cases()


# --- the oracle ------------------------------------------------------------------------


@dataclass
class OracleResult:
    stdout: str
    stderr: str
    rc: int


@dataclass
class OracleRuns:
    results: dict[str, OracleResult] = field(default_factory=dict)


def _run_oracle_batch(jobs: list[dict[str, Any]], env: dict[str, str]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, __file__], input=json.dumps(jobs), env=env, capture_output=True,
        text=True, encoding="utf-8", timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"oracle runner failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def oracle(services: dict[str, RecordedService], oracle_env: dict[str, str]) -> OracleRuns:
    jobs = [{"id": case.id, "args": case.cli_args(services[case.recording].url),
             "width": case.width} for case in CASES]
    batches = [jobs[i::ORACLE_WORKERS] for i in range(ORACLE_WORKERS)]
    runs = OracleRuns()
    with ThreadPoolExecutor(ORACLE_WORKERS) as pool:
        for answers in pool.map(lambda batch: _run_oracle_batch(batch, oracle_env), batches):
            for answer in answers:
                runs.results[answer["id"]] = OracleResult(
                    answer["stdout"], answer["stderr"], answer["rc"])
    return runs


def oracle_main() -> None:
    """Helper process: run AWS CLI commands in-process, one JSON job list on stdin."""
    import awscli.table
    from awscli.clidriver import create_clidriver

    answers = []
    driver = create_clidriver()  # reused: a fresh driver per command costs ~5x more
    for job in json.load(sys.stdin):
        width = job["width"]
        # The table formatter asks the terminal (ioctl on stdout); pin it per job.
        awscli.table.determine_terminal_width = lambda default_width=80, w=width: w
        out, err = io.StringIO(), io.StringIO()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            rc = driver.main(job["args"])
        finally:
            sys.stdout, sys.stderr = saved
        answers.append({"id": job["id"], "stdout": out.getvalue(), "stderr": err.getvalue(),
                        "rc": rc})
    json.dump(answers, sys.stdout)


# --- our side ------------------------------------------------------------------------


def iso_timestamp(value: Any) -> str:
    # What the AWS CLI does for cli_timestamp_format = iso8601.
    from botocore.utils import parse_timestamp

    return parse_timestamp(value).isoformat()


@pytest.fixture(scope="module")
def botocore_session() -> Any:
    import botocore.session

    session = botocore.session.Session()
    session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=iso_timestamp)
    return session


_CLIENTS: dict[tuple[int, str], Any] = {}


def make_client(session: Any, endpoint: str) -> Any:
    key = (id(session), endpoint)
    if key not in _CLIENTS:
        _CLIENTS[key] = session.create_client(
            "socialmessaging", region_name="us-east-1", endpoint_url=endpoint,
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    return _CLIENTS[key]


def fetch_response(case: Case, session: Any, endpoint: str) -> tuple[Any, bool]:
    """The response as the command layer hands it to render(): (data, is_paginated_stream)."""
    from botocore import xform_name

    rec = RECORDINGS[case.recording]
    client = make_client(session, endpoint)
    method = xform_name(rec["operation"])
    if client.can_paginate(method) and "--no-paginate" not in case.extra_args:
        config: dict[str, Any] = {}
        if "--max-items" in case.extra_args:
            config["MaxItems"] = int(case.extra_args[case.extra_args.index("--max-items") + 1])
        return client.get_paginator(method).paginate(**rec["params"], PaginationConfig=config), True
    response = getattr(client, method)(**rec["params"])
    response.pop("ResponseMetadata", None)
    return response, False


def render_ours(case: Case, session: Any, endpoint: str, monkeypatch: pytest.MonkeyPatch,
                merged: bool = False) -> str:
    from wabalink.cli.aws import output

    monkeypatch.setattr(output, "terminal_width", lambda: case.width)
    data, paginated = fetch_response(case, session, endpoint)
    if paginated and merged:
        data, paginated = data.build_full_result(), False
    stream = io.StringIO()
    output.render(data, output=case.output, query=case.query, color=case.color,
                  stream=stream, operation_model=make_client(session, endpoint).meta
                  .service_model.operation_model(RECORDINGS[case.recording]["operation"]),
                  is_paginated_stream=paginated)
    return stream.getvalue()


# --- tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_output_matches_awscli(case: Case, oracle: OracleRuns, services: dict[str, RecordedService],
                               botocore_session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = oracle.results[case.id]
    assert expected.rc == 0, expected.stderr
    ours = render_ours(case, botocore_session, services[case.recording].url, monkeypatch)
    assert ours == expected.stdout


MERGED_CASES = [c for c in CASES if c.output in ("json", "table")
                and RECORDINGS[c.recording]["operation"] == "ListLinkedWhatsAppBusinessAccounts"
                and "--no-paginate" not in c.extra_args]


@pytest.mark.parametrize("case", MERGED_CASES, ids=[c.id for c in MERGED_CASES])
def test_merged_pages_match_awscli(case: Case, oracle: OracleRuns,
                                   services: dict[str, RecordedService], botocore_session: Any,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """json/table also accept the already merged result (build_full_result())."""
    ours = render_ours(case, botocore_session, services[case.recording].url, monkeypatch,
                       merged=True)
    assert ours == oracle.results[case.id].stdout


def test_oracle_covers_every_recording_and_format() -> None:
    assert {c.recording for c in CASES} == set(RECORDINGS)
    assert len(RECORDINGS) >= 8
    assert {c.output for c in CASES} == {"json", "text", "table"}


# --- the real `aws` executable --------------------------------------------------------

AWS_EXE = Path(sys.executable).with_name("aws")

EXECUTABLE_CASES = [
    Case("list_linked_accounts", "table"),
    Case("list_linked_accounts", "text", "linkedAccounts[].[id, wabaName, linkDate]"),
    Case("list_linked_accounts", "text", None, ("--max-items", "1")),
    Case("associate_phase1", "json"),
    Case("associate_phase1", "table"),
    Case("get_phone_number", "text"),
    Case("disassociate", "json"),
]


COLORED_EXECUTABLE_CASE = Case("get_linked_account", "table", color="on")


@pytest.fixture(scope="module")
def executable_runs(services: dict[str, RecordedService],
                    oracle_env: dict[str, str]) -> dict[str, subprocess.CompletedProcess[str]]:
    """The `aws` executable on each case, run side by side (its start-up is slow)."""
    def run(case: Case) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(AWS_EXE), *case.cli_args(services[case.recording].url)],
                              env=oracle_env, capture_output=True, text=True, encoding="utf-8",
                              timeout=300, check=False)

    cases = [*EXECUTABLE_CASES, COLORED_EXECUTABLE_CASE]
    with ThreadPoolExecutor(ORACLE_WORKERS) as pool:
        return dict(zip([c.id for c in cases], pool.map(run, cases)))


@pytest.mark.skipif(not AWS_EXE.exists(), reason="awscli not installed in this environment")
@pytest.mark.parametrize("case", EXECUTABLE_CASES, ids=[c.id for c in EXECUTABLE_CASES])
def test_aws_executable_agrees(case: Case, services: dict[str, RecordedService],
                               executable_runs: dict[str, subprocess.CompletedProcess[str]],
                               botocore_session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = executable_runs[case.id]
    assert proc.returncode == 0, proc.stderr
    endpoint = services[case.recording].url
    assert render_ours(case, botocore_session, endpoint, monkeypatch) == proc.stdout


def run_on_pty(argv: list[str], env: dict[str, str], columns: int) -> str:
    """Run argv with stdout on a pseudo-terminal `columns` wide; return what it printed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # no "\n" -> "\r\n" translation
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=subprocess.PIPE)
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr.decode()
    return b"".join(chunks).decode("utf-8")


OUR_RENDER_SCRIPT = """
import json, sys
from wabalink.cli.aws.output import render
case = json.loads(sys.argv[1])
render(case["data"], output="table", query=None, color="off", stream=sys.stdout,
       operation_model=case["title"])
"""


# A single-row table 170 columns wide: kept as is at 200 columns, turned vertical below.
WIDTH_QUERY = "account.{arn: arn, id: id, wabaName: wabaName, registrationStatus: registrationStatus}"


@pytest.mark.skipif(not AWS_EXE.exists(), reason="awscli not installed in this environment")
@pytest.mark.parametrize("columns", [200, 100])
def test_table_width_comes_from_the_terminal(columns: int, services: dict[str, RecordedService],
                                             oracle_env: dict[str, str],
                                             botocore_session: Any) -> None:
    """Both sides size the table from the terminal on stdout (ioctl), ignoring COLUMNS."""
    case = Case("get_linked_account", "table", query=WIDTH_QUERY)
    endpoint = services[case.recording].url
    env = dict(oracle_env, COLUMNS="40", AWS_PAGER="")
    theirs = run_on_pty([str(AWS_EXE), *case.cli_args(endpoint)], env, columns)
    response, _ = fetch_response(case, botocore_session, endpoint)
    data = jmespath.search(WIDTH_QUERY, response)
    payload = json.dumps({"data": data, "title": RECORDINGS[case.recording]["operation"]})
    ours = run_on_pty([sys.executable, "-c", OUR_RENDER_SCRIPT, payload], env, columns)
    assert ours == theirs
    by_width = {width: _render_at_width(data, width) for width in (40, columns)}
    assert ours == by_width[columns]
    assert (ours == by_width[40]) == (columns < 170)  # COLUMNS=40 was not what counted


def _render_at_width(data: Any, width: int) -> str:
    from wabalink.cli.aws import output

    stream = io.StringIO()
    output.write_table("GetLinkedWhatsAppBusinessAccount", data, stream,
                       width_limit=width)
    return stream.getvalue()


# --- color ----------------------------------------------------------------------------

COLOR_SCRIPT = """
import io, json, sys, argparse
from awscli.formatter import TableFormatter
response = json.loads(sys.argv[1])
import awscli.table
awscli.table.determine_terminal_width = lambda default_width=80: int(sys.argv[3])
stream = io.StringIO()
TableFormatter(argparse.Namespace(color="on", query=None))(sys.argv[2], response, stream)
sys.__stdout__.write(json.dumps(stream.getvalue()))
"""


@pytest.mark.parametrize("recording", ["associate_phase1", "list_linked_accounts"])
@pytest.mark.parametrize("width", TABLE_WIDTHS)
def test_colored_table_matches_awscli_styler(recording: str, width: int,
                                             services: dict[str, RecordedService],
                                             oracle_env: dict[str, str], botocore_session: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    case = Case(recording, "table", width=width, color="on")
    endpoint = services[recording].url
    data, paginated = fetch_response(case, botocore_session, endpoint)
    merged = data.build_full_result() if paginated else data
    merged.pop("ResponseMetadata", None)
    title = RECORDINGS[recording]["operation"]
    proc = subprocess.run([sys.executable, "-c", COLOR_SCRIPT, json.dumps(merged), title,
                           str(width)], env=oracle_env, capture_output=True, text=True,
                          encoding="utf-8", timeout=120, check=True)
    expected = json.loads(proc.stdout)
    assert "\x1b[1m\x1b[34m" in expected
    ours = render_ours(case, botocore_session, endpoint, monkeypatch)
    assert ours == expected


@pytest.mark.skipif(not AWS_EXE.exists(), reason="awscli not installed in this environment")
def test_colored_table_matches_aws_executable_modulo_autoreset(
        services: dict[str, RecordedService],
        executable_runs: dict[str, subprocess.CompletedProcess[str]], botocore_session: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The `aws` executable's colorama adds a reset after every write; otherwise the same."""
    case = COLORED_EXECUTABLE_CASE
    endpoint = services[case.recording].url
    proc = executable_runs[case.id]
    assert proc.returncode == 0, proc.stderr
    ours = render_ours(case, botocore_session, endpoint, monkeypatch)
    assert ours.replace("\x1b[0m", "") == proc.stdout.replace("\x1b[0m", "")
    assert "\x1b[2m\x1b[33m|" in ours


if __name__ == "__main__":
    oracle_main()
