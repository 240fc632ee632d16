"""The simulator's control state: its generated app credentials and the injected Graph faults
(tables in `meta_tables.py`). Same query style as `meta_state.py`: statements built once, run on
the store's cursor, one transaction per change.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from wabalink.store.db import Query, Store
from wabalink.store.meta_tables import meta_fault_injection, meta_simulator_app

SINGLE_ROW_ID = 1
F, A = meta_fault_injection.c, meta_simulator_app.c


@dataclass(frozen=True)
class FaultState:
    fail_next_calls: int = 0
    fail_status: int = 500
    fail_path_contains: str | None = None
    latency_ms: int = 0
    fail_until: float | None = None  # epoch seconds: every matching call fails until then

    def failing_window_open(self, now: float) -> bool:
        return self.fail_until is not None and now < self.fail_until


@dataclass(frozen=True)
class AppCredentials:
    app_id: str
    app_secret: str

    @property
    def app_token(self) -> str:
        # Graph API app access tokens have the form "{app-id}|{app-secret}".
        return f"{self.app_id}|{self.app_secret}"


_FAULT_VALUES = ("fail_next_calls", "fail_status", "fail_path_contains", "latency_ms", "fail_until")
_SELECT_FAULTS = Query(select(meta_fault_injection).where(F.id == SINGLE_ROW_ID))
_UPDATE_FAULTS = Query(update(meta_fault_injection).where(F.id == SINGLE_ROW_ID).values(
    {name: bindparam(name) for name in _FAULT_VALUES}))
_INSERT_FAULTS = Query(insert(meta_fault_injection).values(
    id=SINGLE_ROW_ID, **{name: bindparam(name) for name in _FAULT_VALUES}))


def _consume_failure(same_filter: object) -> Query:
    return Query(update(meta_fault_injection).where(
        F.id == SINGLE_ROW_ID, F.fail_next_calls > 0, same_filter)  # type: ignore[arg-type]
        .values(fail_next_calls=F.fail_next_calls - 1))


_CONSUME_FAILURE_ANY_PATH = _consume_failure(F.fail_path_contains.is_(None))
_CONSUME_FAILURE_PATH = _consume_failure(F.fail_path_contains == bindparam("expected_path"))



_SELECT_APP = Query(select(A.app_id, A.app_secret).where(A.id == SINGLE_ROW_ID))
_INSERT_APP = Query(insert(meta_simulator_app).values(
    id=SINGLE_ROW_ID, app_id=bindparam("app_id"), app_secret=bindparam("app_secret"),
    created_at=bindparam("created_at")))


def new_app_id() -> str:
    """A Meta-style app id: 15 digits, no leading zero."""
    return str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(14))


class SimulatorControl:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- app credentials ----------------------------------------------------------------------

    def app_credentials(self) -> AppCredentials:
        """The simulator's app, created at the first call on this database. Replicas starting
        together agree: the first insert wins and the others read it."""
        existing = self._read_app()
        if existing is not None:
            return existing
        try:
            with self.store.writer() as cursor:
                cursor.run(_INSERT_APP, app_id=new_app_id(), app_secret=secrets.token_hex(16),
                           created_at=time.time())
        except IntegrityError:
            pass  # another process created it first
        created = self._read_app()
        assert created is not None
        return created

    def _read_app(self) -> AppCredentials | None:
        with self.store.reader() as cursor:
            row = cursor.row(_SELECT_APP)
        return None if row is None else AppCredentials(row["app_id"], row["app_secret"])

    # --- faults -------------------------------------------------------------------------------

    def get_faults(self) -> FaultState:
        with self.store.reader() as cursor:
            row = cursor.row(_SELECT_FAULTS)
        if row is None:
            return FaultState()
        return FaultState(**{name: row[name] for name in _FAULT_VALUES})

    def set_faults(self, faults: FaultState) -> FaultState:
        values = {name: getattr(faults, name) for name in _FAULT_VALUES}
        with self.store.writer() as cursor:
            if cursor.run(_UPDATE_FAULTS, **values) == 0:
                cursor.run(_INSERT_FAULTS, **values)
        return faults

    def clear_faults(self) -> FaultState:
        return self.set_faults(FaultState())

    def consume_failure(self, expected: FaultState) -> bool:
        """Take one of the pending failures, if one is still there. The conditional UPDATE makes
        two concurrent callers unable to both take the last one; it also checks the path filter
        has not changed since `expected` was read."""
        with self.store.writer() as cursor:
            if expected.fail_path_contains is None:
                changed = cursor.run(_CONSUME_FAILURE_ANY_PATH)
            else:
                changed = cursor.run(_CONSUME_FAILURE_PATH, expected_path=expected.fail_path_contains)
        return changed == 1


__all__ = ["SimulatorControl", "FaultState", "AppCredentials", "new_app_id"]
