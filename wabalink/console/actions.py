"""Console actions run the API's own operations: the parameters are serialized to the wire by
botocore (as an SDK would), routed and validated by the protocol layer, then called through the
server's dispatch table. A mistake is therefore the same modeled AWS error the API answers, and
its message names the field (`setupFinalization.phoneNumbers[0].twoFactorPin`), which the forms use
to mark the input of that name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from botocore.serialize import create_serializer

from wabalink.aws.errors import AwsError, NotImplementedException
from wabalink.aws.protocol import RestJsonProtocol
from wabalink.service.operations import BoundOperation, RequestContext

# Member paths as validation and service messages write them: `a.b[0].c`, `'a.b[0].c'`.
FIELD_PATH = re.compile(r"[a-z][A-Za-z0-9]*(?:\[[0-9]+\]|\.[a-z][A-Za-z0-9]*)+|\b[a-z]+[A-Z][A-Za-z0-9]*\b")


@dataclass
class ActionError(Exception):
    """A refused action, shown on its form: the error code, the message and the member paths it names."""
    code: str
    message: str
    fields: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def for_field(self, name: str) -> str | None:
        """The message when it concerns the input called `name` (or a member path containing it)."""
        for path in self.fields:
            # A bare top-level path ("setupFinalization") concerns the whole form, not each input.
            if name == path or (_within(name, path) and ("." in path or "[" in path)) or _within(path, name):
                return self.message
        return None

    def renumbered(self, old: str, new: str) -> ActionError:
        """The same error with member path prefix `old` read as `new` (a form's own numbering)."""
        return ActionError(self.code, self.message,
                           {new + path[len(old):] if path.startswith(old) else path for path in self.fields})

    @classmethod
    def from_aws(cls, error: AwsError, known_fields: set[str] | None = None) -> ActionError:
        message = error.message or error.code
        found = set(FIELD_PATH.findall(message))
        if known_fields is not None:
            found = {path for path in found if any(name == path or name.startswith(path) for name in known_fields)}
        return cls(error.code, message, found)


def _within(path: str, parent: str) -> bool:
    return path.startswith(parent + ".") or path.startswith(parent + "[")


class OperationCaller:
    """Calls built operations exactly as the API would run them for `ctx`."""

    def __init__(self, protocol: RestJsonProtocol, operations: Mapping[str, BoundOperation]) -> None:
        self.protocol = protocol
        self.operations = operations
        self._serializer = create_serializer("rest-json", include_validation=False)

    def available(self, name: str) -> bool:
        return name in self.operations

    def call(self, ctx: RequestContext, name: str, params: dict[str, Any],
             known_fields: set[str] | None = None) -> dict[str, Any]:
        """The operation's output; ActionError when it is refused (validation included)."""
        try:
            return self._call(ctx, name, params)
        except AwsError as error:
            raise ActionError.from_aws(error, known_fields) from None

    def _call(self, ctx: RequestContext, name: str, params: dict[str, Any]) -> dict[str, Any]:
        bound = self.operations.get(name)
        if bound is None:
            raise NotImplementedException(name)
        operation_model = self.protocol.service_model.operation_model(name)
        wire = self._serializer.serialize_to_request(params, operation_model)
        query = urlencode(wire["query_string"], doseq=True) if isinstance(wire["query_string"], dict) \
            else wire["query_string"]
        headers = {key.lower(): value for key, value in wire["headers"].items()}
        body = wire["body"] if isinstance(wire["body"], bytes) else str(wire["body"] or "").encode()
        operation, uri_params = self.protocol.route(wire["method"], wire["url_path"], query)
        parsed = self.protocol.parse(operation, uri_params, query, headers, body)
        return bound.call(ctx, parsed)


__all__ = ["ActionError", "OperationCaller"]
