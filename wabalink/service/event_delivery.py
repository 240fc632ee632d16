"""The delivery worker: publishes each pending event of the event log to its SNS topic.

One thread per server (started and stopped with the app), woken when events are committed and
otherwise polling with bounded sleeps. Each round claims up to CLAIM_BATCH due events with a lease
(PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`, so several replicas on one database share the
work and never claim the same event; a killed replica's lease simply expires), publishes them with
SNS `PublishBatch` (10 per call, botocore's client at `--sns-endpoint-url` / AWS_ENDPOINT_URL_SNS,
credentials from the standard chain, region from the topic ARN, `roleArn` assumed through STS first
and its credentials cached until shortly before they expire), then records each outcome: delivered,
or retrying with exponential backoff and the last error, or dead once the retry budget (attempts
and/or age) is spent. Per AWS messageId, an event is claimed only when every earlier event of that
message is finished, so `sent` is published before `delivered` before `read`.

Events whose destination is not an SNS topic (a replayed Amazon Connect or destination-less event)
go back to `undeliverable` / `no_destination`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from wabalink.service.events import CONNECT_NOT_DELIVERABLE, on_new_events
from wabalink.store import events as event_store
from wabalink.store.db import Store

log = logging.getLogger("wabalink.events")

Row = dict[str, Any]
CLAIM_BATCH = 200
PUBLISH_BATCH = 10  # SNS PublishBatch's limit
PUBLISH_CONCURRENCY = 8  # PublishBatch calls in flight at once (botocore clients are thread-safe)
IDLE_POLL_SECONDS = 0.5
# After a wake-up, events committed within this long join the same round: fuller PublishBatch calls
# (each costs about as much CPU for 1 entry as for 10) for a few milliseconds of latency.
GATHER_SECONDS = 0.03
LEASE_SECONDS = 60.0
ROLE_CREDENTIALS_MARGIN_SECONDS = 300


@dataclass
class DeliverySettings:
    sns_endpoint_url: str | None = None  # None: botocore's own (AWS_ENDPOINT_URL_SNS, else real SNS)
    max_attempts: int = 0  # 0: no limit on attempts, only on age
    max_age_seconds: float = 86_400.0
    retry_base_seconds: float = 1.0
    retry_max_delay_seconds: float = 300.0
    publish_timeout_seconds: float = 10.0


class EventDelivery:
    def __init__(self, store: Store, settings: DeliverySettings) -> None:
        self.store = store
        self.settings = settings
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._publishers = ThreadPoolExecutor(PUBLISH_CONCURRENCY, thread_name_prefix="wabalink-sns")
        self._clients_lock = threading.Lock()
        self._remove_listener = on_new_events(self._wake.set)
        self._clients: dict[tuple[str, str | None], Any] = {}  # (region, assumed key id)
        self._role_credentials: dict[str, tuple[dict[str, str], float]] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wabalink-event-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._remove_listener()
        if self._thread is not None:
            self._thread.join(timeout)
        self._publishers.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                delivered = self.deliver_due()
            except Exception:  # the store is unreachable for now: try again after a pause
                log.exception("event delivery round failed")
                delivered = 0
            if delivered < CLAIM_BATCH:
                if delivered == 0:
                    self._wake.wait(IDLE_POLL_SECONDS)
                self._wake.clear()
                self._stopping.wait(GATHER_SECONDS)

    def deliver_due(self) -> int:
        """One round: claim, publish, record. Returns how many events were claimed."""
        now = time.time()
        with self.store.writer() as conn:
            claimed = event_store.claim_due(conn, now, now + LEASE_SECONDS, CLAIM_BATCH)
        if not claimed:
            return 0
        outcomes: dict[int, str | None] = {}  # seq -> None (delivered) or the error
        not_deliverable: list[Row] = []
        by_topic: dict[tuple[str, str | None], list[Row]] = {}
        for row in claimed:
            topic = _sns_destination(json.loads(row["destinations"]))
            if topic is None:
                not_deliverable.append(row)
            else:
                by_topic.setdefault(topic, []).append(row)
        calls = [self._publishers.submit(self._publish, topic_arn, role_arn, rows[start:start + PUBLISH_BATCH])
                 for (topic_arn, role_arn), rows in by_topic.items() for start in range(0, len(rows), PUBLISH_BATCH)]
        for call in calls:
            outcomes.update(call.result())
        self._record(claimed, outcomes, not_deliverable)
        return len(claimed)

    def _publish(self, topic_arn: str, role_arn: str | None, rows: list[Row]) -> dict[int, str | None]:
        entries = [{"Id": str(row["seq"]), "Message": row["envelope"]} for row in rows]
        try:
            answer = self._client(topic_arn, role_arn).publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
        except Exception as error:  # endpoint down, credentials missing, topic gone: all retried
            reason = f"SNS PublishBatch to {topic_arn} failed: {type(error).__name__}: {str(error)[:300]}"
            return {row["seq"]: reason for row in rows}
        outcomes: dict[int, str | None] = {row["seq"]: "SNS PublishBatch answered neither success nor failure"
                                           for row in rows}
        for item in answer.get("Successful", []):
            outcomes[int(item["Id"])] = None
        for item in answer.get("Failed", []):
            outcomes[int(item["Id"])] = f"SNS {item.get('Code')}: {str(item.get('Message'))[:300]}"
        return outcomes

    def _record(self, claimed: list[Row], outcomes: dict[int, str | None], not_deliverable: list[Row]) -> None:
        now = time.time()
        failures = 0
        not_deliverable_seqs = {row["seq"] for row in not_deliverable}
        delivered = [row["seq"] for row in claimed
                     if row["seq"] not in not_deliverable_seqs and outcomes.get(row["seq"], "not published") is None]
        with self.store.writer() as conn:
            event_store.mark_all_delivered(conn, delivered, now)
            for row in claimed:
                if row["seq"] in not_deliverable_seqs:
                    destinations = json.loads(row["destinations"])
                    connect = any(":connect:" in d.get("eventDestinationArn", "") for d in destinations)
                    state = event_store.UNDELIVERABLE if connect else event_store.NO_DESTINATION
                    reason = CONNECT_NOT_DELIVERABLE if connect else "no event destination"
                    event_store.mark_failed(conn, row["seq"], state, reason, now)
                    continue
                error = outcomes.get(row["seq"], "not published")
                if error is None:
                    continue  # marked above
                failures, last_failure = failures + 1, (row, error)
                attempts = row["attempts"] + 1
                spent = ((self.settings.max_attempts and attempts >= self.settings.max_attempts)
                         or now - row["created_at"] >= self.settings.max_age_seconds)
                delay = min(self.settings.retry_base_seconds * 2 ** min(attempts - 1, 30),
                            self.settings.retry_max_delay_seconds)
                event_store.mark_failed(conn, row["seq"], event_store.DEAD if spent else event_store.RETRYING,
                                        error, now + delay)
        if failures:
            log.warning("events not delivered", extra={"failed": failures, "claimed": len(claimed),
                                                       **_failure_fields(*last_failure)})

    def _client(self, topic_arn: str, role_arn: str | None) -> Any:
        region = topic_arn.split(":")[3]
        with self._clients_lock:  # one STS call and one client per key, whichever publisher asks first
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
        # Entries are built here, from the event log: botocore's validation of each call is pure cost.
        config = Config(retries={"total_max_attempts": 1}, connect_timeout=self.settings.publish_timeout_seconds,
                        read_timeout=self.settings.publish_timeout_seconds, parameter_validation=False)
        return session.create_client(service, region_name=region, endpoint_url=endpoint, config=config,
                                     **(credentials or {}))


def _sns_destination(destinations: list[Row]) -> tuple[str, str | None] | None:
    for destination in destinations:
        arn = destination.get("eventDestinationArn", "")
        if ":sns:" in arn:
            return arn, destination.get("roleArn") or None
    return None


NO_SNS_HINT = ("set --sns-endpoint-url (or AWS_ENDPOINT_URL_SNS) to a local SNS such as moto's server, "
               "or AWS credentials for real SNS")


def _failure_fields(row: Row, error: str) -> dict[str, str]:
    """Log fields of one failed delivery: where it went, why it failed, and how to fix a missing SNS."""
    destination = _sns_destination(json.loads(row["destinations"]))
    fields = {"destination": destination[0] if destination else "", "reason": error.split(" failed: ", 1)[-1]}
    if "NoCredentialsError" in error or "EndpointConnectionError" in error:
        fields["hint"] = NO_SNS_HINT
    return fields
