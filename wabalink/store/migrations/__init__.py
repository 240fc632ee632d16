"""Versioned migrations: one module per step, `vNNNN_<what>.py`, with `VERSION` and `upgrade(conn)`.

Steps are found by name, applied in order, and frozen once released: a step defines the tables it
creates itself (never importing `store/schema.py`, which describes the latest state), so a database
built step by step ends exactly like a fresh one. `tests/test_migrations.py` checks that, on SQLite
and PostgreSQL, and that the latest state is what `store/schema.py` says.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

_STEP_MODULE = re.compile(r"v(\d{4})_\w+")


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    upgrade: Callable[[Connection], None]


def steps() -> list[Step]:
    found: list[Step] = []
    for module_info in pkgutil.iter_modules(__path__):
        match = _STEP_MODULE.fullmatch(module_info.name)
        if match is None:
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        if module.VERSION != int(match.group(1)):
            raise RuntimeError(f"migration {module_info.name} declares VERSION {module.VERSION}")
        found.append(Step(module.VERSION, module_info.name, module.upgrade))
    found.sort(key=lambda step: step.version)
    versions = [step.version for step in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration steps must be numbered 1..n without gaps or twins: {versions}")
    return found
