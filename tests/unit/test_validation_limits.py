"""Validation stays cheap and its answers small whatever the input: over-long values are refused by
their length before any pattern runs, patterns cannot backtrack for long on in-range values, and a
request with a million problems gets an error naming the first few and counting the rest."""

from __future__ import annotations

import re
import time
import tracemalloc

import orjson
import pytest

from tests.support.aws import operation, protocol, service_model
from wabalink.aws.errors import AwsError
from wabalink.aws.validation import MAX_LISTED_PROBLEMS

WABA_ARN = "arn:aws:social-messaging:us-east-1:123456789012:waba/" + "a" * 32
# A hang detector, not a benchmark: before lengths came first, 40,000 characters took seconds.
HANG_SECONDS = 1.0


def _validation_error(op_name: str, query: bytes = b"", body: bytes = b"") -> tuple[AwsError, float]:
    started = time.perf_counter()
    with pytest.raises(AwsError) as caught:
        protocol().parse(operation(op_name), {}, query, {}, body)
    return caught.value, time.perf_counter() - started


@pytest.mark.parametrize("length", [40_000, 80_000])
def test_an_over_long_id_is_refused_by_its_length(length: int) -> None:
    error, seconds = _validation_error("GetLinkedWhatsAppBusinessAccount", b"id=" + b"A" * length)
    assert error.code == "ValidationException"
    assert error.message.startswith("1 validation error detected: ")
    assert "at 'id' failed to satisfy constraint: Member must have length less than or equal to 115" in error.message
    assert "regular expression" not in error.message  # the pattern never ran
    assert len(error.message) < 1000  # the value is echoed cut short
    assert seconds < HANG_SECONDS


def test_an_in_range_id_that_misses_the_pattern_names_it() -> None:
    error, _ = _validation_error("GetLinkedWhatsAppBusinessAccount", b"id=" + b"A" * 115)
    assert ("at 'id' failed to satisfy constraint: Member must satisfy regular expression pattern: "
            ".*(^waba-.*$)|(^arn:.*:waba/[0-9a-zA-Z]+$).*") in error.message


def _patterned_string_shapes() -> dict[str, tuple[str, int]]:
    """Every patterned string shape of the model: pattern and the longest value it is matched on."""
    found: dict[str, tuple[str, int]] = {}
    for shape_name, shape in service_model()._shape_resolver._shape_map.items():
        if shape.get("type") == "string" and "pattern" in shape:
            found[shape_name] = (shape["pattern"], shape.get("max", 1_000_000))  # unbounded: 1 MB
    return found


# Pieces the model's patterns are built from, repeated to provoke backtracking.
_ADVERSARIAL_UNITS = (":", ":a", "a", "0", ":a-", "s3", "s3.", "amazonaws.com", ":iam::123456789012:role/a",
                      ":waba/a", ":phone-number-id/a", ":kms:a")
_PREFIXES = ("", "arn:", "arn:aws:kms:", "https://", "waba-")
_ENDINGS = ("", "!", "\n")


def test_no_model_pattern_backtracks_for_long_on_values_of_allowed_length() -> None:
    shapes = _patterned_string_shapes()
    assert "LinkedWhatsAppBusinessAccountId" in shapes
    started = time.perf_counter()
    for pattern, longest in shapes.values():
        compiled = re.compile(pattern, re.ASCII)
        for prefix in _PREFIXES:
            for unit in _ADVERSARIAL_UNITS:
                for ending in _ENDINGS:
                    text = (prefix + unit * (longest // len(unit) + 1))[:longest - len(ending)] + ending
                    compiled.fullmatch(text)
    assert time.perf_counter() - started < 5 * HANG_SECONDS


def _tag_resource_body(tags: list[dict[str, str]]) -> bytes:
    return orjson.dumps({"resourceArn": WABA_ARN, "tags": tags})


def test_a_million_problems_give_a_short_answer_naming_the_first_few_and_the_count() -> None:
    error, _ = _validation_error("TagResource", body=_tag_resource_body([{}] * 900_000))
    assert error.code == "ValidationException"
    assert error.message.startswith("900000 validation errors detected: ")
    assert error.message.count("failed to satisfy constraint") == MAX_LISTED_PROBLEMS
    assert "Value null at 'tags[0].key' failed to satisfy constraint: Member must not be null" in error.message
    assert error.message.endswith("; ... and 899,990 more problems")
    assert len(error.message) < 2000


def test_problem_count_is_exact_below_and_at_the_listing_cap() -> None:
    error, _ = _validation_error("TagResource", body=_tag_resource_body([{}] * MAX_LISTED_PROBLEMS))
    assert error.message.startswith(f"{MAX_LISTED_PROBLEMS} validation errors detected: ")
    assert "more problem" not in error.message
    error, _ = _validation_error("TagResource", body=_tag_resource_body([{}] * (MAX_LISTED_PROBLEMS + 1)))
    assert error.message.endswith("; ... and 1 more problem")


def test_memory_for_many_problems_stays_proportional_to_the_body() -> None:
    body = _tag_resource_body([{"value": "v"}] * 100_000)  # 1.4 MB: each tag lacks its key
    tracemalloc.start()
    try:
        decoded = orjson.loads(body)
        decoded_size = tracemalloc.get_traced_memory()[0]
        del decoded
        tracemalloc.reset_peak()
        with pytest.raises(AwsError):
            protocol().parse(operation("TagResource"), {}, b"", {}, body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The decoded document and little more: no message kept per problem, no converted copy kept
    # once the request is refused.
    assert peak < 2 * decoded_size


def test_a_long_list_of_values_is_echoed_cut_short() -> None:
    error, _ = _validation_error("ListLinkedWhatsAppBusinessAccounts", b"maxResults=" + b"9" * 50_000)
    assert "at 'maxResults'" in error.message
    assert len(error.message) < 1000


def test_map_entries_are_named_by_their_key_in_brackets() -> None:
    body = orjson.dumps({"filters": {"topic": None, "k" * 100: None}})
    error, _ = _validation_error("ListWhatsAppTemplateLibrary", b"id=waba-" + b"a" * 32, body)
    assert "Value null at 'filters[topic]' failed to satisfy constraint: Member must not be null" in error.message
    # A path shows at most 64 characters of a key.
    assert f"Value null at 'filters[{'k' * 64}...]'" in error.message
