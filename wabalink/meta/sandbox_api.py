"""The simulator's sandbox over HTTP (mounted at `/meta/sandbox`): JSON in and out, camelCase.

Routes (declared by the resource modules):
  POST   /wabas                              create a WABA with numbers and a sign-up token
  GET    /wabas/{wabaId}                     its state (numbers, registration, subscriptions)
  POST   /wabas/{wabaId}/phone-numbers       add numbers
  POST   /tokens                             mint an embedded sign-up token
  POST   /tokens/expire, /tokens/revoke      {accessToken}
  PUT    /phone-numbers/{id}/quality-rating  {qualityRating}
  GET | POST | PUT | DELETE /faults          injected Graph failures and latency
  POST   /phone-numbers/{id}/inbound         a WhatsApp user writes to the number
  PUT    /phone-numbers/{id}/throughput|delivery, GET .../messaging|conversations,
  POST | DELETE /phone-numbers/{id}/failure-rules    messaging controls (messaging_sandbox.py)
  GET | DELETE /webhooks, POST /webhooks/flush       the pending webhook queue
  GET    /media/{mediaId}                    a media id's state; POST .../expire ends its life now
  POST   /templates/{id}/review              {decision?, reason?, category?}: a template's review
  POST   /reset                              empty the store (every account; secrets stay)
Bad input answers 400 `{"error": {"message"}}` naming the field; unknown ids 404.

Who may use it: anyone in `--auth permissive` without a sandbox token. With `--auth strict`, or
whenever a sandbox token is configured, every request must carry `Authorization: Bearer <sandbox
token>` (401 otherwise; 403 in strict mode when no token is configured at all). With the sandbox
switched off (`sandbox_enabled=False`) every route answers 404.
"""

from __future__ import annotations

from wabalink.meta import (
    calling,
    datasets,
    faults,
    flows,
    media,
    messaging_sandbox,
    phone_numbers,
    public_keys,
    reset,
    templates,
    tokens,
    wabas,
    webhooks,
)
from wabalink.meta.calls import SandboxCall, SandboxHandler
from wabalink.meta.errors import SandboxError
from wabalink.meta.routing import Route, RouteTable
from wabalink.meta.simulator import MetaSimulator
from wabalink.secret_compare import same_secret
from wabalink.server.http import HttpRequest, HttpResponse, json_response

SANDBOX_ROUTES: list[Route[SandboxHandler]] = [
    *wabas.SANDBOX_ROUTES, *phone_numbers.SANDBOX_ROUTES, *tokens.SANDBOX_ROUTES, *faults.SANDBOX_ROUTES,
    *messaging_sandbox.SANDBOX_ROUTES, *webhooks.SANDBOX_ROUTES, *media.SANDBOX_ROUTES, *templates.SANDBOX_ROUTES,
    *flows.SANDBOX_ROUTES, *datasets.SANDBOX_ROUTES, *public_keys.SANDBOX_ROUTES, *calling.SANDBOX_ROUTES, *reset.SANDBOX_ROUTES]
_TABLE = RouteTable(SANDBOX_ROUTES)


def handle_sandbox(simulator: MetaSimulator, request: HttpRequest, path_after_prefix: str) -> HttpResponse:
    try:
        _check_operator(simulator, request)
        segments = [s for s in path_after_prefix.split("/") if s]
        method = request.method.upper()
        match = _TABLE.match(method, segments)
        if match is None:
            return _error(404, f"no sandbox route {method} /{'/'.join(segments)}")
        return match.handler(simulator, SandboxCall(request, match.args))
    except SandboxError as error:
        return _error(error.status, error.message)


def _check_operator(simulator: MetaSimulator, request: HttpRequest) -> None:
    settings = simulator.settings
    if not settings.sandbox_enabled:
        raise SandboxError(404, "the sandbox is switched off on this server")
    expected = settings.sandbox_token or None  # an empty token is no token
    if expected is None:
        if settings.auth_mode == "strict":
            raise SandboxError(403, "the sandbox needs an operator token with --auth strict: start the server "
                               "with --sandbox-token (or WABALINK_SANDBOX_TOKEN)")
        return
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not same_secret(presented.strip().encode(), expected.encode()):
        raise SandboxError(401, "the sandbox needs the operator token: send Authorization: Bearer <sandbox token>")


def _error(status: int, message: str) -> HttpResponse:
    extra = [(b"www-authenticate", b'Bearer realm="wabalink sandbox"')] if status == 401 else None
    return json_response(status, {"error": {"message": message}}, extra)


__all__ = ["handle_sandbox", "SANDBOX_ROUTES"]
