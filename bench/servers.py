"""The servers under load, each a child process on 127.0.0.1, and their memory."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """A child process serving HTTP on 127.0.0.1:port; `ready_path` answers once it is up."""

    def __init__(self, name: str, command: list[str], port: int, log_path: Path, ready_path: str = "/",
                 start_timeout: float = 60.0) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.log_path = log_path
        self.ready_path = ready_path
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Server:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - the server writes to it until stop() closes it
        self.process = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start (code {self.process.returncode}):\n"
                                   f"{self.log_tail()}")
            try:
                urllib.request.urlopen(self.endpoint + self.ready_path, timeout=1).read()
                return self
            except urllib.error.HTTPError:
                return self  # it answers: up
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {self.start_timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# The sandbox operator token every wabalink server of a run gets (strict mode requires one).
SANDBOX_TOKEN = "bench-sandbox-operator"


def wabalink_server(workdir: Path, name: str, extra_args: list[str], database_url: str | None = None) -> Server:
    """`wabalink serve` on a free port; SQLite in `workdir` unless `database_url` is given."""
    port = free_port()
    database_url = database_url or f"sqlite:///{workdir / (name + '.db')}"
    command = [sys.executable, "-m", "wabalink.cli.main", "serve", "--host", HOST, "--port", str(port),
               "--database", database_url, "--log-level", "warning",
               "--sandbox-token", SANDBOX_TOKEN, *extra_args]
    return Server(name, command, port, workdir / f"{name}.log", ready_path="/_wabalink/health")


def bare_server(workdir: Path, body_file: Path | None) -> Server:
    port = free_port()
    command = [sys.executable, str(BENCH_DIR / "bare_app.py"), "--host", HOST, "--port", str(port)]
    if body_file is not None:
        command += ["--body-file", str(body_file)]
    return Server("bare", command, port, workdir / "bare.log")


def moto_server(workdir: Path) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    return Server("moto", command, port, workdir / "moto.log", ready_path="/moto-api/")


# --- memory ---------------------------------------------------------------------------------------

def proc_status_kb(pid: int, field: str) -> int | None:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM), or None when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    """Samples a process's VmRSS every `interval` seconds on a daemon thread, while enabled."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            value = proc_status_kb(self.pid, "VmRSS")
            if value is not None:
                self.samples.append(value)
            self._stop.wait(self.interval)

    def summary(self) -> dict[str, Any]:
        return {"samples": len(self.samples),
                "max_rss_sampled_mb": round(max(self.samples) / 1024, 1) if self.samples else None,
                "last_rss_mb": round(self.samples[-1] / 1024, 1) if self.samples else None}


def memory_report(pid: int) -> dict[str, Any]:
    """VmHWM and VmRSS of the process, and the VmHWM of its children (wabalink's SNS publisher)."""
    hwm = proc_status_kb(pid, "VmHWM")
    rss = proc_status_kb(pid, "VmRSS")
    children_hwm = sum(proc_status_kb(child, "VmHWM") or 0 for child in child_pids(pid))
    return {"vm_hwm_mb": round(hwm / 1024, 1) if hwm else None, "vm_rss_mb": round(rss / 1024, 1) if rss else None,
            "children_vm_hwm_mb": round(children_hwm / 1024, 1)}


def _process_dirs() -> list[Path]:
    return [entry for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def child_pids(pid: int) -> list[int]:
    """The process's direct children (from /proc/*/stat)."""
    found = []
    for entry in _process_dirs():
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def children_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(child) or 0.0 for child in child_pids(pid))


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of the process and its direct children (wabalink's SNS publisher runs in one)."""
    return sum(cpu_seconds(one) or 0.0 for one in [pid, *child_pids(pid)])


def named_processes_cpu_seconds(command_name: str) -> float:
    """CPU seconds so far of every running process whose /proc/PID/comm is `command_name`
    (PostgreSQL's server processes are all `postgres`)."""
    total = 0.0
    for entry in _process_dirs():
        try:
            if (entry / "comm").read_text().strip() == command_name:
                total += cpu_seconds(int(entry.name)) or 0.0
        except OSError:
            continue
    return total


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (/proc/PID/stat)."""
    import os

    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def dump_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def sandbox(endpoint: str, method: str, path: str, payload: dict[str, Any]) -> Any:
    """One call to a wabalink server's simulator sandbox, with the run's operator token."""
    request = urllib.request.Request(endpoint + "/meta/sandbox" + path, data=json.dumps(payload).encode(),
                                     method=method, headers={"content-type": "application/json",
                                                             "authorization": f"Bearer {SANDBOX_TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())
