"""TagResource, UntagResource and ListTagsForResource on linked WABAs and phone numbers, with AWS's
tagging limits: at most 50 tags per resource, keys up to 128 and values up to 256 characters (the
model checks the lengths), and no `aws:` prefix, which AWS keeps for itself."""

from __future__ import annotations

from typing import Any

from wabalink.aws.exceptions import InvalidParametersException
from wabalink.aws.shapes import (
    ListTagsForResourceInput,
    ListTagsForResourceOutput,
    TagResourceInput,
    TagResourceOutput,
    UntagResourceInput,
    UntagResourceOutput,
)
from wabalink.service.operations import Operations, RequestContext, operation
from wabalink.service.ownership import taggable_arn
from wabalink.store import tags
from wabalink.store.db import Cursor

MAX_TAGS_PER_RESOURCE = 50
RESERVED_PREFIX = "aws:"


class Tagging(Operations):

    @operation("TagResource")
    def tag_resource(self, ctx: RequestContext, params: TagResourceInput) -> TagResourceOutput:
        check_tags(params["tags"], "tags")
        with self.store.writer() as conn:
            put_checked_tags(conn, taggable_arn(conn, ctx, params["resourceArn"]), params["tags"], "tags")
        return {"statusCode": 200}

    @operation("UntagResource")
    def untag_resource(self, ctx: RequestContext, params: UntagResourceInput) -> UntagResourceOutput:
        if len(params["tagKeys"]) > MAX_TAGS_PER_RESOURCE:
            raise InvalidParametersException(
                f"tagKeys has {len(params['tagKeys'])} keys; a resource has at most {MAX_TAGS_PER_RESOURCE} tags.")
        with self.store.writer() as conn:
            arn = taggable_arn(conn, ctx, params["resourceArn"])
            tags.remove_tags(conn, arn, params["tagKeys"])
        return {"statusCode": 200}

    @operation("ListTagsForResource", inline=True)
    def list_tags_for_resource(self, ctx: RequestContext, params: ListTagsForResourceInput) -> ListTagsForResourceOutput:
        with self.store.reader() as conn:
            arn = taggable_arn(conn, ctx, params["resourceArn"])
            return {"statusCode": 200, "tags": tags.list_tags(conn, arn)}  # type: ignore[typeddict-item]


def check_tags(requested: list[Any] | None, field: str) -> None:
    """The limits one request can break by itself, checked before any lookup."""
    if not requested:
        return
    if len(requested) > MAX_TAGS_PER_RESOURCE:
        raise InvalidParametersException(
            f"{field} has {len(requested)} tags; a resource can have at most {MAX_TAGS_PER_RESOURCE}.")
    for index, tag in enumerate(requested):
        if tag["key"].lower().startswith(RESERVED_PREFIX):
            raise InvalidParametersException(
                f"{field}[{index}].key {tag['key']} starts with '{RESERVED_PREFIX}', which is reserved for AWS.")


def put_checked_tags(conn: Cursor, resource_arn: str, requested: list[Any] | None, field: str) -> None:
    """Adds or overwrites tags, keeping the resource within MAX_TAGS_PER_RESOURCE."""
    if not requested:
        return
    check_tags(requested, field)
    conn.lock(f"tags:{resource_arn}")  # the count below, then update-or-insert
    keys = tags.existing_keys(conn, resource_arn) | {tag["key"] for tag in requested}
    if len(keys) > MAX_TAGS_PER_RESOURCE:
        raise InvalidParametersException(
            f"{field}: the resource would have {len(keys)} tags; it can have at most {MAX_TAGS_PER_RESOURCE}. "
            "Remove some with UntagResource first.")
    tags.put_tags(conn, resource_arn, requested)
