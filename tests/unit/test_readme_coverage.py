"""The README's coverage table says exactly which operations are built."""

from __future__ import annotations

import re
from pathlib import Path

from wabalink.aws.model import load_service_model
from wabalink.service.operations import declared_operations

README = Path(__file__).resolve().parents[2] / "README.md"


def test_coverage_table_matches_the_dispatch_table() -> None:
    rows = re.findall(r"^\| (\w+) \| `[A-Z]+ [^`]+` \| (built|not built \(501\)) \|$", README.read_text(), re.M)
    documented = dict(rows)
    operations = load_service_model().operation_names
    assert sorted(documented) == sorted(operations)
    declared = declared_operations()
    for operation in operations:
        built = operation in declared
        assert documented[operation] == ("built" if built else "not built (501)"), operation
