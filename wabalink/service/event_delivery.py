"""The delivery worker: publishes each pending event of the event log to its SNS topic.

DELIVERY_THREADS threads per server (started and stopped with the app), woken when events are
committed and otherwise polling with bounded sleeps, each running rounds: while one round is being
published the other claims or records, as replicas do. Each round claims up to CLAIM_BATCH due events with a lease
(PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`, so several replicas on one database share the
work and never claim the same event; a killed replica's lease simply expires), publishes them with
SNS `PublishBatch` (10 per call, botocore's client at `--sns-endpoint-url` / AWS_ENDPOINT_URL_SNS,
credentials from the standard chain, region from the topic ARN, `roleArn` assumed through STS first
and its credentials cached until shortly before they expire), then records each outcome: delivered,
or retrying with exponential backoff and the last error, or dead once the retry budget (attempts
and/or age) is spent. The PublishBatch calls themselves run in a child process of the server
(sns_publisher.py), off the server's interpreter. Per AWS messageId, an event is claimed only when
every earlier event of that message is finished (a claimed one is not), so `sent` is published
before `delivered` before `read` whichever thread or replica claims them.

Events whose destination is not an SNS topic (a replayed Amazon Connect or destination-less event)
go back to `undeliverable` / `no_destination`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from wabalink import jsontext
from wabalink.service.events import CONNECT_NOT_DELIVERABLE, on_new_events
from wabalink.service.sns_publisher import Call, PublisherProcess, PublisherSettings, SnsPublisher
from wabalink.store import events as event_store
from wabalink.store.db import Store

log = logging.getLogger("wabalink.events")

Row = dict[str, Any]
CLAIM_BATCH = 200
DELIVERY_THREADS = 2
PUBLISH_BATCH = 10  # SNS PublishBatch's limit
IDLE_POLL_SECONDS = 0.5
# After a wake-up, events committed within this long join the same round: fuller PublishBatch calls
# (each costs about as much CPU for 1 entry as for 10) for a few milliseconds of latency.
GATHER_SECONDS = 0.03
LEASE_SECONDS = 60.0


@dataclass
class DeliverySettings:
    sns_endpoint_url: str | None = None  # None: botocore's own (AWS_ENDPOINT_URL_SNS, else real SNS)
    max_attempts: int = 0  # 0: no limit on attempts, only on age
    max_age_seconds: float = 86_400.0
    retry_base_seconds: float = 1.0
    retry_max_delay_seconds: float = 300.0
    publish_timeout_seconds: float = 10.0
    publish_in_child: bool = False  # PublishBatch in a child process (sns_publisher.py): the server's default


class EventDelivery:
    def __init__(self, store: Store, settings: DeliverySettings) -> None:
        self.store = store
        self.settings = settings
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        publisher_settings = PublisherSettings(settings.sns_endpoint_url, settings.publish_timeout_seconds)
        self._publisher: SnsPublisher | PublisherProcess = (
            PublisherProcess(publisher_settings) if settings.publish_in_child else SnsPublisher(publisher_settings))
        self._remove_listener = on_new_events(self._wake.set)

    def start(self) -> None:
        for index in range(DELIVERY_THREADS):
            thread = threading.Thread(target=self._run, name=f"wabalink-event-delivery-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._remove_listener()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._publisher.close()

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
            topic = _sns_destination(jsontext.loads(row["destinations"]))
            if topic is None:
                not_deliverable.append(row)
            else:
                by_topic.setdefault(topic, []).append(row)
        calls: list[Call] = [
            (topic_arn, role_arn, [{"Id": str(row["seq"]), "Message": row["envelope"]}
                                   for row in rows[start:start + PUBLISH_BATCH]])
            for (topic_arn, role_arn), rows in by_topic.items() for start in range(0, len(rows), PUBLISH_BATCH)]
        for call_outcomes in self._publisher.publish_many(calls) if calls else []:
            outcomes.update(call_outcomes)
        self._record(claimed, outcomes, not_deliverable)
        return len(claimed)

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
