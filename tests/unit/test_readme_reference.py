"""The README's reference parts list everything the commands have: every `wabalink serve` option
(with its variable), every `wabalink meta` and `wabalink events` command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from wabalink.cli.events import _parser as events_parser
from wabalink.cli.meta import _parser as meta_parser
from wabalink.config import Settings
from wabalink.server.main import build_parser as serve_parser

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start:end]


def _subcommands(parser: argparse.ArgumentParser) -> list[str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [name for name in action.choices if name != "help"]


def test_every_serve_option_is_in_the_options_table() -> None:
    table = _section("## `wabalink serve`")
    rows = re.findall(r"^\| (`--[^|]+) \|", table, re.M)
    documented = {option for row in rows for option in re.findall(r"`(--[a-z0-9-]+)`", row)}
    options = {option for action in serve_parser(Settings())._actions for option in action.option_strings
               if option.startswith("--") and option != "--help"}
    assert options - documented == set(), "serve options missing from the README's table"
    assert documented - options == set(), "the README's table lists options serve does not have"


def test_every_meta_command_is_in_the_synopsis() -> None:
    synopsis = _section("## The Meta simulator")
    missing = [name for name in _subcommands(meta_parser()) if f"wabalink meta {name}" not in synopsis]
    assert missing == []


def test_every_events_command_is_in_the_synopsis() -> None:
    section = _section("## Messages and events")
    missing = [name for name in _subcommands(events_parser()) if f"wabalink events {name}" not in section]
    assert missing == []
