"""SNS PublishBatch from a child process: the body encoded once is botocore's own, byte for byte,
and a child that dies costs one round (retried), not the delivery."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

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


def test_a_killed_child_fails_one_round_and_the_next_round_starts_a_new_one() -> None:
    # Nothing listens on port 9: each call fails fast, which is all this test needs from SNS.
    publisher = PublisherProcess(PublisherSettings(sns_endpoint_url="http://127.0.0.1:9", timeout_seconds=2))
    calls = [("arn:aws:sns:us-east-1:123456789012:events", None, [{"Id": "5", "Message": "{}"}])]
    try:
        [first] = publisher.publish_many(calls)
        assert "SNS PublishBatch to arn:aws:sns:us-east-1:123456789012:events failed" in str(first[5])
        child = publisher._child
        assert child is not None
        child.kill()
        child.wait()
        [second] = publisher.publish_many(calls)
        assert "publisher process failed" in str(second[5]) or "PublishBatch" in str(second[5])
        [third] = publisher.publish_many(calls)
        assert "SNS PublishBatch to" in str(third[5])
        assert publisher._child is not None and publisher._child.pid != child.pid
    finally:
        publisher.close()
    assert publisher._child is None
