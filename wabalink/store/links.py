"""The service's queries: linked WABAs, their phone numbers, sign-up sessions and tags.

Functions take an open connection so the caller decides the transaction boundary (one
`store.transaction()` per multi-row change). Rows come back as plain dicts keyed by column name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from wabalink.store.schema import linked_phone_numbers, linked_wabas, resource_tags, signup_sessions

Row = dict[str, Any]


def _one(conn: Connection, statement) -> Row | None:  # type: ignore[no-untyped-def]
    row = conn.execute(statement).mappings().first()
    return dict(row) if row else None


def _all(conn: Connection, statement) -> list[Row]:  # type: ignore[no-untyped-def]
    return [dict(row) for row in conn.execute(statement).mappings()]


# --- linked WABAs -----------------------------------------------------------------------------

def count_wabas(conn: Connection, account_id: str, region: str) -> int:
    statement = select(func.count()).select_from(linked_wabas).where(
        linked_wabas.c.account_id == account_id, linked_wabas.c.region == region)
    return int(conn.execute(statement).scalar_one())


def get_waba(conn: Connection, account_id: str, region: str, hex_id: str) -> Row | None:
    return _one(conn, select(linked_wabas).where(
        linked_wabas.c.id == hex_id, linked_wabas.c.account_id == account_id, linked_wabas.c.region == region))


def find_waba_by_meta_id(conn: Connection, account_id: str, region: str, meta_waba_id: str) -> Row | None:
    return _one(conn, select(linked_wabas).where(
        linked_wabas.c.account_id == account_id, linked_wabas.c.region == region,
        linked_wabas.c.meta_waba_id == meta_waba_id))


def insert_waba(conn: Connection, row: Row) -> None:
    conn.execute(insert(linked_wabas).values(**row))


def update_waba_name(conn: Connection, hex_id: str, waba_name: str) -> None:
    conn.execute(update(linked_wabas).where(linked_wabas.c.id == hex_id).values(waba_name=waba_name))


def complete_waba(conn: Connection, hex_id: str, link_date: float, event_destinations: list[Row]) -> bool:
    """INCOMPLETE -> COMPLETE; False when another finalization got there first."""
    result = conn.execute(update(linked_wabas).where(
        linked_wabas.c.id == hex_id, linked_wabas.c.registration_status == "INCOMPLETE",
    ).values(registration_status="COMPLETE", link_date=link_date,
             event_destinations=json.dumps(event_destinations)))
    return result.rowcount == 1


def set_event_destinations(conn: Connection, hex_id: str, event_destinations: list[Row]) -> None:
    conn.execute(update(linked_wabas).where(linked_wabas.c.id == hex_id).values(
        event_destinations=json.dumps(event_destinations)))


def list_wabas(conn: Connection, account_id: str, region: str, after: tuple[float, str] | None, limit: int) -> list[Row]:
    """A page of linked WABAs in creation order; `after` is the (created_at, id) of the last row seen."""
    statement = select(linked_wabas).where(linked_wabas.c.account_id == account_id, linked_wabas.c.region == region)
    if after is not None:
        statement = statement.where(or_(
            linked_wabas.c.created_at > after[0],
            and_(linked_wabas.c.created_at == after[0], linked_wabas.c.id > after[1])))
    return _all(conn, statement.order_by(linked_wabas.c.created_at, linked_wabas.c.id).limit(limit))


def delete_waba(conn: Connection, hex_id: str) -> None:
    conn.execute(delete(linked_phone_numbers).where(linked_phone_numbers.c.waba_link_id == hex_id))
    conn.execute(delete(linked_wabas).where(linked_wabas.c.id == hex_id))


# --- phone numbers ----------------------------------------------------------------------------

def phones_of_waba(conn: Connection, waba_hex_id: str, *, linked: bool | None = None) -> list[Row]:
    statement = select(linked_phone_numbers).where(linked_phone_numbers.c.waba_link_id == waba_hex_id)
    if linked is not None:
        statement = statement.where(linked_phone_numbers.c.linked == linked)
    return _all(conn, statement.order_by(linked_phone_numbers.c.phone_number, linked_phone_numbers.c.id))


def get_phone(conn: Connection, account_id: str, region: str, hex_id: str) -> Row | None:
    return _one(conn, select(linked_phone_numbers).where(
        linked_phone_numbers.c.id == hex_id, linked_phone_numbers.c.account_id == account_id,
        linked_phone_numbers.c.region == region))


def find_phone_by_meta_id(conn: Connection, waba_hex_id: str, meta_phone_number_id: str) -> Row | None:
    return _one(conn, select(linked_phone_numbers).where(
        linked_phone_numbers.c.waba_link_id == waba_hex_id,
        linked_phone_numbers.c.meta_phone_number_id == meta_phone_number_id))


def insert_phone(conn: Connection, row: Row) -> None:
    conn.execute(insert(linked_phone_numbers).values(**row))


def refresh_phone(conn: Connection, hex_id: str, values: Row) -> None:
    conn.execute(update(linked_phone_numbers).where(linked_phone_numbers.c.id == hex_id).values(**values))


def link_phone(conn: Connection, hex_id: str, data_localization_region: str | None) -> bool:
    """Marks a discovered number as linked; False when it already was (a concurrent finalization)."""
    result = conn.execute(update(linked_phone_numbers).where(
        linked_phone_numbers.c.id == hex_id, linked_phone_numbers.c.linked == False,  # noqa: E712
    ).values(linked=True, data_localization_region=data_localization_region))
    return result.rowcount == 1


def set_call_settings(conn: Connection, hex_id: str, call_settings: Row) -> None:
    conn.execute(update(linked_phone_numbers).where(linked_phone_numbers.c.id == hex_id).values(
        call_settings=json.dumps(call_settings)))


# --- sign-up sessions (phase 1 -> phase 2) ----------------------------------------------------

def insert_session(conn: Connection, row: Row) -> None:
    conn.execute(insert(signup_sessions).values(**row))


def get_session(conn: Connection, token_digest: str) -> Row | None:
    return _one(conn, select(signup_sessions).where(signup_sessions.c.token_digest == token_digest))


def delete_expired_sessions(conn: Connection, now: float) -> None:
    conn.execute(delete(signup_sessions).where(signup_sessions.c.expires_at < now))


# --- tags ------------------------------------------------------------------------------------

def put_tags(conn: Connection, resource_arn: str, tags: Iterable[Row]) -> None:
    """Adds or overwrites tags (key -> value) on one resource."""
    for tag in tags:
        key, value = tag["key"], tag.get("value") or ""
        changed = conn.execute(update(resource_tags).where(
            resource_tags.c.resource_arn == resource_arn, resource_tags.c.tag_key == key).values(tag_value=value))
        if changed.rowcount == 0:
            conn.execute(insert(resource_tags).values(resource_arn=resource_arn, tag_key=key, tag_value=value))


def remove_tags(conn: Connection, resource_arn: str, keys: Sequence[str]) -> None:
    conn.execute(delete(resource_tags).where(
        resource_tags.c.resource_arn == resource_arn, resource_tags.c.tag_key.in_(list(keys))))


def list_tags(conn: Connection, resource_arn: str) -> list[Row]:
    rows = conn.execute(select(resource_tags.c.tag_key, resource_tags.c.tag_value).where(
        resource_tags.c.resource_arn == resource_arn).order_by(resource_tags.c.tag_key))
    return [{"key": key, "value": value} for key, value in rows]


def delete_all_tags(conn: Connection, resource_arns: Sequence[str]) -> None:
    if resource_arns:
        conn.execute(delete(resource_tags).where(resource_tags.c.resource_arn.in_(list(resource_arns))))

