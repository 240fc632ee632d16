"""The README's "Test your application" examples, verbatim, each run by pytest in its own process
with the installed plugin, as a user's suite would run them."""

from __future__ import annotations

import importlib.util

import pytest

from tests.e2e.test_readme_examples import readme_block

pytest_plugins = ["pytester"]

SECTION = "## Test your application"


def run_example(pytester: pytest.Pytester, index: int, passed: int) -> None:
    code = readme_block(SECTION, "python", index)
    pytester.makepyfile(test_readme_example=code)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=passed)


def test_link_and_tag_example(pytester: pytest.Pytester) -> None:
    run_example(pytester, 0, passed=1)


@pytest.mark.skipif(importlib.util.find_spec("wabalink.service.messaging") is None,
                    reason="needs SendWhatsAppMessage")
def test_send_and_react_to_a_reply_example(pytester: pytest.Pytester) -> None:
    run_example(pytester, 1, passed=1)


def test_mock_and_server_example(pytester: pytest.Pytester) -> None:
    run_example(pytester, 2, passed=3)
