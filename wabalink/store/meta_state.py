"""The Meta simulator's state: queries over the meta_* tables.

Over 400 lines because it is the simulator's core state (businesses, WABAs, numbers, tokens) and its queries, kept together as one small query module per area elsewhere.

Every method opens its own `store.reader()` or `store.writer()`, so each multi-row change (a WABA
with its numbers and its sign-up token, a batch of numbers) is atomic. Statements are built once
(`Query`, compiled per dialect) and run on the DBAPI cursor: every Graph call runs one or more of
them, and SQLAlchemy's per-execution machinery costs several times the SQLite query itself. Secrets
never reach a row in plain text: access tokens are kept as SHA-256 digests, two-step verification
PINs as salted scrypt hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from wabalink.store import meta_templates
from wabalink.store.db import Cursor, Query, Store
from wabalink.store.schema import (
    meta_access_tokens,
    meta_businesses,
    meta_phone_numbers,
    meta_wabas,
    meta_webhook_subscriptions,
)

# scrypt cost: a 6-digit PIN has only 10**6 values, so no cost makes a leaked hash safe; the salt
# and hash keep it out of plain text, and a cheap cost (about 0.25 ms, and hashlib.scrypt holds the
# GIL) keeps registrations fast (benchmark: >= 100 associations/s, each registering numbers).
# Parameters are stored with each hash, so they can change without a migration.
PIN_SCRYPT_N = 32
PIN_SCRYPT_R = 8
PIN_SCRYPT_P = 1

Row = dict[str, Any]
W, P, S, T = meta_wabas.c, meta_phone_numbers.c, meta_webhook_subscriptions.c, meta_access_tokens.c

# Bind names in WHERE clauses never equal a column name: SQLAlchemy keeps those for SET/VALUES.

# --- WABAs and phone numbers
_INSERT_BUSINESS = Query(insert(meta_businesses))
_INSERT_WABA = Query(insert(meta_wabas))
_INSERT_PHONE = Query(insert(meta_phone_numbers))
_SELECT_WABA = Query(select(meta_wabas).where(W.id == bindparam("waba_id")))
_WABA_EXISTS = Query(select(W.id).where(W.id == bindparam("waba_id")))
_SELECT_PHONE = Query(select(meta_phone_numbers).where(P.id == bindparam("phone_id")))


def _list_phones(*, after: bool, limit: bool) -> Query:
    query = select(meta_phone_numbers).where(P.waba_id == bindparam("waba_id"))
    if after:
        query = query.where(P.id > bindparam("after_id"))
    query = query.order_by(P.id)
    return Query(query.limit(bindparam("limit")) if limit else query)


# (after_id given, limit given) -> statement
_LIST_PHONES = {(after, limit): _list_phones(after=after, limit=limit)
                for after in (False, True) for limit in (False, True)}
_SET_QUALITY_RATING = Query(update(meta_phone_numbers).where(P.id == bindparam("phone_id")).values(
    quality_rating=bindparam("quality_rating"), updated_at=bindparam("updated_at")))
# Registers unless the number is already registered with a PIN; the WHERE clause is what makes a
# concurrent registration lose (it then sees the number registered and checks its PIN instead).
_REGISTER = Query(update(meta_phone_numbers).where(
    P.id == bindparam("phone_id"), or_(P.status != "REGISTERED", P.pin_hash.is_(None)),
).values(status="REGISTERED", pin_hash=bindparam("pin_hash"),
         data_localization_region=bindparam("data_localization_region"), updated_at=bindparam("updated_at")))
_REGISTRATION_OF_PHONE = Query(select(P.status, P.pin_hash, P.data_localization_region)
                               .where(P.id == bindparam("phone_id")))
_SET_REGION_IF_SAME_PIN = Query(update(meta_phone_numbers).where(
    P.id == bindparam("phone_id"), P.pin_hash == bindparam("expected_pin_hash"),
).values(data_localization_region=bindparam("data_localization_region"), updated_at=bindparam("updated_at")))
_DEREGISTER = Query(update(meta_phone_numbers).where(P.id == bindparam("phone_id")).values(
    status="UNREGISTERED", pin_hash=None, data_localization_region=None, updated_at=bindparam("updated_at")))

# --- webhook subscriptions
# One statement for "subscribe if the WABA exists and the app is not subscribed yet".
_SUBSCRIBE = Query(insert(meta_webhook_subscriptions).from_select(
    ["waba_id", "app_id", "created_at"],
    select(W.id, bindparam("app_id", type_=S.app_id.type), bindparam("created_at", type_=S.created_at.type))
    .where(W.id == bindparam("waba_id"),
           ~exists().where(S.waba_id == bindparam("waba_id"), S.app_id == bindparam("app_id")))))
_UNSUBSCRIBE = Query(delete(meta_webhook_subscriptions).where(
    S.waba_id == bindparam("waba_id"), S.app_id == bindparam("app_id")))
_SUBSCRIBED_APP_IDS = Query(select(S.app_id).where(S.waba_id == bindparam("waba_id")).order_by(S.created_at))

# --- access tokens
_INSERT_TOKEN = Query(insert(meta_access_tokens))
_SELECT_TOKEN = Query(select(meta_access_tokens).where(T.token_digest == bindparam("digest")))
_EXPIRE_TOKEN = Query(update(meta_access_tokens).where(T.token_digest == bindparam("digest")).values(
    expires_at=bindparam("expires_at")))
_REVOKE_TOKEN = Query(update(meta_access_tokens).where(T.token_digest == bindparam("digest")).values(revoked=True))

def new_numeric_id() -> str:
    """A Meta-style numeric id: 15 or 16 digits, no leading zero."""
    length = 15 + secrets.randbelow(2)
    return str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(length - 1))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=PIN_SCRYPT_N, r=PIN_SCRYPT_R, p=PIN_SCRYPT_P, dklen=32)
    return f"scrypt${PIN_SCRYPT_N}${PIN_SCRYPT_R}${PIN_SCRYPT_P}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored_hash: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored_hash.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p),
                            dklen=len(digest_hex) // 2)
    return hmac.compare_digest(digest.hex(), digest_hex)


# --- records ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class WabaRecord:
    id: str
    business_id: str
    name: str
    currency: str
    timezone_id: str
    created_at: float


@dataclass(frozen=True)
class PhoneNumberRecord:
    id: str
    waba_id: str
    display_phone_number: str
    verified_name: str
    quality_rating: str
    status: str  # UNREGISTERED | REGISTERED
    has_pin: bool
    data_localization_region: str | None
    updated_at: float


@dataclass(frozen=True)
class NewPhoneNumber:
    display_phone_number: str
    verified_name: str
    quality_rating: str = "GREEN"


@dataclass(frozen=True)
class TokenRecord:
    digest: str
    app_id: str
    user_id: str
    kind: str
    scopes: list[str]
    granted_waba_ids: list[str]
    issued_at: float
    expires_at: float | None
    revoked: bool


@dataclass(frozen=True)
class NewToken:
    token: str  # hashed before it is stored
    app_id: str
    user_id: str
    scopes: list[str]
    granted_waba_ids: list[str]
    expires_at: float | None
    kind: str = "USER"


@dataclass(frozen=True)
class CreatedWaba:
    waba: WabaRecord
    phone_numbers: list[PhoneNumberRecord] = field(default_factory=list)


class RegistrationOutcome:
    """What happened to a /register call (the simulator turns these into Graph answers)."""
    REGISTERED = "REGISTERED"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    PIN_MISMATCH = "PIN_MISMATCH"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"  # kept changing under concurrent calls: a transient failure, retry


def _waba_from_row(row: Row) -> WabaRecord:
    return WabaRecord(row["id"], row["business_id"], row["name"], row["currency"], row["timezone_id"],
                      row["created_at"])


def _phone_from_row(row: Row) -> PhoneNumberRecord:
    return PhoneNumberRecord(
        id=row["id"], waba_id=row["waba_id"], display_phone_number=row["display_phone_number"],
        verified_name=row["verified_name"], quality_rating=row["quality_rating"], status=row["status"],
        has_pin=row["pin_hash"] is not None, data_localization_region=row["data_localization_region"],
        updated_at=row["updated_at"],
    )


def _token_from_row(row: Row) -> TokenRecord:
    return TokenRecord(
        digest=row["token_digest"], app_id=row["app_id"], user_id=row["user_id"], kind=row["kind"],
        scopes=json.loads(row["scopes"]), granted_waba_ids=json.loads(row["granted_waba_ids"]),
        issued_at=row["issued_at"], expires_at=row["expires_at"], revoked=bool(row["revoked"]),
    )


def _registered_with_pin(row: Row) -> bool:
    return row["status"] == "REGISTERED" and row["pin_hash"] is not None


class MetaState:
    """The simulator's reads and writes. Ids are generated here; times are epoch seconds."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- WABAs and phone numbers ------------------------------------------------------------

    def create_waba(self, *, business_name: str, name: str, currency: str, timezone_id: str,
                    phone_numbers: list[NewPhoneNumber], token: NewToken | None = None,
                    business_id: str | None = None) -> CreatedWaba:
        """A business (unless business_id names one), its WABA, its numbers and, when given, a
        token granted that WABA — all in one transaction."""
        now = time.time()
        waba_id = new_numeric_id()
        if token is not None:
            token = NewToken(token.token, token.app_id, token.user_id, token.scopes,
                             sorted(set(token.granted_waba_ids) | {waba_id}), token.expires_at, token.kind)
        with self.store.writer() as cursor:
            if business_id is None:
                business_id = new_numeric_id()
                cursor.run(_INSERT_BUSINESS, id=business_id, name=business_name, created_at=now)
            cursor.run(_INSERT_WABA, id=waba_id, business_id=business_id, name=name, currency=currency,
                       timezone_id=timezone_id, created_at=now)
            phones = self._insert_phone_numbers(cursor, waba_id, phone_numbers, now)
            meta_templates.insert_sample_template(cursor, waba_id, new_numeric_id(), now)
            if token is not None:
                self._insert_token(cursor, token, now)
        waba = WabaRecord(waba_id, business_id, name, currency, timezone_id, now)
        return CreatedWaba(waba, phones)

    def add_phone_numbers(self, waba_id: str, phone_numbers: list[NewPhoneNumber]) -> list[PhoneNumberRecord] | None:
        """None when the WABA does not exist."""
        now = time.time()
        with self.store.writer() as cursor:
            if cursor.scalar(_WABA_EXISTS, waba_id=waba_id) is None:
                return None
            return self._insert_phone_numbers(cursor, waba_id, phone_numbers, now)

    @staticmethod
    def _insert_phone_numbers(cursor: Cursor, waba_id: str, phone_numbers: list[NewPhoneNumber],
                              now: float) -> list[PhoneNumberRecord]:
        records = [
            PhoneNumberRecord(new_numeric_id(), waba_id, p.display_phone_number, p.verified_name,
                              p.quality_rating, "UNREGISTERED", False, None, now)
            for p in phone_numbers
        ]
        for r in records:  # sandbox-only and a handful of rows: one INSERT each
            cursor.run(_INSERT_PHONE, id=r.id, waba_id=waba_id, display_phone_number=r.display_phone_number,
                       verified_name=r.verified_name, quality_rating=r.quality_rating, status=r.status,
                       pin_hash=None, data_localization_region=None, updated_at=now)
        return records

    def get_waba(self, waba_id: str) -> WabaRecord | None:
        with self.store.reader() as cursor:
            row = cursor.row(_SELECT_WABA, waba_id=waba_id)
        return _waba_from_row(row) if row else None

    def list_phone_numbers(self, waba_id: str, *, after_id: str | None = None,
                           limit: int | None = None) -> list[PhoneNumberRecord]:
        """In id order (the paging cursor is the last id seen)."""
        params: dict[str, Any] = {"waba_id": waba_id}
        if after_id is not None:
            params["after_id"] = after_id
        if limit is not None:
            params["limit"] = limit
        query = _LIST_PHONES[after_id is not None, limit is not None]
        with self.store.reader() as cursor:
            rows = cursor.rows(query, **params)
        return [_phone_from_row(r) for r in rows]

    def get_phone_number(self, phone_id: str) -> PhoneNumberRecord | None:
        with self.store.reader(snapshot=False) as cursor:  # one SELECT: no BEGIN/ROLLBACK per message sent
            row = cursor.row(_SELECT_PHONE, phone_id=phone_id)
        return _phone_from_row(row) if row else None

    def set_quality_rating(self, phone_id: str, rating: str) -> bool:
        with self.store.writer() as cursor:
            changed = cursor.run(_SET_QUALITY_RATING, phone_id=phone_id, quality_rating=rating,
                                 updated_at=time.time())
        return changed == 1

    def register_phone_number(self, phone_id: str, pin: str, data_localization_region: str | None) -> str:
        """Idempotent: registering again with the same PIN succeeds (and may set the region); a
        different PIN on a registered number is a mismatch, as on Meta. Returns a RegistrationOutcome.

        The PIN is hashed (or checked) outside the write transaction, so the SQLite write lock is
        held only for a statement or two. A first registration, the usual case, is one conditional
        UPDATE: it applies unless the number is registered with a PIN at that moment, which is
        exactly when reading first would have chosen to register. Only when it changes nothing is
        the number read (in the same transaction), to tell an unknown number from a registered one,
        whose PIN is then checked."""
        pin_hash = hash_pin(pin)
        for _ in range(3):
            with self.store.writer() as cursor:
                if cursor.run(_REGISTER, phone_id=phone_id, pin_hash=pin_hash,
                              data_localization_region=data_localization_region, updated_at=time.time()) == 1:
                    return RegistrationOutcome.REGISTERED
                row = cursor.row(_REGISTRATION_OF_PHONE, phone_id=phone_id)
            if row is None:
                return RegistrationOutcome.NOT_FOUND
            if _registered_with_pin(row):
                return self._register_again(phone_id, pin, data_localization_region, row["pin_hash"],
                                            row["data_localization_region"])
            # Deregistered since the UPDATE (PostgreSQL's READ COMMITTED): try again.
        return RegistrationOutcome.CONFLICT

    def _register_again(self, phone_id: str, pin: str, region: str | None, pin_hash: str,
                        current_region: str | None) -> str:
        if not pin_matches(pin, pin_hash):
            return RegistrationOutcome.PIN_MISMATCH
        if region and region != current_region:
            with self.store.writer() as cursor:
                cursor.run(_SET_REGION_IF_SAME_PIN, phone_id=phone_id, expected_pin_hash=pin_hash,
                           data_localization_region=region, updated_at=time.time())
        return RegistrationOutcome.ALREADY_REGISTERED

    def deregister_phone_number(self, phone_id: str) -> bool:
        """Back to UNREGISTERED; the PIN and region go with the registration. False if unknown."""
        with self.store.writer() as cursor:
            changed = cursor.run(_DEREGISTER, phone_id=phone_id, updated_at=time.time())
        return changed == 1

    # --- webhook subscriptions --------------------------------------------------------------

    def subscribe_app(self, waba_id: str, app_id: str) -> bool:
        """Idempotent. False when the WABA does not exist."""
        try:
            with self.store.writer() as cursor:
                if cursor.run(_SUBSCRIBE, waba_id=waba_id, app_id=app_id, created_at=time.time()) == 1:
                    return True
                # Nothing inserted: already subscribed, or no such WABA.
                return cursor.scalar(_WABA_EXISTS, waba_id=waba_id) is not None
        except IntegrityError:
            # A concurrent call subscribed the same app first (PostgreSQL's READ COMMITTED lets
            # both see "not subscribed"): the subscription exists, which is what was asked.
            return True

    def unsubscribe_app(self, waba_id: str, app_id: str) -> None:
        with self.store.writer() as cursor:
            cursor.run(_UNSUBSCRIBE, waba_id=waba_id, app_id=app_id)

    def subscribed_app_ids(self, waba_id: str) -> list[str]:
        with self.store.reader() as cursor:
            rows = cursor.rows(_SUBSCRIBED_APP_IDS, waba_id=waba_id)
        return [r["app_id"] for r in rows]

    # --- access tokens ----------------------------------------------------------------------

    def add_token(self, token: NewToken) -> None:
        with self.store.writer() as cursor:
            self._insert_token(cursor, token, time.time())

    @staticmethod
    def _insert_token(cursor: Cursor, token: NewToken, now: float) -> None:
        cursor.run(_INSERT_TOKEN, token_digest=token_digest(token.token), app_id=token.app_id,
                   user_id=token.user_id, kind=token.kind, scopes=json.dumps(token.scopes),
                   granted_waba_ids=json.dumps(token.granted_waba_ids), issued_at=now,
                   expires_at=token.expires_at, revoked=False)

    def find_token(self, token: str) -> TokenRecord | None:
        digest = token_digest(token)
        with self.store.reader() as cursor:
            row = cursor.row(_SELECT_TOKEN, digest=digest)
        return _token_from_row(row) if row else None

    def expire_token(self, token: str, at: float | None = None) -> bool:
        expires_at = time.time() - 1 if at is None else at
        digest = token_digest(token)
        with self.store.writer() as cursor:
            changed = cursor.run(_EXPIRE_TOKEN, digest=digest, expires_at=expires_at)
        return changed == 1

    def revoke_token(self, token: str) -> bool:
        digest = token_digest(token)
        with self.store.writer() as cursor:
            changed = cursor.run(_REVOKE_TOKEN, digest=digest)
        return changed == 1


__all__ = [
    "MetaState", "WabaRecord", "PhoneNumberRecord", "NewPhoneNumber", "TokenRecord", "NewToken",
    "CreatedWaba", "RegistrationOutcome", "new_numeric_id", "token_digest", "hash_pin",
    "pin_matches",
]
