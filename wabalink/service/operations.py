"""How an operation of the model finds its code: a method decorated with `@operation("Name")`.

Each area of the service (`association.py`, `linked_accounts.py`, `tagging.py`, ...) is a subclass of
`Operations`; its decorated methods take the caller's `RequestContext` and the operation's input as
the protocol layer parsed and validated it, and return the output members. `build_dispatch_table`
imports every module of this package, instantiates each area once and returns
`{operation name: BoundOperation}`: that table drives routing, the 501 answer of operations not built
and the README's coverage table. Adding an operation is adding a decorated method; nothing else
has to learn its name.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from wabalink.meta.client import GraphClient
from wabalink.store.db import Store

if TYPE_CHECKING:
    from wabalink.service.pagination import PageTokens

Handler = Callable[..., Any]
F = TypeVar("F", bound=Handler)

_DECLARATION = "__wabalink_operation__"


@dataclass(frozen=True)
class RequestContext:
    account_id: str
    region: str


@dataclass(frozen=True)
class OperationDeclaration:
    name: str
    # A read of the store that never calls out: on SQLite it may run on the event loop, where it
    # takes microseconds, instead of paying a thread hand-off (see server/app.py).
    inline: bool = False


def operation(name: str, *, inline: bool = False) -> Callable[[F], F]:
    """Binds the decorated method to the model's operation `name`."""

    def mark(method: F) -> F:
        setattr(method, _DECLARATION, OperationDeclaration(name, inline))
        return method

    return mark


@dataclass
class ServiceSettings:
    """What the operations need to know of the server's settings."""
    associate_token_lifetime_seconds: int = 3600
    waba_quota_per_region: int = 25
    s3_endpoint_url: str | None = None  # None: botocore's own (AWS_ENDPOINT_URL_S3, or AWS)


@dataclass
class Dependencies:
    """What every area of the service works with; one instance per server."""
    store: Store
    graph: GraphClient
    pages: PageTokens
    settings: ServiceSettings = field(default_factory=ServiceSettings)
    clock: Callable[[], float] = time.time
    # Per-area services and settings the server wires in (e.g. "handover", "graph_versions").
    extensions: dict[str, Any] = field(default_factory=dict)


class Operations:
    """Base of each area of the service: holds the shared dependencies."""

    def __init__(self, deps: Dependencies) -> None:
        self.deps = deps
        self.store = deps.store
        self.graph = deps.graph
        self.settings = deps.settings
        self.clock = deps.clock


@dataclass(frozen=True)
class BoundOperation:
    name: str
    call: Callable[[RequestContext, dict[str, Any]], dict[str, Any]]
    inline: bool


def operation_areas() -> list[type[Operations]]:
    """Every `Operations` subclass of the service package (its modules imported once)."""
    package = importlib.import_module("wabalink.service")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"wabalink.service.{module.name}")
    # Only the package's own areas: a test may combine areas into a subclass of its own.
    areas = [area for area in _subclasses(Operations) if area.__module__.startswith(f"{package.__name__}.")]
    return sorted(set(areas), key=lambda area: (area.__module__, area.__name__))


def _subclasses(base: type[Operations]) -> list[type[Operations]]:
    found = []
    for child in base.__subclasses__():
        found.append(child)
        found.extend(_subclasses(child))
    return found


def declared_operations() -> dict[str, tuple[type[Operations], str, OperationDeclaration]]:
    """{operation name: (area, method name, declaration)}, without instantiating anything."""
    table: dict[str, tuple[type[Operations], str, OperationDeclaration]] = {}
    for area in operation_areas():
        for attribute, value in vars(area).items():
            declaration = getattr(value, _DECLARATION, None)
            if declaration is None:
                continue
            if declaration.name in table:
                other = table[declaration.name]
                raise RuntimeError(f"{declaration.name} is declared twice: {other[0].__name__}.{other[1]} "
                                   f"and {area.__name__}.{attribute}")
            table[declaration.name] = (area, attribute, declaration)
    return table


def build_dispatch_table(deps: Dependencies, operation_names: list[str]) -> dict[str, BoundOperation]:
    """The built operations, bound to one instance of each area. A declared name the model does
    not have is a programming error, reported at start-up."""
    declared = declared_operations()
    unknown = sorted(set(declared) - set(operation_names))
    if unknown:
        raise RuntimeError(f"operations not in the service model: {', '.join(unknown)}")
    instances: dict[type[Operations], Operations] = {}
    table: dict[str, BoundOperation] = {}
    for name, (area, attribute, declaration) in declared.items():
        instance = instances.get(area)
        if instance is None:
            instance = instances[area] = area(deps)
        table[name] = BoundOperation(name, getattr(instance, attribute), declaration.inline)
    return table
