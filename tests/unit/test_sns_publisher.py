"""SNS PublishBatch from a child process: the fast form encoding decodes to botocore's own
parameters, and a child that dies costs one round (retried), not the delivery."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

from wabalink.service.sns_publisher import FAST_FORM_MAX_BYTES, PublisherProcess, PublisherSettings, encode_form_body


def envelope(index: int) -> str:
    entry = {"id": "1234", "changes": [{"field": "messages", "value": {"statuses": [
        {"id": f"wamid.HBgL{index}==", "status": "sent", "recipient_id": "14255550123"}]}}]}
    return json.dumps({"context": {"MetaWabaIds": [{"wabaId": "1234", "arn": "arn:aws:social-messaging:x"}]},
                       "whatsAppWebhookEntry": json.dumps(entry), "messageId": f"id {index} & more=+%"})


def test_the_fast_body_decodes_to_the_same_parameters_as_botocores() -> None:
    body = {"Action": "PublishBatch", "Version": "2010-03-31", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Empty": ""}
    for index in range(10):
        body[f"PublishBatchRequestEntries.member.{index + 1}.Id"] = str(index)
        body[f"PublishBatchRequestEntries.member.{index + 1}.Message"] = envelope(index)
    params = {"body": dict(body)}
    encode_form_body(params)
    assert isinstance(params["body"], bytes)
    assert parse_qsl(params["body"].decode(), keep_blank_values=True) == list(body.items())
    assert parse_qsl(urlencode(body), keep_blank_values=True) == list(body.items())


def test_non_ascii_or_large_bodies_keep_botocores_encoding() -> None:
    for body in ({"Message": "héllo"}, {"Message": "x" * FAST_FORM_MAX_BYTES}, {"Count": 3}):
        params = {"body": dict(body)}
        encode_form_body(params)
        assert params["body"] == body


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
