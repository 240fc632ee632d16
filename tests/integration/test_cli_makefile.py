"""The Makefile picks a Python 3.11+ among python3.13, python3.12, python3.11 and python3, or says
clearly what is missing. Fake interpreters on a private PATH stand in for the real ones."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def fake_python(folder: Path, name: str, new_enough: bool) -> None:
    # Answers the Makefile's version check (`-c '...'`) and `-V` like a real interpreter would.
    script = folder / name
    script.write_text(f"#!/bin/sh\n[ \"$1\" = -V ] && {{ echo 'Python {'3.12.1' if new_enough else '3.9.2'}'; exit 0; }}\n"
                      f"exit {0 if new_enough else 1}\n")
    script.chmod(0o755)


def check_python(tmp_path: Path, *pythons: tuple[str, bool]) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, new_enough in pythons:
        fake_python(folder, name, new_enough)
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    env = {"PATH": str(folder), "HOME": str(tmp_path)}  # make runs /bin/sh by its full path
    return subprocess.run([make, "--no-print-directory", "-C", str(REPO), "check-python"], env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_newest_suitable_python_is_chosen(tmp_path: Path) -> None:
    done = check_python(tmp_path, ("python3.13", False), ("python3.12", True), ("python3", True))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Python: python3.12"


def test_no_suitable_python_is_a_clear_error(tmp_path: Path) -> None:
    done = check_python(tmp_path, ("python3", False))
    assert done.returncode != 0
    assert "wabalink needs Python 3.11 or newer" in done.stderr
