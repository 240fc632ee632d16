"""The embedded sign-up's hidden `state`: it never reveals the SMS code, and a missing or altered
state is told apart from an expired one."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from tests.support.console import ConsoleUser
from wabalink.meta import signup
from wabalink.meta.signup import EXPIRED_STATE, INVALID_STATE, EmbeddedSignup, UnusableState


def test_the_hidden_state_does_not_contain_the_sms_code(server: Any) -> None:
    user = ConsoleUser(server.endpoint)
    number = user.post("/meta/signup/business", {"businessId": "new", "businessName": "Secret Co"})
    verify = user.post("/meta/signup/number", {"state": number.hidden("state")})
    code = verify.testid("signup-sms-code")[0]
    sealed = verify.hidden("state")
    payload = sealed.rpartition(".")[0]
    assert code not in base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8", "replace")
    assert code not in sealed
    added = user.post("/meta/signup/verify", {"state": sealed, "code": code})
    assert added.status == 200 and added.testid("signup-numbers")


@pytest.mark.parametrize("state", ["", "garbage", "tampered"])
def test_a_missing_or_tampered_state_is_called_invalid_not_expired(server: Any, state: str) -> None:
    user = ConsoleUser(server.endpoint)
    number = user.post("/meta/signup/business", {"businessId": "new", "businessName": "Tamper Co"})
    if state == "tampered":
        state = number.hidden("state")[:-2] + ("00" if not number.hidden("state").endswith("00") else "11")
    refused = user.post("/meta/signup/finish", {"state": state})
    assert refused.status == 400
    assert INVALID_STATE in refused.text.replace("&#39;", "'") and "expired" not in refused.text


def test_an_old_state_is_called_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    flow = object.__new__(EmbeddedSignup)
    flow._key = b"k" * 32
    sealed = flow._seal({"waba": "1", "phones": []})
    assert flow._unseal(sealed) == {"waba": "1", "phones": []}
    monkeypatch.setattr(signup.time, "time", lambda: time.time_ns() / 1e9 + signup.STATE_LIFETIME_SECONDS + 5)
    with pytest.raises(UnusableState, match=EXPIRED_STATE):
        flow._unseal(sealed)
    with pytest.raises(UnusableState, match=INVALID_STATE):
        flow._unseal(sealed + "0")
