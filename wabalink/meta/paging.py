"""Graph's cursor paging, as every simulated list edge answers it: `limit` and `after` in,
`{"data": [...], "paging": {"cursors": {"before", "after"}, "next"?}}` out. A list reads one row more
than the page to know whether a `next` exists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wabalink.meta.errors import invalid_parameter_error
from wabalink.meta.sandbox_input import NUMERIC_ID

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: str | None  # the id of the last item of the previous page


def page_request(params: dict[str, str]) -> PageRequest:
    try:
        limit = int(params.get("limit", DEFAULT_PAGE_SIZE))
    except ValueError:
        raise invalid_parameter_error("Param limit must be an integer") from None
    after = params.get("after") or None
    if after is not None and not NUMERIC_ID.fullmatch(after):
        raise invalid_parameter_error("Param after must be a cursor from a previous page")
    return PageRequest(max(1, min(limit, MAX_PAGE_SIZE)), after)


def page_answer(data: list[dict[str, Any]], more: bool, request: PageRequest, edge_path: str) -> dict[str, Any]:
    """`data` is the page (at most `limit` items with an "id"); `more`: a further item was read.
    Meta's `next` carries the access token; ours does not, so following it leaks nothing."""
    paging: dict[str, Any] = {}
    if data:
        paging["cursors"] = {"before": data[0]["id"], "after": data[-1]["id"]}
    if more and data:
        paging["next"] = f"{edge_path}?limit={request.limit}&after={data[-1]['id']}"
    return {"data": data, "paging": paging}
