"""A WABA's message templates (with the simulator's review decisions: approve, reject with a
reason, pause, disable, recategorize) and its flows (with a preview link), when their operations
exist on this server."""

from __future__ import annotations

from typing import Any

from wabalink.console import integrations
from wabalink.console.actions import ActionError
from wabalink.console.render import redirect
from wabalink.console.web import Page, Route, page
from wabalink.server.http import HttpResponse

PAGE_SIZE = 50
DECISIONS = ("APPROVED", "REJECTED", "PAUSED", "DISABLED")
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
MAX_OWNERSHIP_PAGES = 40


def _listing(p: Page, operation: str, key: str) -> tuple[list[dict[str, Any]], str | None]:
    params: dict[str, Any] = {"id": p.args["waba_id"], "maxResults": PAGE_SIZE}
    if p.query.get("next"):
        params["nextToken"] = p.query["next"]
    answer = p.call(operation, params)
    return answer.get(key) or [], answer.get("nextToken")


@page()
def templates(p: Page, *, error: str | None = None, status: int = 200) -> HttpResponse:
    if not p.caller.available("ListWhatsAppMessageTemplates"):
        return p.render("templates.html", unavailable=True, waba_id=p.args["waba_id"])
    try:
        rows, next_token = _listing(p, "ListWhatsAppMessageTemplates", "templates")
    except ActionError as refused:
        return p.render("refused.html", status=404, message=refused.message)
    return p.render("templates.html", status=status, unavailable=False, waba_id=p.args["waba_id"], templates=rows,
                    next_token=next_token, error=error, decisions=DECISIONS, categories=CATEGORIES,
                    can_review=integrations.sandbox_route("POST", integrations.TEMPLATE_REVIEW))


def _owns_template(p: Page, template_id: str) -> bool:
    """Whether the WABA (the caller's, or ActionError) has this Meta template id."""
    params: dict[str, Any] = {"id": p.args["waba_id"], "maxResults": 100}
    for _ in range(MAX_OWNERSHIP_PAGES):
        answer = p.call("ListWhatsAppMessageTemplates", params)
        if any(t.get("metaTemplateId") == template_id for t in answer.get("templates") or []):
            return True
        if not answer.get("nextToken"):
            return False
        params["nextToken"] = answer["nextToken"]
    return False


@page()
def review(p: Page) -> HttpResponse:
    """The simulator's review of a template (what Meta's reviewers decide), sent as its webhook."""
    template_id = p.args["template_id"]
    body = {name: p.form[name] for name in ("decision", "reason", "category") if p.form.get(name, "").strip()}
    if not integrations.sandbox_route("POST", integrations.TEMPLATE_REVIEW) or not p.caller.available(
            "ListWhatsAppMessageTemplates"):
        return redirect(f"/console/wabas/{p.args['waba_id']}/templates")
    try:
        if not _owns_template(p, template_id):
            return p.render("refused.html", status=404, message=f"template {template_id[:40]} was not found")
    except ActionError as refused:
        return p.render("refused.html", status=404, message=refused.message)
    status, answer = p.console.sandbox("POST", f"/templates/{template_id}/review", body)
    if status >= 300:
        return templates(p, error=answer.get("error", {}).get("message", str(status)), status=400)
    return redirect(f"/console/wabas/{p.args['waba_id']}/templates")


@page()
def flows(p: Page) -> HttpResponse:
    if not p.caller.available("ListWhatsAppFlows"):
        return p.render("flows.html", unavailable=True, waba_id=p.args["waba_id"])
    try:
        rows, next_token = _listing(p, "ListWhatsAppFlows", "flows")
    except ActionError as refused:
        return p.render("refused.html", status=404, message=refused.message)
    return p.render("flows.html", unavailable=False, waba_id=p.args["waba_id"], flows=rows, next_token=next_token,
                    can_preview=p.caller.available("GetWhatsAppFlowPreview"))


@page()
def flow_preview(p: Page) -> HttpResponse:
    """Sends the browser to the flow's preview page (GetWhatsAppFlowPreview's URL)."""
    try:
        answer = p.call("GetWhatsAppFlowPreview", {"id": p.args["waba_id"], "flowId": p.args["flow_id"]})
    except ActionError as refused:
        return p.render("refused.html", status=400, message=refused.message)
    return p.render("flow_preview.html", waba_id=p.args["waba_id"], flow_id=p.args["flow_id"],
                    preview=answer["preview"])


ROUTES = [
    Route("GET", "/wabas/{waba_id}/templates", templates),
    Route("POST", "/wabas/{waba_id}/templates/{template_id}/review", review),
    Route("GET", "/wabas/{waba_id}/flows", flows),
    Route("GET", "/wabas/{waba_id}/flows/{flow_id}/preview", flow_preview),
]
