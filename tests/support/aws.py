"""Helpers for the wire-protocol tests: valid sample inputs generated from the model, and
requests built with botocore's own rest-json serializer (no server needed).

Imported explicitly by tests (`from tests.support.aws import ...`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from botocore.model import OperationModel, Shape
from botocore.serialize import create_serializer
from botocore.utils import percent_encode_sequence

from wabalink.aws.model import load_service_model
from wabalink.aws.protocol import RestJsonProtocol

HEX32 = "0123456789abcdef0123456789abcdef"
SAMPLE_TIMESTAMP = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)

# Candidate strings for patterned shapes; the first one satisfying pattern and length wins.
PATTERN_CANDIDATES = [
    f"waba-{HEX32}",
    f"phone-number-id-{HEX32}",
    f"arn:aws:social-messaging:us-east-1:123456789012:waba/{HEX32}",
    f"arn:aws:social-messaging:us-east-1:123456789012:phone-number-id/{HEX32}",
    "arn:aws:iam::123456789012:role/wabalink-role",
    "arn:aws:sns:us-east-1:123456789012:topic",
    "arn:aws:kms:us-east-1:123456789012:key/abcd",
    "https://bucket.s3.us-east-1.amazonaws.com/key",
    "+14155550100",
    "2024-05-06",
    "1234567890",
    "US",
    "my-bucket",
    "abc123",
]
# Characters that match none of the model's patterns when repeated.
MISMATCH_CANDIDATES = ["!", "#", "~", " ", "zz"]


@lru_cache(maxsize=1)
def service_model():
    return load_service_model()


@lru_cache(maxsize=1)
def protocol() -> RestJsonProtocol:
    return RestJsonProtocol(service_model())


@lru_cache(maxsize=1)
def serializer():
    # No client-side validation: tests hand deliberately bad input to the server's validator.
    return create_serializer("rest-json", include_validation=False)


def operation_names() -> list[str]:
    return list(service_model().operation_names)


def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


def _fits_length(shape: Shape, text: str) -> bool:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    return (low is None or len(text) >= low) and (high is None or len(text) <= high)


def sample_string(shape: Shape) -> str:
    enum = shape.enum
    if enum:
        return enum[0]
    pattern = shape.metadata.get("pattern")
    if pattern:
        compiled = re.compile(pattern, re.ASCII)
        for candidate in PATTERN_CANDIDATES:
            if compiled.fullmatch(candidate) and _fits_length(shape, candidate):
                return candidate
        raise AssertionError(f"no sample string for pattern {pattern!r} of {shape.name}")
    low = shape.metadata.get("min") or 1
    high = shape.metadata.get("max") or 64
    text = "sample-" + shape.name
    text = text[:high]
    return text + "x" * max(0, low - len(text))


def mismatching_string(shape: Shape) -> str | None:
    """A string of an allowed length that the shape's pattern rejects (None if none found)."""
    pattern = shape.metadata.get("pattern")
    if not pattern:
        return None
    compiled = re.compile(pattern, re.ASCII)
    low = max(shape.metadata.get("min") or 1, 1)
    for char in MISMATCH_CANDIDATES:
        text = char * low
        if not compiled.fullmatch(text) and _fits_length(shape, text):
            return text
    return None


def sample_value(shape: Shape, depth: int = 0) -> Any:
    """A valid value for `shape`, with every optional member filled (to exercise them all)."""
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return {"doc": [1, "two"]}
        if depth > 6:
            return {name: sample_value(shape.members[name], depth + 1) for name in shape.required_members}
        return {name: sample_value(member, depth + 1) for name, member in shape.members.items()}
    if kind == "list":
        count = max(shape.metadata.get("min") or 1, 1)
        return [sample_value(shape.member, depth + 1) for _ in range(count)]
    if kind == "map":
        return {sample_string(shape.key): sample_value(shape.value, depth + 1)}
    if kind == "string":
        return sample_string(shape)
    if kind in ("integer", "long"):
        low = shape.metadata.get("min")
        return low if low is not None else 3
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return SAMPLE_TIMESTAMP
    if kind == "blob":
        size = max(shape.metadata.get("min") or 1, 5)
        high = shape.metadata.get("max")
        if high is not None:
            size = min(size, high)
        return (b"hello" * (size // 5 + 1))[:size]
    raise AssertionError(f"no sample for {kind}")


def sample_params(op: OperationModel) -> dict[str, Any]:
    return sample_value(op.input_shape) if op.input_shape is not None else {}


def serialize_request(op: OperationModel, params: dict[str, Any]) -> tuple[str, str, bytes, dict[str, str], bytes]:
    """(method, path, query_string, lowercase headers, body) as botocore would send them."""
    request = serializer().serialize_to_request(params, op)
    path, _, literal_query = request["url_path"].partition("?")
    query = percent_encode_sequence(request["query_string"]) if request["query_string"] else ""
    if literal_query:
        query = literal_query + ("&" + query if query else "")
    headers = {name.lower(): str(value) for name, value in request["headers"].items()}
    body = request["body"]
    if isinstance(body, str):
        body = body.encode("utf-8")
    return request["method"], path, query.encode("ascii"), headers, body or b""
