"""Graph's bare object paths, `GET|POST|DELETE /{object_id}`, shared by every kind of Meta object.

A WABA, a phone number, a media id, a template, a flow and an upload session all live at
`/{id}`. Each resource module offers a handler per method that answers for its own ids and returns
None for any other; `object_routes` tries them in order (the hot reads first), and an id no
resource knows is Graph's "unknown object" error. A new kind of object adds its handlers to the
lists in `graph_api.py`, without knowing the others."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wabalink.meta.calls import GraphCall
from wabalink.meta.errors import unknown_object_error
from wabalink.meta.routing import Route

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

ObjectHandler = Callable[["MetaSimulator", GraphCall], "dict[str, Any] | None"]


def object_routes(handlers: Mapping[str, Sequence[ObjectHandler]]) -> list[Route[Any]]:
    """One `/{object_id}` route per method, trying that method's handlers in order."""

    def route(method: str, candidates: Sequence[ObjectHandler]) -> Route[Any]:
        def dispatch(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
            for handler in candidates:
                answer = handler(sim, call)
                if answer is not None:
                    return answer
            raise unknown_object_error(call.args["object_id"], method)

        return Route(method, "/{object_id}", dispatch)

    return [route(method, candidates) for method, candidates in handlers.items()]
