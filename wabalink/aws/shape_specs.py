"""The botocore model's shapes, compiled once into small objects for the per-request work
(compiled regexes, enum sets, wire-name tables), so parsing and serializing is plain dict walking."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from botocore.model import Shape

_PLAIN_SCALARS = frozenset({"string", "integer", "long", "boolean", "float", "double", "byte", "short"})


class ShapeSpec:
    """One model shape, precompiled for parsing, validation and serialization."""

    __slots__ = (
        "name", "type", "sensitive", "min", "max", "pattern", "pattern_text", "enum",
        "enum_text", "members", "body_members_by_wire_name", "required", "member", "key",
        "value", "timestamp_format", "is_document", "sparse", "payload_member", "plain", "body_members_by_name",
    )

    def __init__(self, name: str, type_name: str) -> None:
        self.name = name
        self.type = type_name
        self.sensitive = False
        self.min: int | float | None = None
        self.max: int | float | None = None
        self.pattern: re.Pattern[str] | None = None
        self.pattern_text = ""
        self.enum: frozenset[str] | None = None
        self.enum_text = ""
        self.members: dict[str, MemberSpec] = {}
        self.body_members_by_wire_name: dict[str, MemberSpec] = {}
        self.required: tuple[str, ...] = ()
        self.member: ShapeSpec | None = None
        self.key: ShapeSpec | None = None
        self.value: ShapeSpec | None = None
        self.timestamp_format: str | None = None
        self.is_document = False
        self.sparse = False  # a list or map whose items may be null
        self.payload_member: str | None = None
        # True when the Python value is already its JSON form (no timestamps, blobs, renames).
        self.plain = False
        self.body_members_by_name: dict[str, MemberSpec] = {}


class MemberSpec:
    """A structure member: its shape and where it lives on the wire."""

    __slots__ = ("name", "shape", "location", "wire_name", "json_value", "timestamp_format")

    def __init__(self, name: str, shape: ShapeSpec, serialization: Mapping[str, Any]) -> None:
        self.name = name
        self.shape = shape
        self.location: str | None = serialization.get("location")
        self.wire_name: str = serialization.get("name", name)
        self.json_value = bool(serialization.get("jsonvalue"))
        self.timestamp_format: str | None = serialization.get("timestampFormat")


class ShapeCompiler:
    """Turns botocore `Shape`s into `ShapeSpec`s, once per shape name (handles recursion)."""

    def __init__(self) -> None:
        self._specs: dict[str, ShapeSpec] = {}

    def compile(self, shape: Shape) -> ShapeSpec:
        existing = self._specs.get(shape.name)
        if existing is not None:
            return existing
        spec = ShapeSpec(shape.name, shape.type_name)
        self._specs[shape.name] = spec  # registered before recursing: recursive shapes terminate
        metadata = shape.metadata
        spec.sensitive = bool(metadata.get("sensitive"))
        spec.min = metadata.get("min")
        spec.max = metadata.get("max")
        if metadata.get("pattern") is not None:
            spec.pattern_text = metadata["pattern"]
            # ECMA-262 semantics: \d and \w are ASCII only.
            spec.pattern = re.compile(spec.pattern_text, re.ASCII)  # applied with fullmatch
        enum = getattr(shape, "enum", None) or metadata.get("enum")
        if enum:
            spec.enum = frozenset(enum)
            spec.enum_text = "[" + ", ".join(enum) + "]"
        spec.is_document = bool(metadata.get("document"))
        spec.sparse = bool(metadata.get("sparse"))
        spec.timestamp_format = shape.serialization.get("timestampFormat")
        if shape.type_name == "structure" and not spec.is_document:
            spec.required = tuple(shape.required_members)
            spec.payload_member = shape.serialization.get("payload")
            for member_name, member_shape in shape.members.items():
                member = MemberSpec(member_name, self.compile(member_shape), member_shape.serialization)
                spec.members[member_name] = member
                if member.location is None and member_name != spec.payload_member:
                    spec.body_members_by_wire_name[member.wire_name] = member
                    spec.body_members_by_name[member_name] = member
        elif shape.type_name == "list":
            spec.member = self.compile(shape.member)
            spec.plain = spec.member.plain
        elif shape.type_name == "map":
            spec.key = self.compile(shape.key)
            spec.value = self.compile(shape.value)
        else:
            spec.plain = shape.type_name in _PLAIN_SCALARS or spec.is_document
        return spec
