"""Who uses the console: strict mode's login and logout, permissive mode's account and region chooser."""

from __future__ import annotations

from urllib.parse import urlsplit

from wabalink.console.render import redirect
from wabalink.console.session import TooManyFailedLogins
from wabalink.console.web import Page, Route, page
from wabalink.server.http import HttpResponse


def _local(target: str | None, default: str = "/console/") -> str:
    """Only paths of this console: a `next` parameter must never send the user elsewhere."""
    if not target or not target.startswith("/console") or urlsplit(target).netloc or "\\" in target:
        return default
    return target


@page(public=True)
def login_form(p: Page) -> HttpResponse:
    if not p.console.sessions.strict:
        return redirect("/console/")
    return p.render("login.html", next=_local(p.query.get("next")), error=None, access_key_id="")


@page(public=True)
def login(p: Page) -> HttpResponse:
    if not p.console.sessions.strict:
        return redirect("/console/")
    access_key_id = p.form.get("accessKeyId", "").strip()
    try:
        signed_in = p.console.sessions.login(p.session, access_key_id, p.form.get("secretAccessKey", ""))
    except TooManyFailedLogins as locked:
        return p.render("login.html", status=429, next=_local(p.form.get("next")), access_key_id=access_key_id,
                        error=f"Too many wrong secrets for this access key id; try again in "
                              f"{locked.retry_after_seconds} seconds.")
    if signed_in is None:
        return p.render("login.html", status=403, next=_local(p.form.get("next")), access_key_id=access_key_id,
                        error="The access key id and secret access key are not a pair of the credentials file.")
    p.set_session = signed_in  # sent back as the cookie
    return redirect(_local(p.form.get("next")))


@page(public=True)
def logout(p: Page) -> HttpResponse:
    fresh = p.console.sessions.new(region=p.session.region)
    return redirect("/console/login" if p.console.sessions.strict else "/console/",
                    [p.console.sessions.cookie_header(fresh)])


@page()
def choose(p: Page) -> HttpResponse:
    """The account (permissive mode) and region the console works in."""
    try:
        chosen = p.console.sessions.choose(p.session, p.form.get("account") or None, p.form.get("region") or None)
    except ValueError as error:
        return p.render("refused.html", status=400, message=str(error))
    return redirect(_local(p.form.get("next")), [p.console.sessions.cookie_header(chosen)])


ROUTES = [
    Route("GET", "/login", login_form),
    Route("POST", "/login", login),
    Route("POST", "/logout", logout),
    Route("POST", "/account", choose),
]
