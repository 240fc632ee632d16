"""Meta's embedded sign-up, simulated (mounted at `/meta/signup`): the window a business owner
goes through when an application says "Link a WhatsApp Business Account".

  GET  /meta/signup/?redirect_uri=/console/...   choose an existing business or create one, name the WABA
  POST /meta/signup/business                     creates the business (if new) and its WABA
  POST /meta/signup/number                       a phone number to add; the simulator "texts" it a code
  POST /meta/signup/verify                       the code: the number is added to the WABA
  POST /meta/signup/finish                       a user access token granted that WABA, handed back

The finish page hands the token back as Meta's does to its opener: `postMessage` of
`{type: "WA_EMBEDDED_SIGNUP", event: "FINISH", data: {waba_id, phone_number_id, business_id},
access_token}` to the opener window (same origin), or, without an opener, a redirect to
`redirect_uri#access_token=...` (a fragment never reaches a server log). `redirect_uri` must be a
path of this server's console. The flow's state travels in a signed form field (no table), valid
for STATE_LIFETIME_SECONDS. Who may use it is the console's business (`is_allowed`): anyone in
permissive mode, a signed-in console user in strict mode (where the existing businesses, which may
be other accounts', are not offered).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from sqlalchemy import bindparam, select

from wabalink.console.render import html_response, render, text_response
from wabalink.console.session import CrossSiteRequest, check_same_origin
from wabalink.meta.errors import SandboxError
from wabalink.meta.phone_numbers import DISPLAY_PHONE_NUMBER, random_display_phone_number
from wabalink.meta.sandbox_input import NUMERIC_ID, optional_str, required_str
from wabalink.meta.simulator import MetaSimulator
from wabalink.meta.tokens import mint_token
from wabalink.secret_compare import same_secret
from wabalink.server.http import HttpRequest, HttpResponse
from wabalink.store.db import Query
from wabalink.store.meta_state import NewPhoneNumber
from wabalink.store.schema import meta_businesses
from wabalink.store.secrets import get_or_create_secret

STATE_LIFETIME_SECONDS = 3600
RECENT_BUSINESSES = 20
MAX_NUMBERS = 20
_RECENT = Query(select(meta_businesses.c.id, meta_businesses.c.name)
                .order_by(meta_businesses.c.created_at.desc()).limit(RECENT_BUSINESSES))
_BUSINESS = Query(select(meta_businesses.c.id, meta_businesses.c.name)
                  .where(meta_businesses.c.id == bindparam("business_id")))

State = dict[str, Any]
INVALID_STATE = "This sign-up page's state is missing or invalid; start again."
EXPIRED_STATE = "This sign-up has expired; start again."


class EmbeddedSignup:
    def __init__(self, sim: MetaSimulator, is_allowed: Callable[[HttpRequest], bool]) -> None:
        self.sim = sim
        self.is_allowed = is_allowed
        self._key = get_or_create_secret(sim.state.store, "meta-signup")

    def handle(self, request: HttpRequest, path_after_prefix: str) -> HttpResponse:
        settings = self.sim.settings
        if settings.meta_graph_url is not None or not settings.sandbox_enabled:
            return text_response(404, "the embedded sign-up is the built-in simulator's; it is off on this server")
        if not self.is_allowed(request):
            return text_response(403, "sign in to the console first (/console/login)")
        step = path_after_prefix.strip("/")
        form: dict[str, str] = {}
        if request.method == "POST":
            try:
                check_same_origin(request)
            except CrossSiteRequest as refused:
                return text_response(403, str(refused))
            form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        handler = _STEPS.get((request.method if request.method != "HEAD" else "GET", step))
        if handler is None:
            return text_response(404, "no such sign-up page")
        query = dict(parse_qsl(request.query_string.decode("latin-1")))
        redirect_uri = _local_redirect(form.get("redirect_uri") if form else query.get("redirect_uri"))
        state: State | None = {}
        if form:
            try:
                state = self._unseal(form.get("state", ""))
            except UnusableState as unusable:
                if step != "business":
                    return self._page("start", {}, redirect_uri, status=400, error=str(unusable))
                state = None
        try:
            return handler(self, state or {}, form, redirect_uri)
        except SandboxError as error:
            return self._page(_BACK_TO[step], state or {}, redirect_uri, status=400, error=error.message, typed=form)

    # --- the steps ---------------------------------------------------------------------------

    def _start(self, state: State, form: dict[str, str], redirect_uri: str | None) -> HttpResponse:
        return self._page("start", {}, redirect_uri)

    def _business(self, state: State, form: dict[str, str], redirect_uri: str | None) -> HttpResponse:
        business_id = form.get("businessId") or "new"
        if business_id != "new" and self._shared():
            raise SandboxError(400, "businessId: on a shared server (--auth strict) a sign-up creates its own business")
        if business_id == "new":
            business_name = required_str(form, "businessName")
            existing = None
        else:
            if not NUMERIC_ID.fullmatch(business_id):
                raise SandboxError(400, "businessId must be a business of the list")
            with self.sim.state.store.reader() as cursor:
                found = cursor.row(_BUSINESS, business_id=business_id)
            if found is None:
                raise SandboxError(400, f"businessId {business_id} is not a business of the simulator")
            business_name, existing = found["name"], business_id
        waba_name = optional_str(form, "wabaName") or business_name
        created = self.sim.state.create_waba(business_name=business_name, name=waba_name, currency="USD",
                                             timezone_id="1", phone_numbers=[], business_id=existing)
        state = {"business": created.waba.business_id, "businessName": business_name, "waba": created.waba.id,
                 "wabaName": waba_name, "phones": [], "pending": None}
        return self._page("number", state, redirect_uri)

    def _number(self, state: State, form: dict[str, str], redirect_uri: str | None) -> HttpResponse:
        if len(state["phones"]) >= MAX_NUMBERS:
            raise SandboxError(400, f"a sign-up adds at most {MAX_NUMBERS} numbers")
        display = optional_str(form, "displayPhoneNumber", max_length=20) or random_display_phone_number()
        if not DISPLAY_PHONE_NUMBER.fullmatch(display):
            raise SandboxError(400, "displayPhoneNumber must be a phone number like +1 555-010-1234")
        name = optional_str(form, "verifiedName") or state["wabaName"]
        code = f"{secrets.randbelow(10**6):06d}"
        # The simulator plays the phone too: the "text message" with the code is shown on the page.
        # The sealed state keeps only an HMAC of the code: the page's hidden field must not reveal it.
        state = {**state, "pending": {"display": display, "name": name, "codeMac": self._code_mac(code)}}
        return self._page("verify", state, redirect_uri, sms_code=code)

    def _verify(self, state: State, form: dict[str, str], redirect_uri: str | None) -> HttpResponse:
        pending = state.get("pending")
        if not pending:
            return self._page("number", state, redirect_uri)
        typed = "".join(ch for ch in form.get("code", "") if ch.isdigit())
        if not same_secret(self._code_mac(typed), pending["codeMac"]):
            return self._page("verify", state, redirect_uri, status=400, typed=form,
                              error="code: that is not the code sent to this number; check it and try again.")
        added = self.sim.state.add_phone_numbers(state["waba"], [NewPhoneNumber(pending["display"], pending["name"])])
        if added is None:
            raise SandboxError(400, "the WhatsApp Business Account of this sign-up no longer exists; start again")
        phones = [*state["phones"], {"id": added[0].id, "display": added[0].display_phone_number}]
        return self._page("number", {**state, "phones": phones, "pending": None}, redirect_uri)

    def _finish(self, state: State, form: dict[str, str], redirect_uri: str | None) -> HttpResponse:
        if not state.get("phones"):
            raise SandboxError(400, "add and verify at least one phone number before finishing")
        minted = mint_token(self.sim, [state["waba"]])
        result = {"type": "WA_EMBEDDED_SIGNUP", "event": "FINISH", "access_token": minted.access_token,
                  "data": {"waba_id": state["waba"], "phone_number_id": state["phones"][0]["id"],
                           "business_id": state["business"]}}
        fragment = urlencode({"access_token": minted.access_token, "waba_id": state["waba"],
                              "expires_in": int(minted.expires_at - time.time()) if minted.expires_at else 0})
        continue_url = f"{redirect_uri}#{fragment}" if redirect_uri else None
        body = render("meta_signup.html", step="finish", state=state, result=json.dumps(result),
                      continue_url=continue_url, token=minted.access_token, redirect_uri=redirect_uri)
        return html_response(body)

    # --- helpers -----------------------------------------------------------------------------

    def _page(self, step: str, state: State, redirect_uri: str | None, *, status: int = 200,
              error: str | None = None, typed: dict[str, str] | None = None,
              sms_code: str | None = None) -> HttpResponse:
        businesses: list[dict[str, Any]] = []
        if step == "start" and not self._shared():
            with self.sim.state.store.reader() as cursor:
                businesses = cursor.rows(_RECENT)
        body = render("meta_signup.html", step=step, state=state, sealed=self._seal(state) if state else "",
                      redirect_uri=redirect_uri or "", error=error, typed=typed or {},
                      businesses=businesses, sms_code=sms_code)
        return html_response(body, status)

    def _shared(self) -> bool:
        """With --auth strict several accounts share the simulator: no one is shown others' businesses."""
        return self.sim.settings.auth_mode == "strict"

    def _seal(self, state: State) -> str:
        payload = base64.urlsafe_b64encode(json.dumps({**state, "at": time.time()}).encode()).decode()
        return payload + "." + hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def _unseal(self, text: str) -> State:
        """The state a page was given; raises UnusableState if it is missing, altered or too old."""
        payload, _, signature = text.rpartition(".")
        if not payload or not same_secret(signature, hmac.new(self._key, payload.encode(),
                                                                      hashlib.sha256).hexdigest()):
            raise UnusableState(INVALID_STATE)
        state = json.loads(base64.urlsafe_b64decode(payload))
        if time.time() - state.pop("at", 0) > STATE_LIFETIME_SECONDS:
            raise UnusableState(EXPIRED_STATE)
        return state

    def _code_mac(self, code: str) -> str:
        return hmac.new(self._key, b"sms-code:" + code.encode(), hashlib.sha256).hexdigest()


class UnusableState(Exception):
    """The form's `state` cannot be used: the message says why, for the page."""


def _local_redirect(value: str | None) -> str | None:
    """Only this server's console may receive the token."""
    if not value or not value.startswith("/console/") or "//" in value or "\\" in value or "#" in value:
        return None
    return quote(value, safe="/?=&-_.")


_STEPS: dict[tuple[str, str], Callable[..., HttpResponse]] = {
    ("GET", ""): EmbeddedSignup._start,
    ("POST", "business"): EmbeddedSignup._business,
    ("POST", "number"): EmbeddedSignup._number,
    ("POST", "verify"): EmbeddedSignup._verify,
    ("POST", "finish"): EmbeddedSignup._finish,
}
_BACK_TO = {"": "start", "business": "start", "number": "number", "verify": "verify", "finish": "number"}

__all__ = ["EmbeddedSignup"]
