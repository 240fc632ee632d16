"""Comparing a presented secret with the expected one in constant time, whatever the client sent.

`hmac.compare_digest` raises TypeError for str holding non-ASCII characters, which a client's junk
signature, cookie or token can: every comparison of a presented secret goes through `same_secret`,
which compares UTF-8 bytes (lone surrogates included) instead."""

from __future__ import annotations

import hmac


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def same_secret(presented: str | bytes, expected: str | bytes) -> bool:
    return hmac.compare_digest(_as_bytes(presented), _as_bytes(expected))
