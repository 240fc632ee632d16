"""The service's queries: linked WABAs, their phone numbers and sign-up sessions (tags: `tags.py`).

Every statement is built once (a `Query`) and run on the `Cursor` the caller opened with
`store.reader()` or `store.writer()`, so the caller decides the transaction boundary: one
`store.writer()` per multi-row change. Rows come back as plain dicts keyed by column name.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update

from wabalink.store.db import Cursor, Query
from wabalink.store.schema import linked_phone_numbers, linked_wabas, signup_sessions

Row = dict[str, Any]
W, P, S = linked_wabas.c, linked_phone_numbers.c, signup_sessions.c


def _owned(columns: Any) -> Any:
    return and_(columns.account_id == bindparam("account_id"), columns.region == bindparam("region"))


# --- linked WABAs -----------------------------------------------------------------------------

_COUNT_WABAS = Query(select(func.count()).select_from(linked_wabas).where(_owned(W)))
_GET_WABA = Query(select(linked_wabas).where(W.id == bindparam("id"), _owned(W)))
_FIND_WABA_BY_META_ID = Query(select(linked_wabas).where(W.meta_waba_id == bindparam("meta_waba_id"), _owned(W)))
_INSERT_WABA = Query(insert(linked_wabas))
_RENAME_WABA = Query(update(linked_wabas).where(W.id == bindparam("key")).values(waba_name=bindparam("waba_name")))
_COMPLETE_WABA = Query(update(linked_wabas).where(
    W.id == bindparam("key"), W.registration_status == "INCOMPLETE",
).values(registration_status="COMPLETE", link_date=bindparam("link_date"),
         event_destinations=bindparam("event_destinations")))
_SET_EVENT_DESTINATIONS = Query(update(linked_wabas).where(W.id == bindparam("key")).values(
    event_destinations=bindparam("event_destinations")))
_LIST_ORDER = (W.created_at, W.id)
_PHONE_ORDER = (P.phone_number, P.id)
_LIST_FIRST_PAGE = Query(select(linked_wabas).where(_owned(W)).order_by(*_LIST_ORDER).limit(bindparam("limit")))
_LIST_NEXT_PAGE = Query(select(linked_wabas).where(_owned(W), or_(
    W.created_at > bindparam("after_created_at"),
    and_(W.created_at == bindparam("after_created_at"), W.id > bindparam("after_id")),
)).order_by(*_LIST_ORDER).limit(bindparam("limit")))
_DELETE_WABA_PHONES = Query(delete(linked_phone_numbers).where(P.waba_link_id == bindparam("waba_link_id")))
_DELETE_WABA = Query(delete(linked_wabas).where(W.id == bindparam("id")))
_EXTEND_PENDING = Query(update(linked_wabas).where(
    W.id == bindparam("key"), or_(W.pending_until.is_(None), W.pending_until < bindparam("until")),
).values(pending_until=bindparam("until")))
_EXPIRED_INCOMPLETE = Query(select(W.id).where(
    _owned(W), W.registration_status == "INCOMPLETE", W.pending_until < bindparam("now")))
_COMPLETE_ELSEWHERE = Query(select(W.account_id, W.region).where(
    W.meta_waba_id == bindparam("meta_waba_id"), W.registration_status == "COMPLETE",
    or_(W.account_id != bindparam("account_id"), W.region != bindparam("region"))).limit(1))


def count_wabas(cursor: Cursor, account_id: str, region: str) -> int:
    return int(cursor.scalar(_COUNT_WABAS, account_id=account_id, region=region))


def get_waba(cursor: Cursor, account_id: str, region: str, hex_id: str) -> Row | None:
    return cursor.row(_GET_WABA, id=hex_id, account_id=account_id, region=region)


def find_waba_by_meta_id(cursor: Cursor, account_id: str, region: str, meta_waba_id: str) -> Row | None:
    return cursor.row(_FIND_WABA_BY_META_ID, meta_waba_id=meta_waba_id, account_id=account_id, region=region)


def insert_waba(cursor: Cursor, row: Row) -> None:
    cursor.run(_INSERT_WABA, **{"pending_until": None, **row})


def update_waba_name(cursor: Cursor, hex_id: str, waba_name: str) -> None:
    cursor.run(_RENAME_WABA, key=hex_id, waba_name=waba_name)


def complete_waba(cursor: Cursor, hex_id: str, link_date: float, event_destinations: list[Row]) -> bool:
    """INCOMPLETE -> COMPLETE; False when another finalization got there first."""
    return cursor.run(_COMPLETE_WABA, key=hex_id, link_date=link_date,
                      event_destinations=json.dumps(event_destinations)) == 1


def set_event_destinations(cursor: Cursor, hex_id: str, event_destinations: list[Row]) -> None:
    cursor.run(_SET_EVENT_DESTINATIONS, key=hex_id, event_destinations=json.dumps(event_destinations))


def list_wabas(cursor: Cursor, account_id: str, region: str, after: tuple[float, str] | None, limit: int) -> list[Row]:
    """A page of linked WABAs in creation order; `after` is the (created_at, id) of the last row seen."""
    if after is None:
        return cursor.rows(_LIST_FIRST_PAGE, account_id=account_id, region=region, limit=limit)
    return cursor.rows(_LIST_NEXT_PAGE, account_id=account_id, region=region, limit=limit,
                       after_created_at=after[0], after_id=after[1])


def extend_pending(cursor: Cursor, hex_id: str, until: float) -> None:
    """An INCOMPLETE link lives as long as the latest phase-1 token that can finalize it."""
    cursor.run(_EXTEND_PENDING, key=hex_id, until=until)


def expired_incomplete_wabas(cursor: Cursor, account_id: str, region: str, now: float) -> list[str]:
    """INCOMPLETE links no phase-1 token can finalize any more: they no longer count or show."""
    return [row[0] for row in cursor.tuples(_EXPIRED_INCOMPLETE, account_id=account_id, region=region, now=now)]


def complete_link_elsewhere(cursor: Cursor, meta_waba_id: str, account_id: str, region: str) -> Row | None:
    """The account and region where this Meta WABA is linked already, if not the caller's."""
    return cursor.row(_COMPLETE_ELSEWHERE, meta_waba_id=meta_waba_id, account_id=account_id, region=region)


def delete_waba(cursor: Cursor, hex_id: str) -> None:
    cursor.run(_DELETE_WABA_PHONES, waba_link_id=hex_id)
    cursor.run(_DELETE_WABA, id=hex_id)


# --- phone numbers ----------------------------------------------------------------------------

_PHONES_OF_WABA = Query(select(linked_phone_numbers).where(P.waba_link_id == bindparam("waba_link_id"))
                        .order_by(*_PHONE_ORDER))
_GET_PHONE = Query(select(linked_phone_numbers).where(P.id == bindparam("id"), _owned(P)))
_FIND_PHONE_BY_META_ID = Query(select(linked_phone_numbers).where(
    P.waba_link_id == bindparam("waba_link_id"), P.meta_phone_number_id == bindparam("meta_phone_number_id")))
_INSERT_PHONE = Query(insert(linked_phone_numbers))
_REFRESH_PHONE = Query(update(linked_phone_numbers).where(P.id == bindparam("key")).values(
    phone_number=bindparam("phone_number"), display_phone_number=bindparam("display_phone_number"),
    display_phone_number_name=bindparam("display_phone_number_name"), quality_rating=bindparam("quality_rating")))
_LINK_PHONE = Query(update(linked_phone_numbers).where(
    P.id == bindparam("key"), P.linked == False,  # noqa: E712 - SQL, not Python
).values(linked=True, data_localization_region=bindparam("data_localization_region")))
_SET_CALL_SETTINGS = Query(update(linked_phone_numbers).where(P.id == bindparam("key")).values(
    call_settings=bindparam("call_settings")))


# One statement for GetLinkedWhatsAppBusinessAccount, its hottest read: the WABA joined to its
# linked numbers (a WABA without any comes back once, with NULL phone columns). Being one SELECT, it
# needs no snapshot around it: `store.reader(snapshot=False)`.
_WABA_WITH_LINKED_PHONES = Query(
    select(linked_wabas, *[column.label("phone_" + column.name) for column in linked_phone_numbers.columns])
    .select_from(linked_wabas.outerjoin(linked_phone_numbers, and_(
        P.waba_link_id == W.id, P.linked == True)))  # noqa: E712 - SQL, not Python
    .where(W.id == bindparam("id"), _owned(W))
    .order_by(*_PHONE_ORDER))
_WABA_COLUMNS = [column.name for column in linked_wabas.columns]
_PHONE_COLUMNS = [column.name for column in linked_phone_numbers.columns]
_FIRST_PHONE_COLUMN = len(_WABA_COLUMNS)


def get_waba_with_linked_phones(cursor: Cursor, account_id: str, region: str,
                                hex_id: str) -> tuple[Row | None, list[Row]]:
    rows = cursor.tuples(_WABA_WITH_LINKED_PHONES, id=hex_id, account_id=account_id, region=region)
    if not rows:
        return None, []
    waba = dict(zip(_WABA_COLUMNS, rows[0]))
    phones = [dict(zip(_PHONE_COLUMNS, row[_FIRST_PHONE_COLUMN:])) for row in rows
              if row[_FIRST_PHONE_COLUMN] is not None]
    return waba, phones


def phones_of_waba(cursor: Cursor, waba_hex_id: str) -> list[Row]:
    """Every number of the WABA, discovered or linked."""
    return cursor.rows(_PHONES_OF_WABA, waba_link_id=waba_hex_id)


def get_phone(cursor: Cursor, account_id: str, region: str, hex_id: str) -> Row | None:
    return cursor.row(_GET_PHONE, id=hex_id, account_id=account_id, region=region)


def find_phone_by_meta_id(cursor: Cursor, waba_hex_id: str, meta_phone_number_id: str) -> Row | None:
    return cursor.row(_FIND_PHONE_BY_META_ID, waba_link_id=waba_hex_id, meta_phone_number_id=meta_phone_number_id)


def insert_phone(cursor: Cursor, row: Row) -> None:
    cursor.run(_INSERT_PHONE, **{"data_localization_region": None, "call_settings": None, **row})


def refresh_phone(cursor: Cursor, hex_id: str, phone: Row) -> None:
    """Stores what Meta says of the number now (display data and quality rating)."""
    cursor.run(_REFRESH_PHONE, key=hex_id, phone_number=phone["phone_number"],
               display_phone_number=phone["display_phone_number"],
               display_phone_number_name=phone["display_phone_number_name"], quality_rating=phone["quality_rating"])


def link_phone(cursor: Cursor, hex_id: str, data_localization_region: str | None) -> bool:
    """Marks a discovered number as linked; False when it already was (a concurrent finalization)."""
    return cursor.run(_LINK_PHONE, key=hex_id, data_localization_region=data_localization_region) == 1


def set_call_settings(cursor: Cursor, hex_id: str, call_settings: Row) -> None:
    cursor.run(_SET_CALL_SETTINGS, key=hex_id, call_settings=json.dumps(call_settings))


# --- sign-up sessions (phase 1 -> phase 2) ----------------------------------------------------

_INSERT_SESSION = Query(insert(signup_sessions))
_GET_SESSION = Query(select(signup_sessions).where(S.token_digest == bindparam("token_digest")))
_DELETE_EXPIRED_SESSIONS = Query(delete(signup_sessions).where(S.expires_at < bindparam("now")))


def insert_session(cursor: Cursor, row: Row) -> None:
    cursor.run(_INSERT_SESSION, **row)


def get_session(cursor: Cursor, token_digest: str) -> Row | None:
    return cursor.row(_GET_SESSION, token_digest=token_digest)


def delete_expired_sessions(cursor: Cursor, now: float) -> None:
    cursor.run(_DELETE_EXPIRED_SESSIONS, now=now)
