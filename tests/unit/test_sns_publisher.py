"""SNS PublishBatch from a child process: the body encoded once is botocore's own, byte for byte,
and a child that dies costs one round (retried), not the delivery."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl

import pytest

from wabalink.service import sns_publisher
from wabalink.service.sns_publisher import PublisherProcess, PublisherSettings, encode_form_body


def envelope(index: int) -> str:
    entry = {"id": "1234", "changes": [{"field": "messages", "value": {"statuses": [
        {"id": f"wamid.HBgL{index}==", "status": "sent", "recipient_id": "14255550123"}]}}]}
    return json.dumps({"context": {"MetaWabaIds": [{"wabaId": "1234", "arn": "arn:aws:social-messaging:x"}]},
                       "whatsAppWebhookEntry": json.dumps(entry), "messageId": f"id {index} & more=+%"})


def test_the_body_is_encoded_once_byte_for_byte_as_botocore_encodes_it() -> None:
    import botocore.awsrequest

    body = {"Action": "PublishBatch", "Version": "2010-03-31", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Empty": ""}
    for index in range(10):
        body[f"PublishBatchRequestEntries.member.{index + 1}.Id"] = str(index)
        body[f"PublishBatchRequestEntries.member.{index + 1}.Message"] = envelope(index) + " héllo"
    params: dict[str, Any] = {"body": dict(body)}
    encode_form_body(params)
    botocore_body = botocore.awsrequest.AWSRequest(method="POST", url="https://sns", data=dict(body)).body
    assert params["body"] == botocore_body
    assert parse_qsl(params["body"].decode(), keep_blank_values=True) == list(body.items())


def test_a_child_killed_mid_round_fails_that_round_and_the_next_round_starts_a_new_one() -> None:
    silent = socket.socket()  # accepts connections and never answers: rounds stay in flight
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
    publisher = PublisherProcess(PublisherSettings(sns_endpoint_url=endpoint, timeout_seconds=5))
    calls = [("arn:aws:sns:us-east-1:123456789012:events", None, [{"Id": "5", "Message": "{}"}])]
    try:
        with ThreadPoolExecutor(2) as rounds:
            in_flight = [rounds.submit(publisher.publish_many, calls) for _ in range(2)]  # two rounds at once
            deadline = time.monotonic() + 10
            while (publisher._child is None or len(publisher._child.waiting) < 2) and time.monotonic() < deadline:
                time.sleep(0.02)
            first_child = publisher._child
            assert first_child is not None and len(first_child.waiting) == 2
            first_child.process.kill()
            for round_ in in_flight:
                [outcomes] = round_.result(10)
                assert "the SNS publisher process failed" in str(outcomes[5])
        silent.close()  # now refused at once: the next round's call fails fast, as SNS down
        [outcomes] = publisher.publish_many(calls)
        assert "SNS PublishBatch to arn:aws:sns:us-east-1:123456789012:events failed" in str(outcomes[5])
        assert publisher._child is not None and publisher._child.process.pid != first_child.process.pid
    finally:
        silent.close()
        publisher.close()
    assert publisher._child is None


def test_without_a_child_process_it_publishes_in_the_servers_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sns_publisher.sys, "executable", "/nonexistent/python")
    publisher = PublisherProcess(PublisherSettings(sns_endpoint_url="http://127.0.0.1:9", timeout_seconds=2))
    calls = [("arn:aws:sns:us-east-1:123456789012:events", None, [{"Id": "5", "Message": "{}"}])]
    try:
        for _ in range(2):
            [outcomes] = publisher.publish_many(calls)
            assert "SNS PublishBatch to arn:aws:sns:us-east-1:123456789012:events failed" in str(outcomes[5])
        assert publisher._child is None and publisher._in_process is not None
    finally:
        publisher.close()
