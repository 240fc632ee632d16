"""Read throughput with `wrk`: one pre-signed GET replayed on keep-alive connections.

A SigV4 signature stays valid for 15 minutes, so each target's request is signed once with botocore's
`SigV4Auth` and the headers are written into a Lua script. The script's `done()` prints one JSON line
with wrk's own counters (requests, errors by kind including non-2xx/3xx statuses, latency percentiles).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

MARKER = "WRK_JSON "

LUA_TEMPLATE = """\
wrk.method = "GET"
wrk.path = {path}
{headers}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{marker}{{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}},' ..
    '"latency_us":{{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d}}}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


class WrkMissing(RuntimeError):
    pass


def find_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("bench: `wrk` is not installed or not on PATH. Install it "
                         "(Debian/Ubuntu: `sudo apt-get install wrk`; macOS: `brew install wrk`) and run again.")
    return path


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of printable ASCII is a valid Lua string literal


def presign_get(url: str, service: str, region: str, access_key: str, secret_key: str) -> dict[str, str]:
    """Headers of a SigV4-signed GET of `url` (Host included), valid for 15 minutes."""
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(access_key, secret_key), service, region).add_auth(request)
    prepared = request.prepare()
    headers = dict(prepared.headers.items())
    headers.setdefault("Host", url.split("/")[2])
    return headers


def check_once(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """One request with the pre-signed headers: the status and body wrk will be replaying."""
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def write_script(path: Path, url_path: str, headers: dict[str, str]) -> Path:
    lines = "\n".join(f"wrk.headers[{lua_string(name)}] = {lua_string(value)}" for name, value in headers.items())
    path.write_text(LUA_TEMPLATE.format(path=lua_string(url_path), headers=lines, marker=MARKER))
    return path


def run_wrk(wrk: str, url: str, script: Path, *, threads: int, connections: int, duration: float,
            timeout: float = 5.0) -> dict[str, Any]:
    """Run wrk once; returns its counters plus rates, and the raw text output."""
    seconds = max(1, int(round(duration)))
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={int(timeout)}s", "--latency",
               "-s", str(script), url]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed (exit {completed.returncode}): {completed.stderr.strip()}")
    result: dict[str, Any] | None = None
    for line in completed.stdout.splitlines():
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER):])
    if result is None:
        raise RuntimeError(f"wrk printed no summary:\n{completed.stdout}\n{completed.stderr}")
    result["requests_per_second"] = result["requests"] / (result["duration_us"] / 1e6)
    result["command"] = " ".join(command[:-3] + [script.name, url])
    result["text"] = "\n".join(line for line in completed.stdout.splitlines() if not line.startswith(MARKER))
    return result


def assert_clean(name: str, result: dict[str, Any]) -> None:
    """Fail loudly on any non-2xx/3xx answer or socket error: a rate of errors is no throughput."""
    errors = result["errors"]
    if result["requests"] == 0:
        raise RuntimeError(f"{name}: wrk completed no request\n{result['text']}")
    bad = {kind: count for kind, count in errors.items() if count}
    if bad:
        raise RuntimeError(f"{name}: wrk saw errors {bad} out of {result['requests']} requests "
                           f"(status = non-2xx/3xx answers)\n{result['text']}")
