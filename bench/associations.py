"""Complete two-phase associations per second: a cheap, bounded-time load generator.

WABAs (with their embedded sign-up tokens) are created through the simulator's sandbox before the
clock starts. Then `concurrency` threads, each with its own AWS account and one keep-alive
`http.client` connection, take the next WABA and run phase 1 (signupCallback) and phase 2
(setupFinalization with every number and a PIN), signing each request with botocore's SigV4Auth.
Workers start no new association after the deadline; each request has a socket timeout.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from servers import SANDBOX_TOKEN  # noqa: E402

SIGNUP_PATH = "/v1/whatsapp/signup"
SERVICE = "social-messaging"
REGION = "us-east-1"
PIN = "123456"


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]


def latency_summary(seconds: list[float]) -> dict[str, Any]:
    ms = [value * 1000 for value in seconds]
    return {"count": len(ms), "p50_ms": _round(percentile(ms, 0.50)), "p90_ms": _round(percentile(ms, 0.90)),
            "p99_ms": _round(percentile(ms, 0.99)), "max_ms": _round(max(ms) if ms else None)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects once if the server closed it."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


# --- before the clock: WABAs and tokens -----------------------------------------------------------

def precreate_wabas(host: str, port: int, count: int, *, threads: int = 8, deadline_seconds: float = 180.0,
                    seed: int = 7) -> list[dict[str, Any]]:
    """`count` simulator WABAs with 1 or 2 numbers each and a fresh sign-up token each."""
    rng = random.Random(seed)
    sizes = [rng.choice((1, 2)) for _ in range(count)]
    deadline = time.monotonic() + deadline_seconds
    lock = threading.Lock()
    next_index = iter(range(count))
    created: list[dict[str, Any]] = []

    def worker() -> None:
        conn = Connection(host, port, 30)
        try:
            while time.monotonic() < deadline:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                body = json.dumps({"name": f"Bench WABA {index}", "phoneNumbers": sizes[index]}).encode()
                status, answer = conn.request("POST", "/meta/sandbox/wabas", body,
                                              {"Content-Type": "application/json",
                                               "Authorization": f"Bearer {SANDBOX_TOKEN}"})
                if status != 201:
                    raise RuntimeError(f"sandbox POST /wabas answered {status}: {answer[:300]!r}")
                waba = json.loads(answer)
                with lock:
                    created.append({"metaWabaId": waba["wabaId"], "accessToken": waba["accessToken"],
                                    "phones": len(waba["phoneNumbers"])})
        finally:
            conn.close()

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    return created


# --- the timed part -------------------------------------------------------------------------------

class Signer:
    def __init__(self, endpoint: str, access_key: str, secret_key: str) -> None:
        self.endpoint = endpoint
        self.auth = SigV4Auth(Credentials(access_key, secret_key), SERVICE, REGION)

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        request = AWSRequest(method=method, url=self.endpoint + path, data=body,
                             headers={"Content-Type": "application/json"})
        self.auth.add_auth(request)
        return dict(request.headers.items())


def run_associations(endpoint: str, wabas: list[dict[str, Any]], *, duration: float, concurrency: int,
                     accounts: list[tuple[str, str]], timeout: float = 30.0) -> dict[str, Any]:
    """Drive phase 1 + phase 2 for as many WABAs as `duration` allows. `accounts`: (access key, secret)
    per worker thread."""
    host, port = endpoint.split("//", 1)[1].split(":")
    lock = threading.Lock()
    queue: Iterator[dict[str, Any]] = iter(wabas)
    phase1: list[float] = []
    phase2: list[float] = []
    total: list[float] = []
    failures: list[str] = []
    failure_count = 0
    completed: list[tuple[str, str]] = []  # (account key, linked id) of each complete association
    phones_registered = 0
    start = time.monotonic()
    deadline = start + duration
    stop = threading.Event()

    def worker(account: tuple[str, str]) -> None:
        nonlocal failure_count, phones_registered
        signer = Signer(endpoint, *account)
        conn = Connection(host, int(port), timeout)
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                with lock:
                    waba = next(queue, None)
                if waba is None:
                    return
                try:
                    t0 = time.monotonic()
                    body = json.dumps({"signupCallback": {"accessToken": waba["accessToken"]}}).encode()
                    status, answer = conn.request("POST", SIGNUP_PATH, body, signer.headers("POST", SIGNUP_PATH, body))
                    t1 = time.monotonic()
                    if status != 200:
                        raise RuntimeError(f"phase 1 answered {status}: {answer[:300]!r}")
                    result = json.loads(answer)["signupCallbackResult"]
                    entry = result["linkedAccountsWithIncompleteSetup"][waba["metaWabaId"]]
                    numbers = entry["unregisteredWhatsAppPhoneNumbers"]
                    if len(numbers) != waba["phones"]:
                        raise RuntimeError(f"phase 1 listed {len(numbers)} numbers, the WABA has {waba['phones']}")
                    body = json.dumps({"setupFinalization": {
                        "associateInProgressToken": result["associateInProgressToken"],
                        "phoneNumbers": [{"id": n["phoneNumberId"], "twoFactorPin": PIN} for n in numbers],
                        "waba": {"id": entry["wabaId"]}}}).encode()
                    t2 = time.monotonic()
                    status, answer = conn.request("POST", SIGNUP_PATH, body, signer.headers("POST", SIGNUP_PATH, body))
                    t3 = time.monotonic()
                    if status != 200:
                        raise RuntimeError(f"phase 2 answered {status}: {answer[:300]!r}")
                    linked = json.loads(answer)["linkedWhatsAppBusinessAccountId"]
                    with lock:
                        phase1.append(t1 - t0)
                        phase2.append(t3 - t2)
                        total.append(t3 - t0)
                        completed.append((account[0], linked))
                        phones_registered += len(numbers)
                except Exception as error:  # noqa: BLE001 - counted and reported
                    with lock:
                        failure_count += 1
                        if len(failures) < 5:
                            failures.append(f"{type(error).__name__}: {error}")
        finally:
            conn.close()

    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(worker, accounts[i % len(accounts)]) for i in range(concurrency)]
        try:
            for future in futures:
                future.result(timeout=duration + timeout * 2 + 30)
        finally:
            stop.set()
    elapsed = time.monotonic() - start
    return {
        "duration_s": round(elapsed, 2),
        "concurrency": concurrency,
        "wabas_prepared": len(wabas),
        "ran_out_of_wabas": len(completed) + failure_count >= len(wabas),
        "completed": len(completed),
        "phone_numbers_registered": phones_registered,
        "failures": failure_count,
        "failure_examples": failures,
        "associations_per_second": round(len(completed) / elapsed, 1) if elapsed else 0.0,
        "phase1": latency_summary(phase1),
        "phase2": latency_summary(phase2),
        "association": latency_summary(total),
        "completed_ids": completed,
    }


def spot_check(endpoint: str, accounts: dict[str, str], completed: list[tuple[str, str]], sample: int = 5
               ) -> list[str]:
    """GET a few of the linked WABAs: each must be COMPLETE with its numbers. Returns problems found."""
    host, port = endpoint.split("//", 1)[1].split(":")
    conn = Connection(host, int(port), 30)
    problems = []
    try:
        for key, linked_id in random.Random(3).sample(completed, min(sample, len(completed))):
            path = f"/v1/whatsapp/waba/details?id={linked_id}"
            request = AWSRequest(method="GET", url=endpoint + path)
            SigV4Auth(Credentials(key, accounts[key]), SERVICE, REGION).add_auth(request)
            status, answer = conn.request("GET", path, None, dict(request.headers.items()))
            account = json.loads(answer).get("account", {}) if status == 200 else {}
            if status != 200 or account.get("registrationStatus") != "COMPLETE" or not account.get("phoneNumbers"):
                problems.append(f"{linked_id}: {status} {answer[:200]!r}")
    finally:
        conn.close()
    return problems
