"""Linked accounts: the list (paged), a WABA's page (numbers, event destination, tags,
disassociation) and a phone number's page. Every change is the API's own operation."""

from __future__ import annotations

from typing import Any

from wabalink.console.actions import ActionError
from wabalink.console.render import redirect
from wabalink.console.web import Page, Route, page
from wabalink.server.http import HttpResponse

PAGE_SIZE = 25


@page()
def linked_accounts(p: Page) -> HttpResponse:
    params: dict[str, Any] = {"maxResults": PAGE_SIZE}
    if p.query.get("next"):
        params["nextToken"] = p.query["next"]
    try:
        answer = p.call("ListLinkedWhatsAppBusinessAccounts", params)
    except ActionError as error:
        return p.render("accounts.html", status=400, accounts=[], next_token=None, error=error)
    return p.render("accounts.html", accounts=answer.get("linkedAccounts", []), next_token=answer.get("nextToken"),
                    error=None, paged=bool(p.query.get("next")))


def _waba_page(p: Page, *, error: ActionError | None = None, typed: dict[str, str] | None = None,
               status: int = 200) -> HttpResponse:
    try:
        account = p.call("GetLinkedWhatsAppBusinessAccount", {"id": p.args["waba_id"]})["account"]
        tags = p.call("ListTagsForResource", {"resourceArn": account["arn"]}).get("tags", [])
    except ActionError as missing:
        return p.render("refused.html", status=404, message=missing.message)
    return p.render("waba.html", status=status, account=account, tags=tags, error=error, typed=typed or {})


@page()
def waba(p: Page) -> HttpResponse:
    return _waba_page(p)


@page()
def put_event_destination(p: Page) -> HttpResponse:
    arn = p.form.get("eventDestinations[0].eventDestinationArn", "").strip()
    role = p.form.get("eventDestinations[0].roleArn", "").strip()
    destinations = [{"eventDestinationArn": arn, **({"roleArn": role} if role else {})}] if arn else []
    try:
        p.call("PutWhatsAppBusinessAccountEventDestinations",
               {"id": p.args["waba_id"], "eventDestinations": destinations})
    except ActionError as error:
        return _waba_page(p, error=error, typed=p.form, status=400)
    return redirect(f"/console/wabas/{p.args['waba_id']}#event-destination")


def _tag_change(p: Page, arn_of: Any, back: Any) -> HttpResponse | None:
    """Adds `tags[0].key`=`tags[0].value`, or removes `tagKeys[0]` (one operation each); None when done,
    else the page to show."""
    try:
        arn = arn_of()
    except ActionError as missing:
        return p.render("refused.html", status=404, message=missing.message)
    try:
        if "tagKeys[0]" in p.form:
            p.call("UntagResource", {"resourceArn": arn, "tagKeys": [p.form["tagKeys[0]"]]})
        else:
            p.call("TagResource", {"resourceArn": arn, "tags": [
                {"key": p.form.get("tags[0].key", ""), "value": p.form.get("tags[0].value", "")}]})
    except ActionError as error:
        return back(p, error=error, typed=p.form, status=400)
    return None


@page()
def waba_tags(p: Page) -> HttpResponse:
    refused = _tag_change(p, lambda: p.call("GetLinkedWhatsAppBusinessAccount", {"id": p.args["waba_id"]})
                          ["account"]["arn"], _waba_page)
    return refused or redirect(f"/console/wabas/{p.args['waba_id']}#tags")


@page()
def confirm_disassociate(p: Page) -> HttpResponse:
    try:
        account = p.call("GetLinkedWhatsAppBusinessAccount", {"id": p.args["waba_id"]})["account"]
    except ActionError as missing:
        return p.render("refused.html", status=404, message=missing.message)
    return p.render("disassociate.html", account=account, error=None)


@page()
def disassociate(p: Page) -> HttpResponse:
    if p.form.get("confirm") != "yes":
        return redirect(f"/console/wabas/{p.args['waba_id']}/disassociate")
    try:
        p.call("DisassociateWhatsAppBusinessAccount", {"id": p.args["waba_id"]})
    except ActionError as error:
        return p.render("refused.html", status=400, message=error.message)
    return redirect("/console/?disassociated=" + p.args["waba_id"])


def _number_page(p: Page, *, error: ActionError | None = None, typed: dict[str, str] | None = None,
                 status: int = 200) -> HttpResponse:
    try:
        answer = p.call("GetLinkedWhatsAppBusinessAccountPhoneNumber", {"id": p.args["phone_id"]})
        tags = p.call("ListTagsForResource", {"resourceArn": answer["phoneNumber"]["arn"]}).get("tags", [])
    except ActionError as missing:
        return p.render("refused.html", status=404, message=missing.message)
    return p.render("number.html", status=status, phone=answer["phoneNumber"],
                    waba_id=answer.get("linkedWhatsAppBusinessAccountId"), tags=tags, error=error, typed=typed or {})


@page()
def number(p: Page) -> HttpResponse:
    return _number_page(p)


@page()
def number_tags(p: Page) -> HttpResponse:
    refused = _tag_change(p, lambda: p.call("GetLinkedWhatsAppBusinessAccountPhoneNumber", {"id": p.args["phone_id"]})
                          ["phoneNumber"]["arn"], _number_page)
    return refused or redirect(f"/console/phone-numbers/{p.args['phone_id']}#tags")


ROUTES = [
    Route("GET", "/", linked_accounts),
    Route("GET", "/wabas/{waba_id}", waba),
    Route("POST", "/wabas/{waba_id}/event-destinations", put_event_destination),
    Route("POST", "/wabas/{waba_id}/tags", waba_tags),
    Route("GET", "/wabas/{waba_id}/disassociate", confirm_disassociate),
    Route("POST", "/wabas/{waba_id}/disassociate", disassociate),
    Route("GET", "/phone-numbers/{phone_id}", number),
    Route("POST", "/phone-numbers/{phone_id}/tags", number_tags),
]
