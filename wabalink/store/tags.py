"""Tags of linked resources (WABAs and phone numbers), keyed by the resource's ARN."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from wabalink.store.db import Cursor, Query
from wabalink.store.schema import resource_tags

Row = dict[str, Any]
T = resource_tags.c

_UPDATE_TAG = Query(update(resource_tags).where(
    T.resource_arn == bindparam("arn"), T.tag_key == bindparam("key")).values(tag_value=bindparam("value")))
_INSERT_TAG = Query(insert(resource_tags).values(
    resource_arn=bindparam("arn"), tag_key=bindparam("key"), tag_value=bindparam("value")))
_DELETE_TAG = Query(delete(resource_tags).where(T.resource_arn == bindparam("arn"), T.tag_key == bindparam("key")))
_DELETE_RESOURCE_TAGS = Query(delete(resource_tags).where(T.resource_arn == bindparam("arn")))
_COUNT_TAGS = Query(select(func.count()).select_from(resource_tags).where(T.resource_arn == bindparam("arn")))
_LIST_TAGS = Query(select(T.tag_key, T.tag_value).where(T.resource_arn == bindparam("arn")).order_by(T.tag_key))


def put_tags(cursor: Cursor, resource_arn: str, tags: Iterable[Row]) -> None:
    """Adds or overwrites tags (key -> value) on one resource."""
    for tag in tags:
        value = tag.get("value") or ""
        if cursor.run(_UPDATE_TAG, arn=resource_arn, key=tag["key"], value=value) == 0:
            cursor.run(_INSERT_TAG, arn=resource_arn, key=tag["key"], value=value)


def remove_tags(cursor: Cursor, resource_arn: str, keys: Sequence[str]) -> None:
    for key in keys:
        cursor.run(_DELETE_TAG, arn=resource_arn, key=key)


def list_tags(cursor: Cursor, resource_arn: str) -> list[Row]:
    return [{"key": row["tag_key"], "value": row["tag_value"]} for row in cursor.rows(_LIST_TAGS, arn=resource_arn)]


def delete_all_tags(cursor: Cursor, resource_arns: Sequence[str]) -> None:
    for arn in resource_arns:
        cursor.run(_DELETE_RESOURCE_TAGS, arn=arn)


def count_tags(cursor: Cursor, resource_arn: str) -> int:
    return int(cursor.scalar(_COUNT_TAGS, arn=resource_arn))


def existing_keys(cursor: Cursor, resource_arn: str) -> set[str]:
    return {tag["key"] for tag in list_tags(cursor, resource_arn)}
