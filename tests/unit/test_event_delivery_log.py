"""The delivery worker's failure log line says where the events were going, why they failed and,
when no SNS is reachable at all, how to give it one."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from wabalink.service import event_delivery
from wabalink.service.event_delivery import DeliverySettings, EventDelivery

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:events"


class NoStore:
    @contextmanager
    def writer(self) -> Iterator[None]:
        yield None


def test_a_failure_without_credentials_logs_the_topic_the_reason_and_a_hint(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(event_delivery.event_store, "mark_failed", lambda *args: None)
    delivery = EventDelivery(NoStore(), DeliverySettings())  # type: ignore[arg-type]
    try:
        row = {"seq": 7, "attempts": 0, "created_at": time.time(), "envelope": "{}",
               "destinations": json.dumps([{"eventDestinationArn": TOPIC_ARN}])}
        [outcomes] = delivery._publisher.publish_many([(TOPIC_ARN, None, [{"Id": "7", "Message": "{}"}])])
        with caplog.at_level(logging.WARNING, logger="wabalink.events"):
            delivery._record([row], outcomes, [])
    finally:
        delivery.stop()
    [record] = [r for r in caplog.records if r.getMessage() == "events not delivered"]
    assert record.failed == 1 and record.claimed == 1  # type: ignore[attr-defined]
    assert record.destination == TOPIC_ARN  # type: ignore[attr-defined]
    assert record.reason == "NoCredentialsError: Unable to locate credentials"  # type: ignore[attr-defined]
    assert record.hint == event_delivery.NO_SNS_HINT  # type: ignore[attr-defined]
    assert "--sns-endpoint-url (or AWS_ENDPOINT_URL_SNS)" in record.hint  # type: ignore[attr-defined]
