"""SendWhatsAppMessage load generators: flat out for a bounded time, or paced at a fixed rate.

Each worker thread keeps one keep-alive `http.client` connection to one server (several servers:
workers are spread over them) and signs each request with botocore's SigV4Auth, far cheaper than a
boto3 call. Every request has a socket timeout; no request starts after the deadline. Each send is
a template message (no customer service window needed) to the next recipient of a rotating list,
from the next of the given numbers.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from associations import Connection, Signer

SEND_PATH = "/v1/whatsapp/send"
META_API_VERSION = "v20.0"
TEMPLATE_NAME = "bench_notice"
TEMPLATE_LANGUAGE = "en_US"


@dataclass
class SendResults:
    """Accepted sends (messageId -> (epoch seconds the call started, latency seconds)) and failures."""
    accepted: dict[str, tuple[float, float]] = field(default_factory=dict)
    failures: int = 0
    failure_examples: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, message_id: str, started: float, latency: float) -> None:
        with self.lock:
            self.accepted[message_id] = (started, latency)

    def fail(self, text: str) -> None:
        with self.lock:
            self.failures += 1
            if len(self.failure_examples) < 5:
                self.failure_examples.append(text)


def recipient(index: int) -> str:
    """A rotating list of 9,000 US numbers, none ending in 0000 (the simulator fails those)."""
    return f"+1425{1000 + index % 9000:04d}{5:03d}"


def message_body(phone_id: str, index: int) -> bytes:
    message = {"messaging_product": "whatsapp", "to": recipient(index), "type": "template",
               "template": {"name": TEMPLATE_NAME, "language": {"code": TEMPLATE_LANGUAGE}}}
    return json.dumps({"originationPhoneNumberId": phone_id, "metaApiVersion": META_API_VERSION,
                       "message": base64.b64encode(json.dumps(message).encode()).decode()}).encode()


class Sender:
    """One worker's connection and signer for one server."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, timeout: float = 30.0) -> None:
        host, port = endpoint.split("//", 1)[1].split(":")
        self.connection = Connection(host, int(port), timeout)
        self.signer = Signer(endpoint, access_key, secret_key)

    def send(self, phone_id: str, index: int, results: SendResults) -> None:
        body = message_body(phone_id, index)
        started_epoch, started = time.time(), time.perf_counter()
        try:
            status, answer = self.connection.request("POST", SEND_PATH, body,
                                                     self.signer.headers("POST", SEND_PATH, body))
        except OSError as error:
            results.fail(f"{type(error).__name__}: {error}")
            return
        latency = time.perf_counter() - started
        if status != 200:
            results.fail(f"{status}: {answer[:200]!r}")
            return
        results.add(json.loads(answer)["messageId"], started_epoch, latency)

    def close(self) -> None:
        self.connection.close()


def _run_workers(endpoints: list[str], phones: list[str], key: tuple[str, str], threads: int, duration: float,
                 next_index: Any) -> SendResults:
    """`threads` workers (spread over `endpoints`) send until the deadline; `next_index()` gives the
    next send's index or None (no more: the worker stops), waiting as a paced run needs."""
    results = SendResults()
    started = time.monotonic()
    deadline = started + duration

    def worker(number: int) -> None:
        sender = Sender(endpoints[number % len(endpoints)], *key)
        try:
            while time.monotonic() < deadline:
                index = next_index(deadline)
                if index is None:
                    return
                sender.send(phones[index % len(phones)], index, results)
        finally:
            sender.close()

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker, number) for number in range(threads)]:
            future.result(timeout=duration + 90)
    results.elapsed = time.monotonic() - started
    return results


def flat_out(endpoints: list[str], phones: list[str], key: tuple[str, str], *, threads: int, duration: float,
             first_index: int = 0, count: int | None = None) -> SendResults:
    """As many sends as `threads` workers manage in `duration` seconds (at most `count`)."""
    lock = threading.Lock()
    counter = iter(range(first_index, first_index + (count if count is not None else 10_000_000)))

    def next_index(deadline: float) -> int | None:
        with lock:
            return next(counter, None)

    return _run_workers(endpoints, phones, key, threads, duration, next_index)


def paced(endpoints: list[str], phones: list[str], key: tuple[str, str], *, rate: float, duration: float,
          threads: int = 16, first_index: int = 0) -> SendResults:
    """Send number i starts at start + i / rate (a worker waits for its turn), for `duration` seconds:
    a fixed offered rate, whatever the answers' latency (as long as `threads` suffice)."""
    lock = threading.Lock()
    total = int(rate * duration)
    state = {"next": 0}
    start = time.monotonic() + 0.2

    def next_index(deadline: float) -> int | None:
        with lock:
            number = state["next"]
            if number >= total:
                return None
            state["next"] = number + 1
        pause = start + number / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        return first_index + number

    return _run_workers(endpoints, phones, key, threads, duration + 0.5, next_index)


def inbound_flat_out(endpoint: str, meta_phone_id: str, sandbox_token: str, *, threads: int, duration: float,
                     count: int, customers: int = 100) -> SendResults:
    """Simulated customers write to a business number through the sandbox (`POST
    /meta/sandbox/phone-numbers/{id}/inbound`), up to `count` messages or `duration` seconds."""
    lock = threading.Lock()
    counter = iter(range(count))
    results = SendResults()
    started = time.monotonic()
    deadline = started + duration
    path = f"/meta/sandbox/phone-numbers/{meta_phone_id}/inbound"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {sandbox_token}"}

    def worker() -> None:
        host, port = endpoint.split("//", 1)[1].split(":")
        connection = Connection(host, int(port), 30.0)
        try:
            while time.monotonic() < deadline:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                body = json.dumps({"from": f"+1555020{index % customers:04d}", "text": f"message {index}"}).encode()
                began = time.perf_counter()
                status, answer = connection.request("POST", path, body, headers)
                if status >= 300:
                    results.fail(f"{status}: {answer[:200]!r}")
                else:
                    results.add(json.loads(answer)["wamid"], time.time(), time.perf_counter() - began)
        finally:
            connection.close()

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result(timeout=duration + 90)
    results.elapsed = time.monotonic() - started
    return results
