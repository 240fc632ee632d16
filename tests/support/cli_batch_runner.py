"""Runs many CLI command lines in one process and prints their outputs as JSON.

Usage: ``python cli_batch_runner.py aws|wabalink < jobs.json`` where jobs.json is a list of
argument lists.  ``aws`` drives AWS CLI v2's ``awscli.clidriver`` (run it with v2's own Python),
``wabalink`` drives ``wabalink.cli.main``.  One process for many commands keeps the parity tests
fast: AWS CLI v2 takes most of a second to start.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from typing import Any


def _aws_runner() -> Callable[[list[str]], int]:
    from awscli.clidriver import create_clidriver  # type: ignore[import-not-found]

    return lambda args: create_clidriver().main(args)


def _wabalink_runner() -> Callable[[list[str]], int]:
    from wabalink.cli.main import main

    return main


def run_jobs(runner: Callable[[list[str]], int], jobs: list[list[str]]) -> list[dict[str, Any]]:
    real_stdout, real_stderr = sys.stdout, sys.stderr
    answers = []
    for args in jobs:
        out, err = io.StringIO(), io.StringIO()
        sys.stdout, sys.stderr = out, err
        try:
            rc: Any = runner(list(args))
        except SystemExit as exit_:
            rc = exit_.code
        finally:
            sys.stdout, sys.stderr = real_stdout, real_stderr
        answers.append({"stdout": out.getvalue(), "stderr": err.getvalue(), "rc": rc})
    return answers


if __name__ == "__main__":
    which = sys.argv[1]
    runner = _aws_runner() if which == "aws" else _wabalink_runner()
    print(json.dumps(run_jobs(runner, json.load(sys.stdin))))
