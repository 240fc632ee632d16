"""`wabalink serve` as a child process, free ports and per-test account ids."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.support import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_account_id() -> str:
    return str(random.randint(100000000000, 999999999999))


def child_commands(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the process's direct children (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append((int(entry.name), (entry / "cmdline").read_text().replace("\0", " ")))
        except (OSError, IndexError, ValueError):
            continue
    return found


class ServerProcess:
    """`wabalink serve` in a child process, as users run it."""

    def __init__(self, database_url: str, log_path: Path, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.database_url = database_url
        self.log_path = log_path
        self.extra_args = extra_args or []
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        env = {**os.environ, **self.env}
        command = [sys.executable, "-m", "wabalink.cli.main", "serve", "--port", str(self.port),
                   "--database", self.database_url, *self.extra_args]
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115 - the server writes to it until stop() or kill()
        self.process = subprocess.Popen(command, stdout=self.log_file, stderr=subprocess.STDOUT, env=env,
                                        cwd=REPO_ROOT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"wabalink serve exited: {self.log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.endpoint + "/_wabalink/health", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"wabalink serve did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process:
            self.log_file.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.log_file.close()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    # --- the simulator's sandbox -------------------------------------------------------------

    def sandbox(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        headers = {"content-type": "application/json"}
        if self.env.get("WABALINK_SANDBOX_TOKEN"):  # the operator token a strict server requires
            headers["authorization"] = f"Bearer {self.env['WABALINK_SANDBOX_TOKEN']}"
        request = urllib.request.Request(self.endpoint + "/meta/sandbox" + path, data=data, method=method,
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def create_waba(self, name: str = "Acme", phone_numbers: int = 2) -> dict[str, Any]:
        return self.sandbox("POST", "/wabas", {"name": name, "phoneNumbers": phone_numbers})

    def mint_token(self, waba_ids: list[str], **options: Any) -> str:
        return self.sandbox("POST", "/tokens", {"wabaIds": waba_ids, **options})["accessToken"]

    def set_faults(self, **faults: Any) -> None:
        self.sandbox("PUT", "/faults", faults)

    def clear_faults(self) -> None:
        self.sandbox("DELETE", "/faults")

    def client(self, account_id: str | None = None, region: str = "us-east-1", *, retries: int = 1,
               validate: bool = True, secret: str = "secret") -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "socialmessaging", endpoint_url=self.endpoint, region_name=region,
            aws_access_key_id=account_id or new_account_id(), aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": retries, "mode": "standard"},
                          parameter_validation=validate, read_timeout=60))
