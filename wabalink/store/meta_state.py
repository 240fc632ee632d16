"""The Meta simulator's state: queries over the meta_* tables.

Every method opens its own `store.read()` or `store.transaction()`, so each multi-row change (a WABA
with its numbers and its sign-up token, a batch of numbers) is atomic. Secrets never reach a row in
plain text: access tokens are kept as SHA-256 digests, two-step verification PINs as salted scrypt
hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from wabalink.store.db import Store
from wabalink.store.schema import (
    meta_access_tokens,
    meta_businesses,
    meta_faults,
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

FAULTS_ROW_ID = 1

# The statements every Graph call runs, built once: building a Core statement costs about as much
# as executing it on SQLite.
_SELECT_WABA = select(meta_wabas).where(meta_wabas.c.id == bindparam("waba_id"))
_WABA_EXISTS = select(meta_wabas.c.id).where(meta_wabas.c.id == bindparam("waba_id"))
_SELECT_PHONE = select(meta_phone_numbers).where(meta_phone_numbers.c.id == bindparam("phone_id"))
_SELECT_TOKEN = select(meta_access_tokens).where(meta_access_tokens.c.token_digest == bindparam("digest"))
_SELECT_SUBSCRIPTION = select(meta_webhook_subscriptions.c.app_id).where(and_(
    meta_webhook_subscriptions.c.waba_id == bindparam("waba_id"),
    meta_webhook_subscriptions.c.app_id == bindparam("app_id")))
_SELECT_FAULTS = select(meta_faults).where(meta_faults.c.id == FAULTS_ROW_ID)


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
class FaultState:
    fail_next_calls: int = 0
    fail_status: int = 500
    fail_path_contains: str | None = None
    latency_ms: int = 0


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


def _waba_from_row(row) -> WabaRecord:  # type: ignore[no-untyped-def]
    return WabaRecord(row.id, row.business_id, row.name, row.currency, row.timezone_id, row.created_at)


def _phone_from_row(row) -> PhoneNumberRecord:  # type: ignore[no-untyped-def]
    return PhoneNumberRecord(
        id=row.id, waba_id=row.waba_id, display_phone_number=row.display_phone_number,
        verified_name=row.verified_name, quality_rating=row.quality_rating, status=row.status,
        has_pin=row.pin_hash is not None, data_localization_region=row.data_localization_region,
        updated_at=row.updated_at,
    )


def _token_from_row(row) -> TokenRecord:  # type: ignore[no-untyped-def]
    return TokenRecord(
        digest=row.token_digest, app_id=row.app_id, user_id=row.user_id, kind=row.kind,
        scopes=json.loads(row.scopes), granted_waba_ids=json.loads(row.granted_waba_ids),
        issued_at=row.issued_at, expires_at=row.expires_at, revoked=bool(row.revoked),
    )


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
        with self.store.transaction() as conn:
            if business_id is None:
                business_id = new_numeric_id()
                conn.execute(insert(meta_businesses).values(id=business_id, name=business_name, created_at=now))
            conn.execute(insert(meta_wabas).values(
                id=waba_id, business_id=business_id, name=name, currency=currency,
                timezone_id=timezone_id, created_at=now))
            phones = self._insert_phone_numbers(conn, waba_id, phone_numbers, now)
            if token is not None:
                token = NewToken(token.token, token.app_id, token.user_id, token.scopes,
                                 sorted(set(token.granted_waba_ids) | {waba_id}), token.expires_at, token.kind)
                self._insert_token(conn, token, now)
        waba = WabaRecord(waba_id, business_id, name, currency, timezone_id, now)
        return CreatedWaba(waba, phones)

    def add_phone_numbers(self, waba_id: str, phone_numbers: list[NewPhoneNumber]) -> list[PhoneNumberRecord] | None:
        """None when the WABA does not exist."""
        now = time.time()
        with self.store.transaction() as conn:
            if conn.execute(_WABA_EXISTS, {"waba_id": waba_id}).first() is None:
                return None
            return self._insert_phone_numbers(conn, waba_id, phone_numbers, now)

    @staticmethod
    def _insert_phone_numbers(conn: Connection, waba_id: str, phone_numbers: list[NewPhoneNumber],
                              now: float) -> list[PhoneNumberRecord]:
        records = [
            PhoneNumberRecord(new_numeric_id(), waba_id, p.display_phone_number, p.verified_name,
                              p.quality_rating, "UNREGISTERED", False, None, now)
            for p in phone_numbers
        ]
        if records:
            conn.execute(insert(meta_phone_numbers), [
                {"id": r.id, "waba_id": waba_id, "display_phone_number": r.display_phone_number,
                 "verified_name": r.verified_name, "quality_rating": r.quality_rating,
                 "status": r.status, "pin_hash": None, "data_localization_region": None, "updated_at": now}
                for r in records
            ])
        return records

    def get_waba(self, waba_id: str) -> WabaRecord | None:
        with self.store.read() as conn:
            row = conn.execute(_SELECT_WABA, {"waba_id": waba_id}).first()
        return _waba_from_row(row) if row else None

    def list_phone_numbers(self, waba_id: str, *, after_id: str | None = None,
                           limit: int | None = None) -> list[PhoneNumberRecord]:
        """In id order (the paging cursor is the last id seen)."""
        query = select(meta_phone_numbers).where(meta_phone_numbers.c.waba_id == waba_id)
        if after_id is not None:
            query = query.where(meta_phone_numbers.c.id > after_id)
        query = query.order_by(meta_phone_numbers.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self.store.read() as conn:
            return [_phone_from_row(r) for r in conn.execute(query)]

    def get_phone_number(self, phone_id: str) -> PhoneNumberRecord | None:
        with self.store.read() as conn:
            row = conn.execute(_SELECT_PHONE, {"phone_id": phone_id}).first()
        return _phone_from_row(row) if row else None

    def set_quality_rating(self, phone_id: str, rating: str) -> bool:
        with self.store.transaction() as conn:
            result = conn.execute(update(meta_phone_numbers).where(meta_phone_numbers.c.id == phone_id)
                                  .values(quality_rating=rating, updated_at=time.time()))
        return result.rowcount == 1

    def register_phone_number(self, phone_id: str, pin: str, data_localization_region: str | None) -> str:
        """Idempotent: registering again with the same PIN succeeds (and may set the region); a
        different PIN on a registered number is a mismatch, as on Meta. Returns a RegistrationOutcome.

        The PIN is hashed or checked outside the write transaction so the SQLite write lock is held
        only for one conditional UPDATE; a concurrent registration is caught by its WHERE clause."""
        for _ in range(3):
            with self.store.read() as conn:
                row = conn.execute(_SELECT_PHONE, {"phone_id": phone_id}).first()
            if row is None:
                return RegistrationOutcome.NOT_FOUND
            if row.status == "REGISTERED" and row.pin_hash is not None:
                return self._register_again(phone_id, pin, data_localization_region, row.pin_hash,
                                            row.data_localization_region)
            pin_hash = hash_pin(pin)
            with self.store.transaction() as conn:
                result = conn.execute(
                    update(meta_phone_numbers)
                    .where(and_(meta_phone_numbers.c.id == phone_id, meta_phone_numbers.c.status == row.status,
                                meta_phone_numbers.c.pin_hash.is_(None) if row.pin_hash is None
                                else meta_phone_numbers.c.pin_hash == row.pin_hash))
                    .values(status="REGISTERED", pin_hash=pin_hash,
                            data_localization_region=data_localization_region, updated_at=time.time()))
            if result.rowcount == 1:
                return RegistrationOutcome.REGISTERED
            # Someone registered or deregistered it meanwhile: look again.
        return RegistrationOutcome.CONFLICT

    def _register_again(self, phone_id: str, pin: str, region: str | None, pin_hash: str,
                        current_region: str | None) -> str:
        if not pin_matches(pin, pin_hash):
            return RegistrationOutcome.PIN_MISMATCH
        if region and region != current_region:
            with self.store.transaction() as conn:
                conn.execute(update(meta_phone_numbers)
                             .where(and_(meta_phone_numbers.c.id == phone_id, meta_phone_numbers.c.pin_hash == pin_hash))
                             .values(data_localization_region=region, updated_at=time.time()))
        return RegistrationOutcome.ALREADY_REGISTERED

    def deregister_phone_number(self, phone_id: str) -> bool:
        """Back to UNREGISTERED; the PIN and region go with the registration. False if unknown."""
        with self.store.transaction() as conn:
            result = conn.execute(update(meta_phone_numbers).where(meta_phone_numbers.c.id == phone_id).values(
                status="UNREGISTERED", pin_hash=None, data_localization_region=None, updated_at=time.time()))
        return result.rowcount == 1

    # --- webhook subscriptions --------------------------------------------------------------

    def subscribe_app(self, waba_id: str, app_id: str) -> bool:
        """Idempotent. False when the WABA does not exist."""
        try:
            with self.store.transaction() as conn:
                if conn.execute(_WABA_EXISTS, {"waba_id": waba_id}).first() is None:
                    return False
                exists = conn.execute(_SELECT_SUBSCRIPTION, {"waba_id": waba_id, "app_id": app_id}).first()
                if exists is None:
                    conn.execute(insert(meta_webhook_subscriptions).values(
                        waba_id=waba_id, app_id=app_id, created_at=time.time()))
        except IntegrityError:
            # A concurrent call subscribed the same app first (PostgreSQL's READ COMMITTED lets
            # both see "not subscribed"): the subscription exists, which is what was asked.
            pass
        return True

    def unsubscribe_app(self, waba_id: str, app_id: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(delete(meta_webhook_subscriptions).where(and_(
                meta_webhook_subscriptions.c.waba_id == waba_id,
                meta_webhook_subscriptions.c.app_id == app_id)))

    def subscribed_app_ids(self, waba_id: str) -> list[str]:
        with self.store.read() as conn:
            rows = conn.execute(select(meta_webhook_subscriptions.c.app_id)
                                .where(meta_webhook_subscriptions.c.waba_id == waba_id)
                                .order_by(meta_webhook_subscriptions.c.created_at))
            return [r.app_id for r in rows]

    # --- access tokens ----------------------------------------------------------------------

    def add_token(self, token: NewToken) -> None:
        with self.store.transaction() as conn:
            self._insert_token(conn, token, time.time())

    @staticmethod
    def _insert_token(conn: Connection, token: NewToken, now: float) -> None:
        conn.execute(insert(meta_access_tokens).values(
            token_digest=token_digest(token.token), app_id=token.app_id, user_id=token.user_id,
            kind=token.kind, scopes=json.dumps(token.scopes), granted_waba_ids=json.dumps(token.granted_waba_ids),
            issued_at=now, expires_at=token.expires_at, revoked=False))

    def find_token(self, token: str) -> TokenRecord | None:
        with self.store.read() as conn:
            row = conn.execute(_SELECT_TOKEN, {"digest": token_digest(token)}).first()
        return _token_from_row(row) if row else None

    def expire_token(self, token: str, at: float | None = None) -> bool:
        expires_at = time.time() - 1 if at is None else at
        with self.store.transaction() as conn:
            result = conn.execute(update(meta_access_tokens)
                                  .where(meta_access_tokens.c.token_digest == token_digest(token))
                                  .values(expires_at=expires_at))
        return result.rowcount == 1

    def revoke_token(self, token: str) -> bool:
        with self.store.transaction() as conn:
            result = conn.execute(update(meta_access_tokens)
                                  .where(meta_access_tokens.c.token_digest == token_digest(token))
                                  .values(revoked=True))
        return result.rowcount == 1

    # --- faults -----------------------------------------------------------------------------

    def get_faults(self) -> FaultState:
        with self.store.read() as conn:
            row = conn.execute(_SELECT_FAULTS).first()
        if row is None:
            return FaultState()
        return FaultState(row.fail_next_calls, row.fail_status, row.fail_path_contains, row.latency_ms)

    def set_faults(self, faults: FaultState) -> FaultState:
        values = {"fail_next_calls": faults.fail_next_calls, "fail_status": faults.fail_status,
                  "fail_path_contains": faults.fail_path_contains, "latency_ms": faults.latency_ms}
        with self.store.transaction() as conn:
            result = conn.execute(update(meta_faults).where(meta_faults.c.id == FAULTS_ROW_ID).values(**values))
            if result.rowcount == 0:
                conn.execute(insert(meta_faults).values(id=FAULTS_ROW_ID, **values))
        return faults

    def clear_faults(self) -> FaultState:
        return self.set_faults(FaultState())

    def consume_failure(self, expected: FaultState) -> bool:
        """Take one of the pending failures, if one is still there. The conditional UPDATE makes
        two concurrent callers unable to both take the last one; it also checks the path filter
        has not changed since `expected` was read."""
        path_filter = meta_faults.c.fail_path_contains
        same_filter = (path_filter.is_(None) if expected.fail_path_contains is None
                       else path_filter == expected.fail_path_contains)
        with self.store.transaction() as conn:
            result = conn.execute(update(meta_faults)
                                  .where(and_(meta_faults.c.id == FAULTS_ROW_ID,
                                              meta_faults.c.fail_next_calls > 0, same_filter))
                                  .values(fail_next_calls=meta_faults.c.fail_next_calls - 1))
        return result.rowcount == 1


__all__ = [
    "MetaState", "WabaRecord", "PhoneNumberRecord", "NewPhoneNumber", "TokenRecord", "NewToken",
    "FaultState", "CreatedWaba", "RegistrationOutcome", "new_numeric_id", "token_digest", "hash_pin",
    "pin_matches",
]
