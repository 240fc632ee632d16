"""JSON text on the hot paths at orjson's speed, keeping the standard library's output where it is
what wabalink promises (an event's envelope, a dedupe key's canonical form).

A message's life writes and reads JSON a dozen times (the Graph body, Meta's stored change and
webhook body, the receiver's canonical form, the AWS envelope and its entry); with the standard
library that was the largest single share of the server's CPU per message.

- `compact(value, sort_keys=False)` is `json.dumps(value, separators=(",", ":"), sort_keys=...)`:
  ASCII, other characters escaped as `\\uXXXX`. orjson writes the very same text whenever its
  output is ASCII; otherwise (or for what orjson refuses: integers beyond 64 bits, non-string keys,
  lone surrogates) the standard library writes it. The one difference: orjson writes small floats
  without an exponent (`0.00001` for `1e-05`), the same number.
- `compact_unicode(value)` is `json.dumps(value, separators=(",", ":"), ensure_ascii=False)`, and
  `compact_utf8(value)` the same encoded as UTF-8.
- `loads(text)` reads what `json.loads` reads: orjson first, the standard library for what orjson
  refuses (a lone surrogate escape), so errors stay ValueError (or RecursionError) as before.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def compact(value: Any, *, sort_keys: bool = False) -> str:
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0).decode()
    except (orjson.JSONEncodeError, UnicodeDecodeError):
        text = ""
    if text and text.isascii():
        return text
    return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys)


def compact_utf8(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def compact_unicode(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
