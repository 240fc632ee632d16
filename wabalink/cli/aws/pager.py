"""The client-side pager, as AWS CLI v2 uses it.

Output goes through a pager only when standard output is a terminal and paging is not
disabled (`--no-cli-pager`, or an empty `AWS_PAGER` / `cli_pager`). The default pager
is `less -R` (`more` on Windows), started with `LESS=FRX` unless LESS is already set, so
short output is printed directly and colors pass through.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from typing import IO, Any, TextIO, cast

DEFAULT_PAGER = "more" if sys.platform == "win32" else "less -R"
DEFAULT_LESS_FLAGS = "FRX"


class PagerError(Exception):
    """The configured pager could not be started."""

    def __init__(self, error: OSError) -> None:
        super().__init__(
            "Unable to redirect output to pager. Received the following error when opening "
            f"pager:\n{error}\n\nLearn more about configuring the output pager by running "
            '"aws help config-vars".'
        )


class PagerStream:
    """The pager's standard input, reporting itself as a terminal.

    What is written here ends up on the user's terminal, so `--color auto` colors the
    table as the AWS CLI does when it pages.
    """

    def __init__(self, pipe: IO[str]) -> None:
        self._pipe = pipe

    def write(self, text: str) -> int:
        return self._pipe.write(text)

    def flush(self) -> None:
        self._pipe.flush()

    def isatty(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)


def resolve_pager_command(pager_command: str | None) -> str:
    """The command to run: explicit value, else AWS_PAGER, else the platform default."""
    if pager_command is not None:
        return pager_command
    return os.environ.get("AWS_PAGER", DEFAULT_PAGER)


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def pager_popen_kwargs(command: str) -> dict[str, Any]:
    env = dict(os.environ)
    env.setdefault("LESS", DEFAULT_LESS_FLAGS)
    kwargs: dict[str, Any] = {
        "stdin": subprocess.PIPE,
        "env": env,
        "text": True,
        "encoding": getattr(sys.stdout, "encoding", None) or "utf-8",
    }
    if sys.platform == "win32":
        kwargs.update(args=command, shell=True)
    else:
        kwargs["args"] = shlex.split(command)
    return kwargs


@contextlib.contextmanager
def open_output(no_pager: bool, pager_command: str | None) -> Iterator[TextIO]:
    """Yield the stream the command's output should be written to.

    `pager_command` is the configured pager (`AWS_PAGER` / `cli_pager`); None means
    unset (then AWS_PAGER, then the default) and "" disables paging.
    """
    command = "" if no_pager else resolve_pager_command(pager_command)
    if not command.strip() or not stdout_is_terminal():
        yield sys.stdout
        return
    try:
        process = subprocess.Popen(**pager_popen_kwargs(command))
    except FileNotFoundError as e:
        # AWS CLI v2 reports a missing pager as a configuration error (exit 253).
        raise PagerError(e) from None
    except OSError:
        # Any other failure to start it should not lose the output.
        yield sys.stdout
        return
    assert process.stdin is not None
    try:
        yield cast(TextIO, PagerStream(process.stdin))  # a TextIO by delegation (__getattr__)
    except BrokenPipeError:
        pass  # the user quit the pager before reading everything
    finally:
        _close_pager(process)


def _close_pager(process: subprocess.Popen[str]) -> None:
    try:
        process.communicate()
    except (BrokenPipeError, ValueError):
        process.wait()
