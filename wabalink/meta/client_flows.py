"""GraphClient's calls for Flows, Conversions API datasets, business public keys and calling
(a mixin of `client.GraphClient`). Every answer is checked like the rest of the client's: a
missing id, a field of the wrong type or an over-long string is a `GraphProtocolError`."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from wabalink.meta.graph_answers import CONTROL_CHARACTERS, META_ID, GraphProtocolError, expect_success, parse_answer

FLOW_FIELDS = ("id", "name", "status", "categories", "validation_errors", "json_version", "data_api_version",
               "endpoint_uri", "whatsapp_business_account", "application", "health_status")
SHORT = 64
VALIDATION_ERROR_MAX_CHARS = 1024 * 1024  # an AWS validationErrors entry holds 1 MiB
CALL_ID_MAX_LENGTH = 200
Row = dict[str, Any]


@dataclass(frozen=True)
class MetaFlowSummary:
    id: str
    name: str
    status: str
    categories: list[str]
    validation_errors: list[str]  # each a Meta error object, serialized


@dataclass(frozen=True)
class MetaFlow:
    summary: MetaFlowSummary
    waba_id: str | None
    node: Row  # the checked answer, for the optional fields


@dataclass(frozen=True)
class MetaFlowAsset:
    name: str
    asset_type: str
    download_url: str


class FlowsGraphCalls:
    """Mixed into GraphClient: uses its `_call` and `_transport`, and the app token."""

    _app_token: str

    # --- flows ------------------------------------------------------------------------------

    def create_flow(self, waba_id: str, body: Row) -> tuple[str, list[str]]:
        answer = self._call("POST", f"/{_segment(waba_id)}/flows", token=self._app_token, json_body=body)
        return _id(answer.get("id"), "flow id"), _validation_errors(answer)

    def get_flow(self, flow_id: str, *, preview: bool | None = None) -> MetaFlow:
        fields = ",".join(FLOW_FIELDS)
        if preview is not None:
            fields += f",preview.invalidate({str(preview).lower()})"
        answer = self._call("GET", f"/{_segment(flow_id)}", token=self._app_token, query={"fields": fields})
        summary = _flow_summary(answer)
        if summary.id != flow_id:
            raise GraphProtocolError("Graph API answered another flow than the one asked for")
        waba = answer.get("whatsapp_business_account")
        waba_id = _id(waba.get("id"), "flow WABA id") if isinstance(waba, dict) else None
        for name in ("preview", "application", "health_status"):
            if answer.get(name) is not None and not isinstance(answer[name], dict):
                raise GraphProtocolError(f"Graph API answered a malformed flow {name}")
        if preview is not None:
            _preview(answer)
        return MetaFlow(summary, waba_id, answer)

    def list_flows(self, waba_id: str, limit: int, after: str | None) -> tuple[list[MetaFlowSummary], str | None]:
        query = {"limit": str(limit), **({"after": after} if after else {})}
        answer = self._call("GET", f"/{_segment(waba_id)}/flows", token=self._app_token, query=query)
        data = answer.get("data")
        if not isinstance(data, list):
            raise GraphProtocolError("Graph API answered the flows edge without a data list")
        paging: Row = answer["paging"] if isinstance(answer.get("paging"), dict) else {}
        cursors: Row = paging["cursors"] if isinstance(paging.get("cursors"), dict) else {}
        next_after = _text(cursors.get("after"), "flows cursor", 1000) if paging.get("next") else None
        return [_flow_summary(item) for item in data], next_after

    def update_flow(self, flow_id: str, body: Row) -> None:
        expect_success(self._call("POST", f"/{_segment(flow_id)}", token=self._app_token, json_body=body))

    def upload_flow_json(self, flow_id: str, flow_json: bytes) -> list[str]:
        boundary = "wabalink" + secrets.token_hex(12)
        parts = [_form_part(boundary, "name", b"flow.json"), _form_part(boundary, "asset_type", b"FLOW_JSON"),
                 _form_part(boundary, "file", flow_json, filename="flow.json")]
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        path = f"/{_segment(flow_id)}/assets"
        status, data = self._transport.request("POST", path, body, {  # type: ignore[attr-defined]
            "Authorization": f"Bearer {self._app_token}", "Accept": "application/json",
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        answer = parse_answer(status, data, "POST", path)
        expect_success(answer)
        return _validation_errors(answer)

    def list_flow_assets(self, flow_id: str) -> list[MetaFlowAsset]:
        answer = self._call("GET", f"/{_segment(flow_id)}/assets", token=self._app_token)
        data = answer.get("data")
        if not isinstance(data, list):
            raise GraphProtocolError("Graph API answered the assets edge without a data list")
        return [MetaFlowAsset(_text(_obj(item).get("name"), "asset name", 100),
                              _text(_obj(item).get("asset_type"), "asset type", 50),
                              _text(_obj(item).get("download_url"), "asset download_url", 2048)) for item in data]

    def flow_action(self, flow_id: str, action: str) -> None:
        """`publish` or `deprecate`."""
        expect_success(self._call("POST", f"/{_segment(flow_id)}/{action}", token=self._app_token, json_body={}))

    def delete_flow(self, flow_id: str) -> None:
        expect_success(self._call("DELETE", f"/{_segment(flow_id)}", token=self._app_token))

    # --- datasets ---------------------------------------------------------------------------

    def create_dataset(self, waba_id: str) -> str:
        answer = self._call("POST", f"/{_segment(waba_id)}/dataset", token=self._app_token, json_body={})
        dataset_id = _id(answer.get("id"), "dataset id")
        if not 10 <= len(dataset_id) <= 20:
            raise GraphProtocolError("Graph API answered a dataset id that is not 10 to 20 digits")
        return dataset_id

    def waba_dataset_id(self, waba_id: str) -> str | None:
        answer = self._call("GET", f"/{_segment(waba_id)}/dataset", token=self._app_token)
        data = answer.get("data")
        if not isinstance(data, list):
            raise GraphProtocolError("Graph API answered the dataset edge without a data list")
        return _id(_obj(data[0]).get("id"), "dataset id") if data else None

    def send_conversion_events(self, dataset_id: str, events: Any) -> str:
        answer = self._call("POST", f"/{_segment(dataset_id)}/events", token=self._app_token,
                            json_body={"data": events})
        if not isinstance(answer.get("events_received"), int):
            raise GraphProtocolError("Graph API answered conversion events without events_received")
        return _text(answer.get("fbtrace_id"), "conversion fbtrace_id", SHORT)

    # --- business public key ------------------------------------------------------------------

    def put_business_public_key(self, phone_id: str, pem: str) -> None:
        expect_success(self._call("POST", f"/{_segment(phone_id)}/whatsapp_business_encryption",
                                  token=self._app_token, form_body=_form({"business_public_key": pem})))

    def get_business_public_key(self, phone_id: str) -> tuple[str, str] | None:
        answer = self._call("GET", f"/{_segment(phone_id)}/whatsapp_business_encryption", token=self._app_token)
        data = answer.get("data")
        if not isinstance(data, list):
            raise GraphProtocolError("Graph API answered whatsapp_business_encryption without a data list")
        if not data:
            return None
        item = _obj(data[0])
        return (_text(item.get("business_public_key"), "business_public_key", 8192, multiline=True),
                _text(item.get("business_public_key_signature_status"), "signature status", 20))

    # --- calling ----------------------------------------------------------------------------

    def get_call_permission(self, phone_id: str, user: Row) -> Row:
        answer = self._call("GET", f"/{_segment(phone_id)}/call_permissions", token=self._app_token, query=user)
        permission = _obj(answer.get("permission"))
        _text(permission.get("status"), "permission status", 50)
        if permission.get("expiration_time") is not None and not isinstance(permission["expiration_time"], int):
            raise GraphProtocolError("Graph API answered a malformed permission expiration_time")
        actions = answer.get("actions")
        if not isinstance(actions, list):
            raise GraphProtocolError("Graph API answered call permissions without actions")
        for action in actions:
            action = _obj(action)
            _text(action.get("action_name"), "action_name", 50)
            if not isinstance(action.get("can_perform_action"), bool) or not isinstance(action.get("limits"), list):
                raise GraphProtocolError("Graph API answered a malformed call permission action")
            for limit in action["limits"]:
                limit = _obj(limit)
                _text(limit.get("time_period"), "limit time_period", 20)
                if not all(isinstance(limit.get(k), int) for k in ("max_allowed", "current_usage")):
                    raise GraphProtocolError("Graph API answered a malformed call permission limit")
        return answer

    def send_call_event(self, phone_id: str, version: str, event: Row) -> str | None:
        """POST /{version}/{phone-number-id}/calls (the caller's Graph version, as messages do): the
        call id Meta assigned (connect), or None for actions on an existing call."""
        path = f"/{version}/{_segment(phone_id)}/calls"
        status, data = self._unversioned.request("POST", path, json.dumps(event).encode(), {  # type: ignore[attr-defined]
            "Authorization": f"Bearer {self._app_token}", "Accept": "application/json",
            "Content-Type": "application/json"})
        answer = parse_answer(status, data, "POST", "/calls")
        calls = answer.get("calls")
        if calls is None:
            expect_success(answer)
            return None
        if not isinstance(calls, list) or not calls:
            raise GraphProtocolError("Graph API answered a call without its id")
        return _text(_obj(calls[0]).get("id"), "call id", CALL_ID_MAX_LENGTH)

    def _call(self, method: str, path: str, *, token: str, query: dict[str, str] | None = None,
              json_body: Row | None = None, form_body: str | None = None) -> Row:
        raise NotImplementedError  # GraphClient's


# --- answer checks -----------------------------------------------------------------------------------

def _obj(value: Any) -> Row:
    if not isinstance(value, dict):
        raise GraphProtocolError("Graph API answered a malformed object")
    return value


def _id(value: Any, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not META_ID.fullmatch(value):
        raise GraphProtocolError(f"Graph API answered a missing or malformed {what}")
    return value


def _text(value: Any, what: str, max_length: int, *, multiline: bool = False) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise GraphProtocolError(f"Graph API answered a missing or malformed {what}")
    checked = value.replace("\n", "").replace("\r", "") if multiline else value
    if CONTROL_CHARACTERS.search(checked):
        raise GraphProtocolError(f"Graph API answered a {what} with control characters")
    return value


def _validation_errors(answer: Row) -> list[str]:
    errors = answer.get("validation_errors")
    if errors is None:
        return []
    if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
        raise GraphProtocolError("Graph API answered malformed validation_errors")
    serialized = [json.dumps(e, separators=(",", ":")) for e in errors]
    if any(len(e) > VALIDATION_ERROR_MAX_CHARS for e in serialized):
        raise GraphProtocolError("Graph API answered a validation error over 1 MiB")
    return serialized


def _flow_summary(item: Any) -> MetaFlowSummary:
    item = _obj(item)
    categories = item.get("categories")
    if not isinstance(categories, list) or not all(isinstance(c, str) and len(c) <= SHORT for c in categories):
        raise GraphProtocolError("Graph API answered a flow with malformed categories")
    return MetaFlowSummary(_id(item.get("id"), "flow id"), _text(item.get("name"), "flow name", 200),
                           _text(item.get("status"), "flow status", 20), categories, _validation_errors(item))


def _preview(answer: Row) -> None:
    preview = _obj(answer.get("preview"))
    _text(preview.get("preview_url"), "preview_url", 2048)
    _text(preview.get("expires_at"), "preview expires_at", 50)


def _form_part(boundary: str, name: str, content: bytes, *, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    content_type = "Content-Type: application/json\r\n" if filename else ""
    return f"--{boundary}\r\nContent-Disposition: {disposition}\r\n{content_type}\r\n".encode() + content + b"\r\n"


def _form(values: Row) -> str:
    return urlencode(values)


def _segment(object_id: str) -> str:
    # Ids come from callers' input: never let one add path segments or a query.
    return quote(str(object_id), safe="")
