"""A light, read-only view of the botocore service model.

Loading ``botocore.model``/``botocore.session`` costs a few hundred milliseconds;
the skeleton, help and argument-table paths only need the raw JSON, so this module
reads the model file that the installed botocore ships (honouring ``AWS_DATA_PATH``
and ``~/.aws/models`` the way botocore's loader searches them) and wraps shapes in
tiny objects.  The call path still hands the real botocore model to botocore.
"""
from __future__ import annotations

import gzip
import json
import os
from functools import cache
from importlib.util import find_spec

SERVICE = "socialmessaging"


def _data_dirs() -> list[str]:
    dirs: list[str] = []
    extra = os.environ.get("AWS_DATA_PATH")
    if extra:
        dirs.extend(os.path.expanduser(p) for p in extra.split(os.pathsep) if p)
    dirs.append(os.path.join(os.path.expanduser("~"), ".aws", "models"))
    spec = find_spec("botocore")
    assert spec is not None and spec.submodule_search_locations
    dirs.append(os.path.join(list(spec.submodule_search_locations)[0], "data"))
    return dirs


def _load(type_name: str) -> dict | None:
    for base in _data_dirs():
        svc = os.path.join(base, SERVICE)
        if not os.path.isdir(svc):
            continue
        versions = sorted(v for v in os.listdir(svc) if os.path.isdir(os.path.join(svc, v)))
        for version in reversed(versions):
            path = os.path.join(svc, version, type_name + ".json")
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    return json.load(f)
            if os.path.isfile(path + ".gz"):
                with gzip.open(path + ".gz", "rb") as f:
                    return json.load(f)
    return None


@cache
def service_json() -> dict:
    data = _load("service-2")
    if data is None:  # pragma: no cover - botocore always ships it
        raise RuntimeError("botocore has no socialmessaging model")
    return data


@cache
def paginators_json() -> dict:
    data = _load("paginators-1") or {}
    return data.get("pagination", {})


class Shape:
    """A shape reference: the referenced shape's definition plus member-level traits."""

    __slots__ = ("name", "_d", "_ref")

    def __init__(self, name: str, ref: dict | None = None):
        self.name = name
        self._d = service_json()["shapes"][name]
        self._ref = ref or {}

    @property
    def type_name(self) -> str:
        return self._d["type"]

    @property
    def members(self) -> dict[str, Shape]:
        return {k: Shape(v["shape"], v) for k, v in self._d.get("members", {}).items()}

    @property
    def required_members(self) -> list[str]:
        return list(self._d.get("required", []))

    @property
    def member(self) -> Shape:
        return Shape(self._d["member"]["shape"], self._d["member"])

    @property
    def key(self) -> Shape:
        return Shape(self._d["key"]["shape"], self._d["key"])

    @property
    def value(self) -> Shape:
        return Shape(self._d["value"]["shape"], self._d["value"])

    @property
    def enum(self) -> list[str]:
        return list(self._d.get("enum", []))

    @property
    def documentation(self) -> str:
        return self._ref.get("documentation") or self._d.get("documentation", "")

    @property
    def sensitive(self) -> bool:
        return bool(self._d.get("sensitive") or self._ref.get("sensitive"))

    @property
    def is_document(self) -> bool:
        return bool(self._d.get("document"))

    @property
    def metadata(self) -> dict:
        return self._d

    @property
    def location(self) -> str | None:
        return self._ref.get("location")


class Operation:
    def __init__(self, name: str):
        self.name = name
        self._d = service_json()["operations"][name]

    @property
    def cli_name(self) -> str:
        from botocore import xform_name

        return xform_name(self.name, "-")

    @property
    def py_name(self) -> str:
        from botocore import xform_name

        return xform_name(self.name)

    @property
    def input_shape(self) -> Shape | None:
        ref = self._d.get("input")
        return Shape(ref["shape"], ref) if ref else None

    @property
    def output_shape(self) -> Shape | None:
        ref = self._d.get("output")
        return Shape(ref["shape"], ref) if ref else None

    @property
    def documentation(self) -> str:
        return self._d.get("documentation", "")

    @property
    def paginator(self) -> dict | None:
        return paginators_json().get(self.name)


@cache
def operations_by_cli_name() -> dict[str, str]:
    from botocore import xform_name

    return {xform_name(n, "-"): n for n in service_json()["operations"]}


def operation(cli_name: str) -> Operation | None:
    name = operations_by_cli_name().get(cli_name)
    return Operation(name) if name else None


def sensitive_member_names() -> set[str]:
    """Every structure member whose shape (or reference) is marked sensitive."""
    shapes = service_json()["shapes"]
    names = set()
    for shape in shapes.values():
        for mname, ref in shape.get("members", {}).items():
            if ref.get("sensitive") or shapes.get(ref["shape"], {}).get("sensitive"):
                names.add(mname)
    return names
