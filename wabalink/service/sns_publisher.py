"""SNS PublishBatch calls for the delivery worker, in a child process of the server.

botocore builds every call in Python: it form-encodes the query-protocol body byte by byte, signs
it, and parses SNS's XML answer. At a few hundred messages a second (four events each) that was
the largest CPU cost of a message's life in the server, and the server is one interpreter. So
`PublisherProcess` runs an `SnsPublisher` in a child Python process (`python -m
wabalink.service.sns_publisher`): the delivery worker sends it a round's PublishBatch calls over a
pipe and gets back each entry's outcome (several delivery threads may have rounds in flight at
once). The child never touches the store; the event log and
every decision about retries stay in the server. A child that dies is started again for the next
round (the round's events are retried like any failed delivery); when the server dies, the child
reads the end of its pipe and exits.

`SnsPublisher` is also usable in-process (tests, or a child that cannot start).

Credentials come from botocore's standard chain in the child, which inherits the server's
environment; `roleArn` is assumed through STS first, its credentials cached until shortly before
they expire.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import IO, Any
from urllib.parse import urlencode

log = logging.getLogger("wabalink.events")

Entry = dict[str, str]  # {"Id": str(seq), "Message": envelope}
Outcomes = dict[int, str | None]  # seq -> None (published) or why not
Call = tuple[str, str | None, list[Entry]]  # topic ARN, role ARN, at most 10 entries
PUBLISH_CONCURRENCY = 8  # PublishBatch calls in flight at once (botocore clients are thread-safe)
ROUNDS_AT_ONCE = 4  # delivery rounds the child publishes side by side
ROLE_CREDENTIALS_MARGIN_SECONDS = 300
_FRAME = struct.Struct("!I")


@dataclass(frozen=True)
class PublisherSettings:
    sns_endpoint_url: str | None = None  # None: botocore's own (AWS_ENDPOINT_URL_SNS, else real SNS)
    timeout_seconds: float = 10.0


class SnsPublisher:
    """PublishBatch with botocore: one client per (region, assumed credentials)."""

    def __init__(self, settings: PublisherSettings) -> None:
        self.settings = settings
        self._calls = ThreadPoolExecutor(PUBLISH_CONCURRENCY, thread_name_prefix="wabalink-sns")
        self._clients_lock = threading.Lock()
        self._clients: dict[tuple[str, str | None], Any] = {}  # (region, assumed key id)
        self._role_credentials: dict[str, tuple[dict[str, str], float]] = {}

    def publish_many(self, calls: list[Call]) -> list[Outcomes]:
        """The calls at once (up to PUBLISH_CONCURRENCY in flight); their outcomes in order."""
        if len(calls) == 1:
            return [self.publish(*calls[0])]
        return [future.result() for future in [self._calls.submit(self.publish, *call) for call in calls]]

    def publish(self, topic_arn: str, role_arn: str | None, entries: list[Entry]) -> Outcomes:
        try:
            answer = self._client(topic_arn, role_arn).publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
        except Exception as error:  # endpoint down, credentials missing, topic gone: all retried
            reason = f"SNS PublishBatch to {topic_arn} failed: {type(error).__name__}: {str(error)[:300]}"
            return {int(entry["Id"]): reason for entry in entries}
        outcomes: Outcomes = {int(entry["Id"]): "SNS PublishBatch answered neither success nor failure"
                              for entry in entries}
        for item in answer.get("Successful", []):
            outcomes[int(item["Id"])] = None
        for item in answer.get("Failed", []):
            outcomes[int(item["Id"])] = f"SNS {item.get('Code')}: {str(item.get('Message'))[:300]}"
        return outcomes

    def close(self) -> None:
        self._calls.shutdown(wait=False, cancel_futures=True)

    def _client(self, topic_arn: str, role_arn: str | None) -> Any:
        region = topic_arn.split(":")[3]
        with self._clients_lock:  # one STS call and one client per key, whichever thread asks first
            credentials = self._assumed(role_arn, region) if role_arn else None
            key = (region, credentials["aws_access_key_id"] if credentials else None)
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self._new_client("sns", region, credentials)
        return client

    def _assumed(self, role_arn: str, region: str) -> dict[str, str]:
        """Credentials of `role_arn` through STS AssumeRole, cached until shortly before expiry."""
        cached = self._role_credentials.get(role_arn)
        if cached is not None and cached[1] - ROLE_CREDENTIALS_MARGIN_SECONDS > time.time():
            return cached[0]
        answer = self._new_client("sts", region, None).assume_role(
            RoleArn=role_arn, RoleSessionName="wabalink-event-delivery")["Credentials"]
        credentials = {"aws_access_key_id": answer["AccessKeyId"], "aws_secret_access_key": answer["SecretAccessKey"],
                       "aws_session_token": answer["SessionToken"]}
        self._role_credentials[role_arn] = (credentials, answer["Expiration"].timestamp())
        return credentials

    def _new_client(self, service: str, region: str, credentials: dict[str, str] | None) -> Any:
        import botocore.session
        from botocore.config import Config

        session = botocore.session.get_session()
        endpoint = self.settings.sns_endpoint_url if service == "sns" else None
        # Entries are built from the event log: botocore's validation of each call is pure cost.
        config = Config(retries={"total_max_attempts": 1}, connect_timeout=self.settings.timeout_seconds,
                        read_timeout=self.settings.timeout_seconds, parameter_validation=False)
        client = session.create_client(service, region_name=region, endpoint_url=endpoint, config=config,
                                       **(credentials or {}))
        if service == "sns":
            client.meta.events.register("before-call.sns.PublishBatch", encode_form_body)
        return client


def encode_form_body(params: dict[str, Any], **_: Any) -> None:
    """botocore's `before-call` hook: the query-protocol body, form-encoded once.

    botocore keeps the body a dict until it is sent and form-encodes it (`urllib.parse.urlencode`,
    a Python loop per byte) each time it is read: once to sign it, once to send it. Encoding it
    here, exactly as botocore would, halves that cost and changes no byte."""
    body = params.get("body")
    if isinstance(body, dict):
        params["body"] = urlencode([(_utf8(key), _utf8(value)) for key, value in body.items()], doseq=True).encode()


def _utf8(value: Any) -> Any:
    return value.encode("utf-8") if isinstance(value, str) else value


# --- the child process --------------------------------------------------------------------------

class PublisherProcess:
    """An `SnsPublisher` in a child process, started on first use and again after it dies. Several
    rounds may be in flight at once (one per delivery thread): each request carries an id, the child
    answers each as it finishes, and a reader thread hands every answer to its waiting caller."""

    def __init__(self, settings: PublisherSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()  # the child, the request ids, writes to its pipe
        self._child: _Child | None = None
        self._next_request = 0
        self._in_process: SnsPublisher | None = None  # when no child process can be started

    def publish_many(self, calls: list[Call]) -> list[Outcomes]:
        if self._in_process is not None:
            return self._in_process.publish_many(calls)
        waiting: Future[list[Outcomes]] = Future()
        try:
            with self._lock:
                try:
                    child = self._started()
                except OSError as error:
                    log.warning("cannot start the SNS publisher process; publishing in the server's process",
                                extra={"error": f"{type(error).__name__}: {error}"})
                    self._in_process = SnsPublisher(self.settings)
                    return self._in_process.publish_many(calls)
                self._next_request += 1
                request_id = self._next_request
                child.waiting[request_id] = waiting
                _write_frame(child.process.stdin, (request_id, calls))  # type: ignore[arg-type]
            return waiting.result(self._answer_timeout(calls))
        except (OSError, EOFError, TimeoutError, pickle.UnpicklingError) as error:
            with self._lock:
                if self._child is not None and self._child.process.poll() is None and isinstance(error, TimeoutError):
                    self._child.process.kill()  # stuck: its other rounds fail too, and are retried
            reason = f"the SNS publisher process failed ({type(error).__name__}: {error}); retried"
            log.warning("SNS publisher process failed; it is started again for the next round",
                        extra={"error": type(error).__name__})
            return [{int(entry["Id"]): reason for entry in entries} for _, _, entries in calls]

    def close(self) -> None:
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            child.stop()
        if self._in_process is not None:
            self._in_process.close()

    def _answer_timeout(self, calls: list[Call]) -> float:
        # Calls run PUBLISH_CONCURRENCY at a time, each bounded by connect + read timeouts; an STS
        # call may come first; another round may share the child.
        waves = -(-len(calls) // PUBLISH_CONCURRENCY)
        return (waves + 2) * 2 * self.settings.timeout_seconds + 5.0

    def _started(self) -> _Child:
        if self._child is None or not self._child.alive():
            self._child = _Child(self.settings)
        return self._child


class _Child:
    """One child process and the thread reading its answers."""

    def __init__(self, settings: PublisherSettings) -> None:
        # Unbuffered answers: the reader gets each as soon as it is written.
        self.process = subprocess.Popen([sys.executable, "-m", "wabalink.service.sns_publisher"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, close_fds=True)
        self.waiting: dict[int, Future[list[Outcomes]]] = {}
        self._gone = threading.Event()
        _write_frame(self.process.stdin, asdict(settings))  # type: ignore[arg-type]
        threading.Thread(target=self._read_answers, name="wabalink-sns-answers", daemon=True).start()

    def alive(self) -> bool:
        return not self._gone.is_set() and self.process.poll() is None

    def _read_answers(self) -> None:
        try:
            while True:
                request_id, outcomes = _read_frame(self.process.stdout)  # type: ignore[arg-type]
                waiting = self.waiting.pop(request_id, None)
                if waiting is not None:
                    waiting.set_result(outcomes)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError) as error:
            self._gone.set()
            for waiting in list(self.waiting.values()):
                if not waiting.done():
                    waiting.set_exception(EOFError(f"the publisher process ended ({type(error).__name__})"))
            self.waiting.clear()

    def stop(self) -> None:
        self._gone.set()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            self.process.wait(2.0)  # it exits at the end of its input
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    pending = memoryview(_FRAME.pack(len(data)) + data)
    while pending:
        written = stream.write(pending)  # a raw pipe may take less than given
        pending = pending[written or 0:]
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any:
    header = _read_exactly(stream, _FRAME.size)
    return pickle.loads(_read_exactly(stream, _FRAME.unpack(header)[0]))


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = stream.read(missing)  # a raw pipe may give less than asked
        if not chunk:
            raise EOFError("the other end closed the pipe")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The child's loop: settings first, then rounds of calls, each answered (with its request id)
    as soon as it is published; rounds run side by side. Ends at the end of its input."""
    publisher = SnsPublisher(PublisherSettings(**_read_frame(requests)))
    rounds = ThreadPoolExecutor(ROUNDS_AT_ONCE, thread_name_prefix="wabalink-sns-round")
    answer_lock = threading.Lock()

    def publish_round(request_id: int, calls: list[Call]) -> None:
        outcomes = publisher.publish_many(calls)
        with answer_lock:
            _write_frame(answers, (request_id, outcomes))

    try:
        while True:
            try:
                request_id, calls = _read_frame(requests)
            except EOFError:
                return
            rounds.submit(publish_round, request_id, calls)
    finally:
        rounds.shutdown(wait=True)
        publisher.close()


if __name__ == "__main__":
    # The pipes are the protocol: anything else the child prints goes to stderr (the server's log).
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        _serve(sys.stdin.buffer, protocol_out)
    except (BrokenPipeError, KeyboardInterrupt):
        pass
