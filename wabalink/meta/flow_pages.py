"""Pages wabalink serves for Meta's Flows (mounted at `/meta/flows`, no token: the URLs are the
secret, as Meta's are): `GET /preview/{token}` renders the flow's screens as an HTML page until the
preview expires; `GET /assets/{token}` downloads the flow JSON while the signed link is valid."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import time
from typing import TYPE_CHECKING, Any

from wabalink.server.http import HttpRequest, HttpResponse
from wabalink.store import meta_flows

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

PAGES_PREFIX = "/meta/flows"
ASSET_LINK_LIFETIME_SECONDS = 3600  # Meta's download links are short-lived
_TEXT_KEYS = ("text", "label", "title", "description", "name", "helper-text", "placeholder")


def timestamp(epoch_seconds: float) -> str:
    """Meta's timestamp format: 2023-05-21T11:18:09+0000."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(epoch_seconds))


def preview_url(sim: MetaSimulator, token: str) -> str:
    return f"{sim.settings.public_base_url()}{PAGES_PREFIX}/preview/{token}"


def asset_download_url(sim: MetaSimulator, flow_id: str) -> str:
    expires = int(time.time()) + ASSET_LINK_LIFETIME_SECONDS
    return f"{sim.settings.public_base_url()}{PAGES_PREFIX}/assets/{flow_id}.{expires}.{_sign(sim, flow_id, expires)}"


def _sign(sim: MetaSimulator, flow_id: str, expires: int) -> str:
    message = f"flow-asset:{flow_id}:{expires}".encode()
    return hmac.new(sim.app.app_secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def handle_flow_page(sim: MetaSimulator, request: HttpRequest, path: str) -> HttpResponse:
    segments = [s for s in path.split("/") if s]
    if request.method.upper() != "GET" or len(segments) != 2 or segments[0] not in ("preview", "assets"):
        return _page(404, "Not found", "<p>There is no such page.</p>")
    if segments[0] == "preview":
        return _preview(sim, segments[1])
    return _asset(sim, segments[1])


def _preview(sim: MetaSimulator, token: str) -> HttpResponse:
    with sim.state.store.reader() as cursor:
        flow = meta_flows.flow_by_preview_token(cursor, token) if len(token) <= 64 else None
    if flow is None or flow.preview_expires_at is None or flow.preview_expires_at <= time.time():
        return _page(410, "Preview expired", "<p>This preview link has expired or was replaced. Ask for a new "
                     "one (GetWhatsAppFlowPreview).</p>")
    title = f"{flow.name} ({flow.status})"
    if flow.flow_json is None:
        return _page(200, title, "<p>This Flow has no Flow JSON yet.</p>")
    try:
        document = json.loads(flow.flow_json)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("screens"), list):
        return _page(200, title, f"<p>The Flow JSON cannot be rendered:</p><pre>{html.escape(flow.flow_json)}</pre>")
    screens = "".join(_screen_html(screen) for screen in document["screens"] if isinstance(screen, dict))
    meta = f"<p>Flow JSON version {html.escape(str(document.get('version')))}; preview valid until " \
           f"{timestamp(flow.preview_expires_at)}.</p>"
    return _page(200, title, meta + screens)


def _screen_html(screen: dict[str, Any]) -> str:
    heading = html.escape(f"{screen.get('title') or ''} [{screen.get('id')}]".strip())
    terminal = " (terminal)" if screen.get("terminal") is True else ""
    layout: dict[str, Any] = screen["layout"] if isinstance(screen.get("layout"), dict) else {}
    children: list[Any] = layout["children"] if isinstance(layout.get("children"), list) else []
    return f'<section class="screen"><h2>{heading}{terminal}</h2><ul>{_components_html(children)}</ul></section>'


def _components_html(children: list[Any]) -> str:
    items = []
    for component in children:
        if not isinstance(component, dict):
            continue
        texts = [str(component[key]) for key in _TEXT_KEYS if isinstance(component.get(key), (str, int, float))]
        options = component.get("data-source")
        if isinstance(options, list):
            texts.append("options: " + ", ".join(str(o.get("title", o.get("id"))) for o in options
                                                 if isinstance(o, dict)))
        nested = component.get("children")
        inner = f"<ul>{_components_html(nested)}</ul>" if isinstance(nested, list) else ""
        items.append(f"<li><b>{html.escape(str(component.get('type')))}</b> {html.escape(' | '.join(texts))}"
                     f"{inner}</li>")
    return "".join(items)


def _asset(sim: MetaSimulator, token: str) -> HttpResponse:
    flow_id, _, rest = token.partition(".")
    expires_text, _, signature = rest.partition(".")
    valid = flow_id.isdigit() and expires_text.isdigit() and len(token) <= 200 and hmac.compare_digest(
        signature, _sign(sim, flow_id, int(expires_text))) and int(expires_text) > time.time()
    flow = None
    if valid:
        with sim.state.store.reader() as cursor:
            flow = meta_flows.get_flow(cursor, flow_id)
    if flow is None or flow.flow_json is None:
        return _page(404, "Not found", "<p>This download link has expired or the asset is gone.</p>")
    body = flow.flow_json.encode()
    return HttpResponse(200, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                              (b"content-disposition", b'attachment; filename="flow.json"')], body)


def _page(status: int, title: str, body: str) -> HttpResponse:
    page = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>").encode()
    return HttpResponse(status, [(b"content-type", b"text/html; charset=utf-8"),
                                 (b"content-length", str(len(page)).encode())], page)
