"""Output formats beyond the recorded responses: edge shapes against awscli's own
formatters (in-process), YAML per AWS CLI v2's conventions, color, and the pager."""

from __future__ import annotations

import argparse
import datetime
import io
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wabalink.cli.aws import output, pager
from wabalink.cli.aws.output import render


def rendered(data: Any, fmt: str, query: str | None = None, color: str = "off",
             title: str = "ListLinkedWhatsAppBusinessAccounts", paginated: bool = False) -> str:
    stream = io.StringIO()
    render(data, output=fmt, query=query, color=color, stream=stream, operation_model=title,
           is_paginated_stream=paginated)
    return stream.getvalue()


# --- edge shapes against awscli's formatters ------------------------------------------


@pytest.fixture(scope="module")
def awscli_formatters() -> Iterator[Any]:
    # Importing awscli rewrites AWS_DATA_PATH; keep the rest of the test session clean.
    saved = os.environ.get("AWS_DATA_PATH")
    import awscli.formatter
    import awscli.table
    import awscli.text

    if saved is None:
        os.environ.pop("AWS_DATA_PATH", None)
    else:
        os.environ["AWS_DATA_PATH"] = saved
    yield awscli


EDGE_SHAPES: dict[str, Any] = {
    "scalars_of_every_type": {"b": True, "f": False, "n": None, "i": 0, "x": 1.5, "s": "",
                              "u": "naïve ☕ 東京"},
    "single_scalar_key": {"statusCode": 200},
    "ragged_list_of_dicts": {"items": [{"a": 1, "b": "x"}, {"b": "y", "c": [1, 2]},
                                       {"a": 3, "d": {"e": "f"}}]},
    "list_of_scalars": ["waba-1", "waba-2", 3, None, True],
    "list_of_lists": [["a", 1, None], ["b", 2, False]],
    "mixed_scalars_and_lists": ["x", ["y", "z"], "w", [["deep"]]],
    "nested_lists_with_dicts": [[{"id": "a"}, {"id": "b"}], [{"id": "c", "tags": ["t"]}]],
    "dict_of_dicts": {"m": {"k1": {"v": 1, "w": "two"}, "k2": {"v": 3}}},
    "list_of_dicts_with_nested": [{"id": "a", "dest": [{"arn": "x"}], "n": 1},
                                  {"id": "b", "dest": [], "n": 2},
                                  {"id": "c", "dest": [{"arn": "y", "role": "r"}], "n": 3}],
    "scalar_key_becoming_container": {"rows": [{"k": "v"}, {"k": ["v1", "v2"]}]},
    "only_containers": {"a": {"b": {"c": ["d"]}}},
    "wide_unicode": {"name": "カフェ東京 ☕ Ωmega ÆØÅ é", "arn": "arn:" + "x" * 90},
    "long_values_squeezed": {"a": "y" * 70, "b": "z" * 70, "c": "short"},
    "empty_containers": {"tags": [], "meta": {}, "id": "w"},
    "top_level_string": "waba-0f1e",
    "top_level_number": 42,
    "empty_list": [],
    "empty_dict": {},
    "none": None,
}


def _awscli_render(awscli: Any, fmt: str, data: Any) -> str | type[BaseException]:
    """What awscli prints for `data` (reached as the CLI does: a response and a query)."""
    import jmespath

    args = argparse.Namespace(color="off", query=jmespath.compile("v"))
    stream = io.StringIO()
    try:
        awscli.formatter.get_formatter(fmt, args)("GetLinkedWhatsAppBusinessAccount",
                                                  {"v": data}, stream)
    except Exception as error:  # noqa: BLE001 - the oracle's failure is the expectation
        return type(error)
    return stream.getvalue()


def _our_render(fmt: str, data: Any) -> str | type[BaseException]:
    try:
        return rendered({"v": data}, fmt, query="v", title="GetLinkedWhatsAppBusinessAccount")
    except Exception as error:  # noqa: BLE001
        return type(error)


@pytest.mark.parametrize("name", list(EDGE_SHAPES))
@pytest.mark.parametrize("width", [40, 80, 200])
def test_table_edge_shapes_match_awscli(name: str, width: int, awscli_formatters: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(awscli_formatters.table, "determine_terminal_width",
                        lambda default_width=80: width)
    monkeypatch.setattr(output, "terminal_width", lambda: width)
    data = EDGE_SHAPES[name]
    assert _our_render("table", data) == _awscli_render(awscli_formatters, "table", data)


@pytest.mark.parametrize("name", list(EDGE_SHAPES))
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_text_and_json_edge_shapes_match_awscli(name: str, fmt: str,
                                                awscli_formatters: Any) -> None:
    data = EDGE_SHAPES[name]
    assert _our_render(fmt, data) == _awscli_render(awscli_formatters, fmt, data)


def test_ragged_rows_fail_like_awscli(awscli_formatters: Any) -> None:
    data = [["a", "b"], ["c"]]
    with pytest.raises(ValueError):
        awscli_formatters.formatter.TableFormatter(argparse.Namespace(color="off", query=None))(
            "Op", data, io.StringIO())
    with pytest.raises(ValueError):
        rendered(data, "table")


# --- json ----------------------------------------------------------------------------


def test_json_of_an_operation_without_output_is_empty() -> None:
    assert rendered({}, "json") == ""
    assert rendered({"ResponseMetadata": {"RequestId": "r"}}, "json") == ""


def test_json_prints_other_falsy_values() -> None:
    assert rendered({"a": 1}, "json", query="missing") == "null\n"
    assert rendered({"a": []}, "json", query="a") == "[]\n"
    assert rendered({"a": ""}, "json", query="a") == '""\n'


def test_datetimes_become_iso_8601_everywhere() -> None:
    when = datetime.datetime(2024, 6, 10, 6, 13, 20, 250000, tzinfo=datetime.UTC)
    data = {"linkDate": when}
    assert rendered(data, "json") == '{\n    "linkDate": "2024-06-10T06:13:20.250000+00:00"\n}\n'
    assert rendered(data, "text") == "2024-06-10T06:13:20.250000+00:00\n"
    assert rendered(data, "yaml") == "linkDate: '2024-06-10T06:13:20.250000+00:00'\n"
    assert "2024-06-10T06:13:20.250000+00:00" in rendered(data, "table")


def test_unicode_is_written_as_is() -> None:
    assert rendered({"n": "東京 ☕"}, "json") == '{\n    "n": "東京 ☕"\n}\n'
    assert rendered({"n": "東京 ☕"}, "yaml") == "n: 東京 ☕\n"


def test_compiled_queries_are_accepted() -> None:
    import jmespath

    assert rendered({"a": {"b": 1}}, "json", query=jmespath.compile("a.b")) == "1\n"


def test_unknown_output_or_color_is_rejected() -> None:
    with pytest.raises(ValueError):
        rendered({}, "xml")
    with pytest.raises(ValueError):
        rendered({}, "json", color="sometimes")


def test_output_off_prints_nothing_but_fetches_every_page() -> None:
    fetched: list[int] = []

    def pages() -> Iterator[dict[str, Any]]:
        for number in (1, 2):
            fetched.append(number)
            yield {"linkedAccounts": [{"id": f"waba-{number}"}]}

    assert rendered(pages(), "off", paginated=True) == ""
    assert fetched == [1, 2]


# --- yaml and yaml-stream (AWS CLI v2) --------------------------------------------------

ACCOUNTS_PAGE_1 = {
    "linkedAccounts": [
        {"id": "waba-0f1e", "wabaName": "Acme Support", "registrationStatus": "COMPLETE",
         "linkDate": "2024-06-10T06:13:20+00:00", "wabaId": "104857600123456",
         "eventDestinations": [{"eventDestinationArn": "arn:aws:sns:us-east-1:123456789012:t"}]},
    ],
    "nextToken": "eyJvZmZzZXQiOiAxfQ==",
}
ACCOUNTS_PAGE_2 = {
    "linkedAccounts": [
        {"id": "waba-c0ff", "wabaName": "Café 東京", "registrationStatus": "INCOMPLETE",
         "linkDate": "2024-07-01T23:29:03.250000+00:00", "wabaId": "204857600123457",
         "eventDestinations": []},
    ],
}

YAML_PAGE_1_BODY = """\
linkedAccounts:
- eventDestinations:
  - eventDestinationArn: arn:aws:sns:us-east-1:123456789012:t
  id: waba-0f1e
  linkDate: '2024-06-10T06:13:20+00:00'
  registrationStatus: COMPLETE
  wabaId: '104857600123456'
  wabaName: Acme Support
nextToken: eyJvZmZzZXQiOiAxfQ==
"""


def test_yaml_is_one_block_document_with_sorted_keys() -> None:
    # As in the v2 user guide: block style, keys sorted, no '---', strings that would read
    # as another type (numbers, timestamps) quoted.
    assert rendered(ACCOUNTS_PAGE_1, "yaml") == YAML_PAGE_1_BODY


def test_yaml_stream_puts_each_page_in_one_list() -> None:
    expected = (
        "- " + YAML_PAGE_1_BODY.replace("\n", "\n  ").rstrip(" ")
        + "- linkedAccounts:\n"
        "  - eventDestinations: []\n"
        "    id: waba-c0ff\n"
        "    linkDate: '2024-07-01T23:29:03.250000+00:00'\n"
        "    registrationStatus: INCOMPLETE\n"
        "    wabaId: '204857600123457'\n"
        "    wabaName: Café 東京\n"
    )
    pages = iter([ACCOUNTS_PAGE_1, ACCOUNTS_PAGE_2])
    assert rendered(pages, "yaml-stream", paginated=True) == expected


def test_yaml_stream_writes_each_page_as_it_arrives() -> None:
    stream = io.StringIO()
    seen: list[str] = []

    def pages() -> Iterator[dict[str, Any]]:
        yield ACCOUNTS_PAGE_1
        seen.append(stream.getvalue())
        yield ACCOUNTS_PAGE_2

    render(pages(), output="yaml-stream", query=None, color="off", stream=stream,
           is_paginated_stream=True)
    assert seen[0].startswith("- linkedAccounts:") and "waba-c0ff" not in seen[0]


def test_yaml_stream_applies_the_query_to_each_page() -> None:
    pages = iter([ACCOUNTS_PAGE_1, ACCOUNTS_PAGE_2])
    assert rendered(pages, "yaml-stream", query="linkedAccounts[].id", paginated=True) == (
        "- - waba-0f1e\n- - waba-c0ff\n")


def test_yaml_stream_of_a_single_response_is_a_one_item_list() -> None:
    data = {"linkedWhatsAppBusinessAccountId": "waba-0f1e", "statusCode": 200}
    assert rendered(data, "yaml-stream") == (
        "- linkedWhatsAppBusinessAccountId: waba-0f1e\n  statusCode: 200\n")


def test_yaml_json_and_table_merge_a_plain_single_page_stream() -> None:
    assert rendered(iter([ACCOUNTS_PAGE_1]), "yaml", paginated=True) == YAML_PAGE_1_BODY


@pytest.mark.parametrize(("value", "expected"), [
    ("waba-0f1e", '"waba-0f1e"\n'),            # v2 prints a scalar as JSON (YAML would add '...')
    (None, "null\n"),
    (200, "200\n"),
    (["a", "b"], "- a\n- b\n"),
    ([], "[]\n"),
    ({"k": {}}, "k: {}\n"),
    ({"k": None}, "k: null\n"),
])
def test_yaml_scalars_and_empty_values(value: Any, expected: str) -> None:
    assert rendered({"v": value}, "yaml", query="v") == expected


def test_yaml_of_an_operation_without_output_is_empty() -> None:
    assert rendered({}, "yaml") == ""


@pytest.mark.parametrize(("text", "expected"), [
    ("123", "'123'"), ("+14255550101", "'+14255550101'"), ("1.5", "'1.5'"), ("1e3", "'1e3'"),
    ("0x1F", "'0x1F'"), ("true", "'true'"), ("False", "'False'"), ("null", "'null'"),
    ("~", "'~'"), ("", "''"), ("2024-06-10", "'2024-06-10'"),
    ("2024-06-10T06:13:20+00:00", "'2024-06-10T06:13:20+00:00'"),
    # YAML 1.1-only booleans and sexagesimals stay plain under v2's YAML 1.2 rules.
    ("yes", "yes"), ("No", "No"), ("on", "on"), ("OFF", "OFF"), ("y", "y"), ("1:20", "1:20"),
    ("GREEN", "GREEN"), ("arn:aws:sns:us-east-1:123456789012:t", "arn:aws:sns:us-east-1:123456789012:t"),
    ("- dash", "'- dash'"), ("key: value", "'key: value'"), ("#hash", "'#hash'"),
])
def test_yaml_quotes_strings_that_yaml_1_2_would_read_as_something_else(text: str,
                                                                         expected: str) -> None:
    assert rendered({"v": text}, "yaml") == f"v: {expected}\n"


def test_yaml_round_trips_through_a_yaml_1_2_reading() -> None:
    import yaml

    data = {"ids": ["123", "true", "null", "2024-06-10", "+1", "plain"], "n": 1, "b": True}
    assert yaml.safe_load(rendered(data, "yaml")) == data


# --- text of paginated results ------------------------------------------------------------


def test_text_of_plain_page_stream_prints_page_by_page() -> None:
    pages = iter([ACCOUNTS_PAGE_1, ACCOUNTS_PAGE_2])
    assert rendered(pages, "text", query="linkedAccounts[].id", paginated=True) == (
        "waba-0f1e\nwaba-c0ff\n")


# --- color -------------------------------------------------------------------------------


class TtyStringIO(io.StringIO):
    def isatty(self) -> bool:
        return True


def _render_to(stream: io.StringIO, fmt: str, color: str) -> str:
    render(ACCOUNTS_PAGE_1, output=fmt, query=None, color=color, stream=stream,
           operation_model="ListLinkedWhatsAppBusinessAccounts")
    return stream.getvalue()


def test_color_on_styles_table_cells_and_indentation_bars() -> None:
    table = _render_to(io.StringIO(), "table", "on")
    assert "|  \x1b[1m\x1b[34mwaba-0f1e\x1b[0m" in table
    assert any(line.startswith("\x1b[2m\x1b[33m|\x1b[0m|") for line in table.splitlines())
    # titles stay plain, like the AWS CLI's styler
    assert table.splitlines()[1].strip("| ") == "ListLinkedWhatsAppBusinessAccounts"


def test_color_off_and_auto_off_a_terminal_are_plain() -> None:
    assert "\x1b[" not in _render_to(io.StringIO(), "table", "off")
    assert "\x1b[" not in _render_to(io.StringIO(), "table", "auto")
    assert "\x1b[" not in _render_to(TtyStringIO(), "table", "off")


def test_color_auto_on_a_terminal_is_colored() -> None:
    assert "\x1b[1m\x1b[34m" in _render_to(TtyStringIO(), "table", "auto")


@pytest.mark.parametrize("fmt", ["json", "text", "yaml", "yaml-stream"])
def test_color_never_touches_other_formats(fmt: str) -> None:
    assert _render_to(TtyStringIO(), fmt, "on") == _render_to(io.StringIO(), fmt, "off")


def test_colored_table_has_the_same_layout() -> None:
    import re

    colored = _render_to(io.StringIO(), "table", "on")
    assert re.sub(r"\x1b\[[0-9]+m", "", colored) == _render_to(io.StringIO(), "table", "off")


# --- terminal width ----------------------------------------------------------------------


def test_terminal_width_defaults_to_80_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setenv("COLUMNS", "300")
    assert output.terminal_width() == 80


# --- pager -------------------------------------------------------------------------------


class CapturedStdout:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def getvalue(self) -> str:
        return self._capsys.readouterr().out


@pytest.fixture
def fake_stdout(capsys: pytest.CaptureFixture[str],
                monkeypatch: pytest.MonkeyPatch) -> CapturedStdout:
    # pytest's capture is the process's stdout here (not a terminal unless patched).
    monkeypatch.delenv("AWS_PAGER", raising=False)
    return CapturedStdout(capsys)


def recording_pager(target: Path) -> str:
    """A pager command that saves what it receives and the LESS it was started with."""
    script = (f"import os, sys; open({str(target)!r}, 'w', encoding='utf-8')"
              ".write(os.environ.get('LESS', '<unset>') + '|' + sys.stdin.read())")
    return shlex.join([sys.executable, "-c", script])


def test_no_pager_when_stdout_is_not_a_terminal(fake_stdout: CapturedStdout, tmp_path: Path) -> None:
    with pager.open_output(False, recording_pager(tmp_path / "seen")) as stream:
        stream.write("hello\n")
    assert fake_stdout.getvalue() == "hello\n"
    assert not (tmp_path / "seen").exists()


def test_pager_used_on_a_terminal_with_less_flags(fake_stdout: CapturedStdout, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pager, "stdout_is_terminal", lambda: True)
    monkeypatch.delenv("LESS", raising=False)
    with pager.open_output(False, recording_pager(tmp_path / "seen")) as stream:
        render({"a": "東京"}, output="json", query=None, color="auto", stream=stream)
    assert (tmp_path / "seen").read_text(encoding="utf-8") == 'FRX|{\n    "a": "東京"\n}\n'
    assert fake_stdout.getvalue() == ""


def test_pager_keeps_an_existing_less(fake_stdout: CapturedStdout, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pager, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("LESS", "-S")
    with pager.open_output(False, recording_pager(tmp_path / "seen")) as stream:
        stream.write("x")
    assert (tmp_path / "seen").read_text(encoding="utf-8") == "-S|x"


def test_pager_from_aws_pager_when_not_given(fake_stdout: CapturedStdout, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pager, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("AWS_PAGER", recording_pager(tmp_path / "seen"))
    with pager.open_output(False, None) as stream:
        stream.write("via env")
    assert (tmp_path / "seen").read_text(encoding="utf-8").endswith("|via env")


@pytest.mark.parametrize(("no_pager", "command"), [(True, None), (False, ""), (False, "  ")])
def test_pager_disabled(no_pager: bool, command: str | None, fake_stdout: CapturedStdout,
                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pager, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("AWS_PAGER", recording_pager(tmp_path / "seen"))
    with pager.open_output(no_pager, command) as stream:
        stream.write("direct\n")
    assert fake_stdout.getvalue() == "direct\n"
    assert not (tmp_path / "seen").exists()


def test_default_pager_is_less_r(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_PAGER", raising=False)
    assert pager.resolve_pager_command(None) == ("more" if sys.platform == "win32" else "less -R")
    assert pager.pager_popen_kwargs("less -R")["args"] == ["less", "-R"]


def test_table_through_the_pager_is_colored_in_auto_mode(fake_stdout: CapturedStdout,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # The pager shows it on the terminal (less -R keeps the colors), as with the AWS CLI.
    monkeypatch.setattr(pager, "stdout_is_terminal", lambda: True)
    with pager.open_output(False, recording_pager(tmp_path / "seen")) as stream:
        render(ACCOUNTS_PAGE_1, output="table", query=None, color="auto", stream=stream,
               operation_model="ListLinkedWhatsAppBusinessAccounts")
    assert "\x1b[1m\x1b[34m" in (tmp_path / "seen").read_text(encoding="utf-8")


def test_pager_that_quits_early_is_not_an_error(fake_stdout: CapturedStdout,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pager, "stdout_is_terminal", lambda: True)
    quitter = shlex.join([sys.executable, "-c", "pass"])
    with pager.open_output(False, quitter) as stream:
        for _ in range(2000):
            stream.write("x" * 1000 + "\n")
            stream.flush()


def test_missing_pager_is_an_error(fake_stdout: CapturedStdout,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # AWS CLI v2 fails (exit 253, "Unable to redirect output to pager") rather than
    # printing without the pager the user configured.
    monkeypatch.setattr(pager, "stdout_is_terminal", lambda: True)
    with pytest.raises(pager.PagerError, match="Unable to redirect output to pager"):
        with pager.open_output(False, "no-such-pager-wabalink") as stream:
            stream.write("lost\n")
    assert fake_stdout.getvalue() == ""
