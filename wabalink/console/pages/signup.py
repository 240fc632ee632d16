"""Linking a WhatsApp Business Account as on AWS: "Link" opens Meta's embedded sign-up (served by
the simulator at /meta/signup), which hands an access token back to /console/signup/callback;
phase 1 (signupCallback) runs with it, then the finalize form takes each number's PIN and data
localization region, the event destination and tags, and runs phase 2 (setupFinalization)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from wabalink.console.actions import ActionError
from wabalink.console.render import redirect
from wabalink.console.web import Page, Route, page
from wabalink.server.http import HttpResponse
from wabalink.service.association import DATA_LOCALIZATION_REGIONS

CALLBACK = "/console/signup/callback"
PIN = "setupFinalization.phoneNumbers[{}].twoFactorPin"
REGION = "setupFinalization.phoneNumbers[{}].dataLocalizationRegion"
DESTINATION = "setupFinalization.waba.eventDestinations[0].eventDestinationArn"
ROLE = "setupFinalization.waba.eventDestinations[0].roleArn"
TAGS = "setupFinalization.waba.tags"


@page()
def start(p: Page) -> HttpResponse:
    return p.render("signup.html", signup_url=f"/meta/signup/?redirect_uri={quote(CALLBACK)}", error=None,
                    typed={})


@page()
def callback(p: Page) -> HttpResponse:
    """Meta's window comes back here with `#access_token=...`; a script posts it to /associate."""
    return p.render("signup_callback.html")


@page()
def associate(p: Page) -> HttpResponse:
    token = p.form.get("signupCallback.accessToken", "").strip()
    try:
        answer = p.call("AssociateWhatsAppBusinessAccount", {"signupCallback": {"accessToken": token}})
    except ActionError as error:
        return p.render("signup.html", status=400, signup_url=f"/meta/signup/?redirect_uri={quote(CALLBACK)}",
                        error=error, typed=p.form)
    result = answer["signupCallbackResult"]
    phase1 = {"token": result["associateInProgressToken"],
              "accounts": _accounts(result.get("linkedAccountsWithIncompleteSetup", {}))}
    return _finalize_page(p, phase1, error=None, typed={})


def _accounts(incomplete: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"metaWabaId": meta_id, "wabaId": entry["wabaId"], "name": entry.get("accountName", ""),
             "phones": [{"id": phone["phoneNumberId"], "display": phone["displayPhoneNumber"],
                         "name": phone.get("displayPhoneNumberName", "")}
                        for phone in entry.get("unregisteredWhatsAppPhoneNumbers", [])]}
            for meta_id, entry in sorted(incomplete.items())]


def _finalize_page(p: Page, phase1: dict[str, Any], *, error: ActionError | None, typed: dict[str, str],
                   status: int = 200) -> HttpResponse:
    return p.render("finalize.html", status=status, phase1=phase1, sealed=p.console.sessions.seal(p.session, phase1),
                    localization_regions=sorted(DATA_LOCALIZATION_REGIONS), error=error, typed=typed,
                    names={"pin": PIN, "region": REGION, "destination": DESTINATION, "role": ROLE, "tags": TAGS})


@page()
def finalize(p: Page) -> HttpResponse:
    phase1 = p.console.sessions.unseal(p.session, p.form.get("phase1", ""))
    if not isinstance(phase1, dict):
        return p.render("refused.html", status=400, message="The sign-up form expired; start the sign-up again.")
    account = next((a for a in phase1["accounts"] if a["wabaId"] == p.form.get("setupFinalization.waba.id")), None)
    if account is None:
        return p.render("refused.html", status=400, message="setupFinalization.waba.id: choose a WABA of this sign-up.")
    chosen = [index for index in range(len(account["phones"])) if p.form.get(f"include[{index}]") == "yes"]
    phones = []
    for index in chosen:
        entry = {"id": account["phones"][index]["id"], "twoFactorPin": p.form.get(PIN.format(index), "")}
        if p.form.get(REGION.format(index)):
            entry["dataLocalizationRegion"] = p.form[REGION.format(index)]
        phones.append(entry)
    waba: dict[str, Any] = {"id": account["wabaId"]}
    if p.form.get(DESTINATION, "").strip():
        destination = {"eventDestinationArn": p.form[DESTINATION].strip()}
        if p.form.get(ROLE, "").strip():
            destination["roleArn"] = p.form[ROLE].strip()
        waba["eventDestinations"] = [destination]
    tags = _tags(p.form.get(TAGS, ""))
    if tags:
        waba["tags"] = tags
    try:
        p.call("AssociateWhatsAppBusinessAccount", {"setupFinalization": {
            "associateInProgressToken": phase1["token"], "phoneNumbers": phones, "waba": waba}})
    except ActionError as error:
        for request_index, form_index in reversed(list(enumerate(chosen))):
            error = error.renumbered(f"setupFinalization.phoneNumbers[{request_index}]",
                                     f"setupFinalization.phoneNumbers[{form_index}]")
        return _finalize_page(p, phase1, error=error, typed=p.form, status=400)
    return redirect(f"/console/wabas/{account['wabaId']}?linked=1")


def _tags(text: str) -> list[dict[str, str]]:
    """`key=value` lines (a line without `=` is a key with an empty value)."""
    tags = []
    for line in text.splitlines():
        if line.strip():
            key, _, value = line.partition("=")
            tags.append({"key": key.strip(), "value": value.strip()})
    return tags


ROUTES = [
    Route("GET", "/signup", start),
    Route("GET", "/signup/callback", callback),
    Route("POST", "/signup/associate", associate),
    Route("POST", "/signup/finalize", finalize),
]
