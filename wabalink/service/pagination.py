"""Page tokens for every paginated operation: opaque, and bound to who asked for what.

A token carries the position after the last item of its page, signed (HMAC-SHA256, with a secret
kept in the store, so replicas and restarts agree) together with the caller's account and region,
the operation and its filters. A token that was not issued for exactly that caller, operation and
filters, or was changed, is an `InvalidParametersException` naming `nextToken`: a position is never
trusted just because it decodes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import orjson

from wabalink.aws.exceptions import InvalidParametersException
from wabalink.service.operations import RequestContext

_SIGNATURE_BYTES = 16  # 128 bits: forging one is out of reach


class PageTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, ctx: RequestContext, operation: str, filters: Mapping[str, Any], position: list[Any]) -> str:
        payload = orjson.dumps(position)
        signature = self._sign(ctx, operation, filters, payload)
        return f"{_b64(payload)}.{_b64(signature)}"

    def position(self, ctx: RequestContext, operation: str, filters: Mapping[str, Any],
                 token: str | None, field: str = "nextToken") -> list[Any] | None:
        """The position a token of this caller's earlier page points at; None for the first page."""
        if token is None:
            return None
        encoded_payload, _, encoded_signature = token.partition(".")
        try:
            payload, signature = _unb64(encoded_payload), _unb64(encoded_signature)
        except (ValueError, binascii.Error):
            raise _foreign(field) from None
        if not hmac.compare_digest(signature, self._sign(ctx, operation, filters, payload)):
            raise _foreign(field)
        position = orjson.loads(payload)
        if not isinstance(position, list):
            raise _foreign(field)
        return position

    def _sign(self, ctx: RequestContext, operation: str, filters: Mapping[str, Any], payload: bytes) -> bytes:
        scope = orjson.dumps([ctx.account_id, ctx.region, operation, dict(filters)], option=orjson.OPT_SORT_KEYS)
        return hmac.new(self._secret, scope + b"\n" + payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _foreign(field: str) -> InvalidParametersException:
    return InvalidParametersException(
        f"{field} is not a token this operation returned for these parameters; start again without {field}.")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
