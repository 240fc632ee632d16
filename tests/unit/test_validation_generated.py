"""Validation cases generated from the service model, for every operation and every constraint in
its input: a valid request built by botocore's serializer is broken in one place (its JSON body
or its query string) and the server-side parser must answer a 400 ValidationException naming the
member by its path (`a.b[0].c`: list items by 0-based index, map entries by key). New constraints in a newer botocore model get cases
without any change here."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.model import Shape
from botocore.utils import percent_encode_sequence

from tests.support.aws import mismatching_string, operation, operation_names, protocol, sample_params, serializer
from wabalink.aws.errors import AwsError

INT_TYPES = ("integer", "long")
# Blobs larger than this are not re-sent oversized (the model's biggest is 10 MB).
MAX_OVERSIZED_BLOB = 11 * 1024 * 1024

WireStep = str | int  # a key in a JSON object or an index in a JSON array
Mutation = Callable[[dict[str, Any], dict[str, Any]], None]  # (query params, body document)


@dataclass(frozen=True)
class Case:
    operation: str
    member_path: str  # as the message names it: a.b[0].c
    kind: str
    mutate: Mutation
    bad_text: str | None  # a value that must not be echoed when the member is sensitive
    sensitive: bool

    @property
    def id(self) -> str:
        generic_path = re.sub(r"\[\d+\]", "[]", self.member_path)
        return f"{self.operation}-{generic_path}-{self.kind}"


def _setter(location: str, wire_path: tuple[WireStep, ...], value: Any) -> Mutation:
    def mutate(query: dict[str, Any], body: dict[str, Any]) -> None:
        if location == "querystring":
            query[wire_path[0]] = value
            return
        target: Any = body
        for step in wire_path[:-1]:
            target = target[step]
        target[wire_path[-1]] = value
    return mutate


def _deleter(location: str, wire_path: tuple[WireStep, ...]) -> Mutation:
    def mutate(query: dict[str, Any], body: dict[str, Any]) -> None:
        target: Any = query if location == "querystring" else body
        for step in wire_path[:-1]:
            target = target[step]
        del target[wire_path[-1]]
    return mutate


def _length_cases(shape: Shape) -> Iterator[tuple[str, int]]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if high is not None:
        yield "too_long", high + 1
    if low is not None and low > 0:
        yield "too_short", low - 1


def _cases_for_value(
    op_name: str, shape: Shape, baseline: Any, path: str, wire_path: tuple[WireStep, ...],
    location: str, sensitive: bool,
) -> Iterator[Case]:
    sensitive = sensitive or bool(shape.metadata.get("sensitive"))
    kind = shape.type_name
    in_query = location == "querystring"

    def case(name: str, value: Any, bad_text: str | None = None) -> Case:
        return Case(op_name, path, name, _setter(location, wire_path, value), bad_text, sensitive)

    if kind == "string":
        for name, size in _length_cases(shape):
            text = ("Z" * size) if size else ""
            yield case(name, text, text if len(text) >= 3 else None)
        bad = mismatching_string(shape)
        if bad is not None:
            yield case("pattern", bad, bad if len(bad) >= 3 else None)
        if shape.enum:
            yield case("bad_enum", "NOT_AN_ENUM_VALUE", "NOT_AN_ENUM_VALUE")
        if not in_query:
            yield case("wrong_type", 12345)
    elif kind in INT_TYPES:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if high is not None:
            yield case("above_max", str(high + 1) if in_query else high + 1)
        if low is not None:
            yield case("below_min", str(low - 1) if in_query else low - 1)
        yield case("wrong_type", "not-a-number")
        if not in_query:
            yield case("fractional", 1.5)
    elif kind == "boolean":
        yield case("wrong_type", "not-a-boolean")
    elif kind == "timestamp":
        yield case("wrong_type", "not-a-timestamp")
    elif kind == "blob":
        if not in_query:
            yield case("bad_base64", "%%% not base64 %%%", "not base64")
            for name, size in _length_cases(shape):
                if size <= MAX_OVERSIZED_BLOB:
                    yield case(name, base64.b64encode(b"\x01" * size).decode())
    elif kind == "list" and not in_query:
        for name, size in _length_cases(shape):
            yield case(name, [baseline[0]] * size if baseline else [])
        yield case("wrong_type", "not-a-list")
        for index, item in enumerate(baseline, 1):
            yield from _cases_for_value(
                op_name, shape.member, item, f"{path}[{index - 1}]", wire_path + (index - 1,), location, sensitive)
    elif kind == "map" and not in_query:
        for name, size in _length_cases(shape):
            value = next(iter(baseline.values()))
            yield case(name, {f"k{i}": value for i in range(size)})
        yield case("wrong_type", "not-a-map")
        for key, item in baseline.items():
            yield from _cases_for_value(
                op_name, shape.value, item, f"{path}[{key}]", wire_path + (key,), location, sensitive)
    elif kind == "structure" and not shape.metadata.get("document") and not in_query:
        if path:
            yield case("wrong_type", "not-a-structure")
        yield from _cases_for_structure(op_name, shape, baseline, path, wire_path, sensitive)


def _cases_for_structure(
    op_name: str, shape: Shape, baseline: dict[str, Any], path: str, wire_path: tuple[WireStep, ...], sensitive: bool,
) -> Iterator[Case]:
    prefix = f"{path}." if path else ""
    for name, member in shape.members.items():
        if name not in baseline:
            continue
        location = member.serialization.get("location") or "body"
        if location not in ("body", "querystring"):
            continue  # the socialmessaging model binds nothing to headers or uri labels
        wire_name = member.serialization.get("name", name)
        member_wire_path = wire_path + (wire_name,)
        member_sensitive = sensitive or bool(member.metadata.get("sensitive"))
        if name in shape.required_members:
            yield Case(op_name, prefix + name, "missing", _deleter(location, member_wire_path), None, member_sensitive)
        yield from _cases_for_value(
            op_name, member, baseline[name], prefix + name, member_wire_path, location, sensitive)


def _all_cases() -> list[Case]:
    cases: list[Case] = []
    for op_name in operation_names():
        op = operation(op_name)
        if op.input_shape is None:
            continue
        cases.extend(_cases_for_structure(op_name, op.input_shape, sample_params(op), "", (), False))
    return cases


ALL_CASES = _all_cases()


def _request(op_name: str, mutate: Mutation | None) -> tuple[bytes, bytes]:
    op = operation(op_name)
    request = serializer().serialize_to_request(sample_params(op), op)
    query = copy.deepcopy(request["query_string"]) or {}
    body_bytes = request["body"] or b"{}"
    body = json.loads(body_bytes) if isinstance(body_bytes, (bytes, str)) else {}
    if mutate is not None:
        mutate(query, body)
    return percent_encode_sequence(query).encode() if query else b"", json.dumps(body).encode()


def test_every_operation_has_generated_cases() -> None:
    covered = {case.operation for case in ALL_CASES}
    with_input = {name for name in operation_names() if operation(name).input_shape is not None}
    assert covered == with_input
    assert len(ALL_CASES) > 300


@pytest.mark.parametrize("op_name", operation_names())
def test_baseline_request_is_valid(op_name: str) -> None:
    query, body = _request(op_name, None)
    protocol().parse(operation(op_name), {}, query, {}, body)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.id)
def test_invalid_input_is_a_validation_exception_naming_the_member(case: Case) -> None:
    query, body = _request(case.operation, case.mutate)
    with pytest.raises(AwsError) as caught:
        protocol().parse(operation(case.operation), {}, query, {}, body)
    error = caught.value
    assert (error.code, error.status) == ("ValidationException", 400), error.message
    assert re.match(r"\d+ validation errors? detected: ", error.message)
    assert f" at '{case.member_path}' failed to satisfy constraint: Member must " in error.message
    if case.kind == "missing":
        assert f"Value null at '{case.member_path}' failed to satisfy constraint: Member must not be null" in error.message
    if case.sensitive and case.bad_text:
        assert case.bad_text not in error.message
