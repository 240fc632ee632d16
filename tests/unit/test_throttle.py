"""The request quotas' token buckets: a second of burst, continuous refill, per account, region and operation."""

from __future__ import annotations

import pytest

from wabalink.aws.exceptions import ThrottledRequestException
from wabalink.service.throttle import DEFAULT_RATE, RequestThrottle, rate_of


def test_documented_quotas() -> None:
    assert rate_of("SendWhatsAppMessage") == 1000
    assert rate_of("PostWhatsAppMessageMedia") == rate_of("GetWhatsAppMessageMedia") == 100
    assert rate_of("ListLinkedWhatsAppBusinessAccounts") == rate_of("TagResource") == 10
    assert rate_of("CreateWhatsAppMessageTemplate") == DEFAULT_RATE


def test_burst_then_refill_per_key() -> None:
    clock = [100.0]
    throttle = RequestThrottle()
    throttle._now = lambda: clock[0]  # type: ignore[method-assign]
    for _ in range(1000):
        throttle.check("111122223333", "us-east-1", "SendWhatsAppMessage")
    with pytest.raises(ThrottledRequestException, match="1000 requests per second"):
        throttle.check("111122223333", "us-east-1", "SendWhatsAppMessage")
    # Other accounts, regions and operations have their own buckets.
    throttle.check("444455556666", "us-east-1", "SendWhatsAppMessage")
    throttle.check("111122223333", "eu-west-1", "SendWhatsAppMessage")
    throttle.check("111122223333", "us-east-1", "TagResource")
    clock[0] += 0.0055  # 5.5 ms refill 5 requests (and a half)
    for _ in range(5):
        throttle.check("111122223333", "us-east-1", "SendWhatsAppMessage")
    with pytest.raises(ThrottledRequestException):
        throttle.check("111122223333", "us-east-1", "SendWhatsAppMessage")
