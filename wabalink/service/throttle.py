"""`--throttle aws`: AWS's per-account-and-region request quotas, as token buckets.

Quotas (AWS End User Messaging Social user guide, "Quotas"): SendWhatsAppMessage 1,000 requests per
second; PostWhatsAppMessageMedia, GetWhatsAppMessageMedia and DeleteWhatsAppMessageMedia 100 each;
DisassociateWhatsAppBusinessAccount, ListLinkedWhatsAppBusinessAccounts, TagResource, UntagResource
and ListTagsForResource 10 each. AWS publishes no figure for the other operations; wabalink applies
DEFAULT_RATE to each. A bucket holds one second of requests (its burst) and refills continuously;
an empty bucket answers ThrottledRequestException (429), which every operation declares.
"""

from __future__ import annotations

import threading
import time

from wabalink.aws.exceptions import ThrottledRequestException

DEFAULT_RATE = 10.0
DOCUMENTED_RATES = {
    "SendWhatsAppMessage": 1000.0,
    "PostWhatsAppMessageMedia": 100.0,
    "GetWhatsAppMessageMedia": 100.0,
    "DeleteWhatsAppMessageMedia": 100.0,
    "DisassociateWhatsAppBusinessAccount": 10.0,
    "ListLinkedWhatsAppBusinessAccounts": 10.0,
    "TagResource": 10.0,
    "UntagResource": 10.0,
    "ListTagsForResource": 10.0,
}


def rate_of(operation: str) -> float:
    return DOCUMENTED_RATES.get(operation, DEFAULT_RATE)


class RequestThrottle:
    """Token buckets keyed by (account, region, operation); thread-safe and cheap (one lock)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str, str], list[float]] = {}  # key -> [tokens, last refill]
        self._lock = threading.Lock()
        self._now = time.monotonic

    def check(self, account_id: str, region: str, operation: str) -> None:
        rate = rate_of(operation)
        now = self._now()
        key = (account_id, region, operation)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = [rate, now]
            tokens = min(rate, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            if tokens < 1.0:
                bucket[0] = tokens
                raise ThrottledRequestException(
                    f"Rate exceeded: {operation} allows {rate:g} requests per second per account and Region. "
                    "Retry with backoff.")
            bucket[0] = tokens - 1.0
