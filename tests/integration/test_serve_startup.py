"""`wabalink serve` start-up failures: one clear line and a non-zero exit, never a traceback, and no
"listening" before the port is really bound; every option's help shows its default."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from wabalink.config import Settings
from wabalink.server.main import build_parser

try:
    from conftest import REPO_ROOT, free_port
except ImportError:  # tests/ imported as a package
    from tests.support import REPO_ROOT
    from tests.support.servers import free_port


def serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wabalink.cli.main", "serve", *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO_ROOT, env={"PATH": "/usr/bin:/bin",
                                                                     "WABALINK_STATE_DIR": str(tmp_path)})


def test_a_port_in_use_is_one_line_naming_it_and_nothing_is_logged_as_listening(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = serve(tmp_path, "--port", str(port), "--database", f"sqlite:///{tmp_path}/w.db")
    assert completed.returncode != 0
    assert completed.stderr.strip() == (f"wabalink serve: 127.0.0.1:{port} is already in use; choose another port "
                                        f'with --port N (make run ARGS="--port N")')


def test_an_unsupported_database_url_is_named_with_its_password_masked(tmp_path: Path) -> None:
    completed = serve(tmp_path, "--database", "mysql://root:hunter2@db/x")
    assert completed.returncode != 0
    assert completed.stderr.strip() == ("wabalink serve: unsupported database URL mysql://root:***@db/x; "
                                        "use sqlite:///path.db or postgresql://user@host:5432/db")


def test_an_unreachable_postgresql_is_one_line_without_the_password(tmp_path: Path) -> None:
    port = free_port()
    completed = serve(tmp_path, "--database", f"postgresql://postgres:hunter2@127.0.0.1:{port}/x")
    assert completed.returncode != 0
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "hunter2" not in completed.stderr, completed.stderr
    assert lines[0].startswith(f"wabalink serve: cannot connect to PostgreSQL at 127.0.0.1:{port} (")
    assert "refused" in lines[0].lower()
    assert lines[0].endswith("); is it running, and is the URL right?")


def test_every_serve_option_has_help_showing_its_default() -> None:
    parser = build_parser(Settings())
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help and "(default" in action.help, action.option_strings
    text = " ".join(parser.format_help().split())
    assert "(default: 127.0.0.1)" in text and "(default: 4599)" in text and "(default: permissive)" in text
    assert "(default: info)" in text and "(default: 3600)" in text
    # defaults that may hold a secret are named by their variable, never shown
    assert "(default: $WABALINK_SANDBOX_TOKEN, else none)" in text


@pytest.mark.parametrize("url", ["sqlite:///a.db", "postgresql://u@h:5432/d", "postgres://u:p@h/d"])
def test_supported_database_urls_pass_the_scheme_check(url: str) -> None:
    from wabalink.store.db import _sqlalchemy_url

    assert _sqlalchemy_url(url).startswith(("sqlite:///", "postgresql+psycopg://"))
