"""The layout's guarantees: generated modules current, every operation's errors declared, one
dispatch table, page tokens bound to their caller, operation and filters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from wabalink.aws import codegen
from wabalink.aws.exceptions import InvalidParametersException
from wabalink.aws.model import load_service_model
from wabalink.service.operations import RequestContext, declared_operations
from wabalink.service.pagination import PageTokens

SERVICE_DIR = Path(__file__).resolve().parents[2] / "wabalink" / "service"
CTX = RequestContext("123456789012", "us-east-1")


@pytest.mark.parametrize("path", sorted(codegen.generated_files()), ids=lambda path: path.name)
def test_generated_modules_are_current(path: Path) -> None:
    assert path.read_text() == codegen.generated_files()[path], (
        f"{path.name} is stale: run `python -m wabalink.aws.codegen`")


def test_every_declared_operation_is_in_the_model_once() -> None:
    model_names = set(load_service_model().operation_names)
    assert set(declared_operations()) <= model_names


def _raised_error_classes(function: ast.FunctionDef, module: ast.Module) -> set[str]:
    return {node.exc.func.id for node in ast.walk(function)
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name)
            and node.exc.func.id.endswith("Exception")}


def test_operations_raise_only_errors_their_operation_declares() -> None:
    """A static check of each decorated method and the methods of its own class it calls; the
    server also turns an undeclared error into a 500 while tests run (WABALINK_CHECK_DECLARED_ERRORS)."""
    model = load_service_model()
    for name, (area, attribute, _declaration) in declared_operations().items():
        module_path = Path(__import__(area.__module__, fromlist=["_"]).__file__ or "")
        tree = ast.parse(module_path.read_text())
        methods = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        declared = {shape.name for shape in model.operation_model(name).error_shapes}
        seen: set[str] = set()
        pending = [attribute]
        raised: set[str] = set()
        while pending:
            method_name = pending.pop()
            if method_name in seen or method_name not in methods:
                continue
            seen.add(method_name)
            function = methods[method_name]
            raised |= _raised_error_classes(function, tree)
            pending += [node.func.attr for node in ast.walk(function)
                        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"]
        raised.discard("NotImplementedException")
        assert raised <= declared, f"{name} raises {sorted(raised - declared)}, which it does not declare"


def test_no_module_is_over_400_lines_without_a_reason() -> None:
    for path in SERVICE_DIR.parent.rglob("*.py"):
        if path.name in ("shapes.py", "exceptions.py") and path.parent.name == "aws":
            continue  # generated from the model
        text = path.read_text()
        if len(text.splitlines()) > 400:
            assert "Over 400 lines because" in text, f"{path.name} is over 400 lines"


# --- page tokens --------------------------------------------------------------------------------

def test_a_page_token_round_trips_for_its_caller_operation_and_filters() -> None:
    pages = PageTokens(b"k" * 32)
    token = pages.issue(CTX, "ListThings", {"filter": "a"}, [1.5, "abc"])
    assert pages.position(CTX, "ListThings", {"filter": "a"}, token) == [1.5, "abc"]
    assert pages.position(CTX, "ListThings", {"filter": "a"}, None) is None


@pytest.mark.parametrize("reuse", [
    (RequestContext("999999999999", "us-east-1"), "ListThings", {"filter": "a"}),
    (RequestContext("123456789012", "eu-west-1"), "ListThings", {"filter": "a"}),
    (CTX, "ListOtherThings", {"filter": "a"}),
    (CTX, "ListThings", {"filter": "b"}),
], ids=["other-account", "other-region", "other-operation", "other-filters"])
def test_a_page_token_used_elsewhere_is_invalid_parameters(reuse: tuple[RequestContext, str, dict[str, str]]) -> None:
    pages = PageTokens(b"k" * 32)
    token = pages.issue(CTX, "ListThings", {"filter": "a"}, [1.5, "abc"])
    with pytest.raises(InvalidParametersException, match="nextToken"):
        pages.position(*reuse, token)


@pytest.mark.parametrize("token", [
    "WzEsIlx1ZDgwMCJd", "", ".", "garbage!", "WzEsMl0.AAAA", "WzEsMl0\x00.x", "a" * 5000,
])
def test_tampered_and_junk_tokens_are_invalid_parameters(token: str) -> None:
    pages = PageTokens(b"k" * 32)
    with pytest.raises(InvalidParametersException, match="nextToken"):
        pages.position(CTX, "ListThings", {}, token)


def test_a_token_changed_in_one_character_is_refused() -> None:
    pages = PageTokens(b"k" * 32)
    token = pages.issue(CTX, "ListThings", {}, [1.5, "abc"])
    payload, signature = token.split(".")
    forged = PageTokens(b"k" * 32).issue(CTX, "ListThings", {}, [0, "zzz"]).split(".")[0] + "." + signature
    with pytest.raises(InvalidParametersException):
        pages.position(CTX, "ListThings", {}, forged)
    with pytest.raises(InvalidParametersException):
        PageTokens(b"other" * 8).position(CTX, "ListThings", {}, token)


def test_no_operation_answers_not_implemented() -> None:
    """All 38 operations of the model are built: none would answer 501."""
    missing = sorted(set(load_service_model().operation_names) - set(declared_operations()))
    assert missing == []
