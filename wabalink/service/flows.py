"""WhatsApp Flows: create (with clone and publish), read, list, update metadata and assets,
publish, deprecate, delete, preview and assets. Flows live at Meta; the service keeps nothing of
them and checks, on every call, that the flow belongs to the caller's linked WABA."""

from __future__ import annotations

from typing import Any

from wabalink.aws.exceptions import InvalidParametersException, ResourceNotFoundException
from wabalink.aws.shapes import (
    CreateWhatsAppFlowInput,
    CreateWhatsAppFlowOutput,
    DeleteWhatsAppFlowInput,
    DeleteWhatsAppFlowOutput,
    DeprecateWhatsAppFlowInput,
    DeprecateWhatsAppFlowOutput,
    GetWhatsAppFlowInput,
    GetWhatsAppFlowOutput,
    GetWhatsAppFlowPreviewInput,
    GetWhatsAppFlowPreviewOutput,
    ListWhatsAppFlowAssetsInput,
    ListWhatsAppFlowAssetsOutput,
    ListWhatsAppFlowsInput,
    ListWhatsAppFlowsOutput,
    MetaFlowPreviewInfo,
    PublishWhatsAppFlowInput,
    PublishWhatsAppFlowOutput,
    UpdateWhatsAppFlowAssetsInput,
    UpdateWhatsAppFlowAssetsOutput,
    UpdateWhatsAppFlowInput,
    UpdateWhatsAppFlowOutput,
)
from wabalink.meta.client_flows import MetaFlow
from wabalink.service.meta_linked import complete_waba, meta_refusals
from wabalink.service.operations import Operations, RequestContext, operation

DEFAULT_PAGE_SIZE = 25
Row = dict[str, Any]


def _flow_json_text(value: bytes, field: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParametersException(f"{field} must be UTF-8 encoded JSON text.") from None


def _endpoint(value: str | None) -> str | None:
    if value is not None and not value.startswith("https://"):
        raise InvalidParametersException(f"endpointUri {value} must be an https:// URL: Meta calls the data "
                                         "exchange endpoint over HTTPS only.")
    return value


def _preview(node: Row) -> MetaFlowPreviewInfo:
    preview = node["preview"]
    return {"previewUrl": preview["preview_url"], "expiresAt": preview["expires_at"]}


def render_flow(flow: MetaFlow) -> GetWhatsAppFlowOutput:
    node, summary = flow.node, flow.summary
    output: GetWhatsAppFlowOutput = {"flowId": summary.id, "flowName": summary.name, "flowStatus": summary.status,
                                     "validationErrors": summary.validation_errors}
    if summary.categories:
        output["categories"] = summary.categories
    for member, key in (("jsonVersion", "json_version"), ("dataApiVersion", "data_api_version"),
                        ("endpointUri", "endpoint_uri")):
        if isinstance(node.get(key), str):
            output[member] = node[key]  # type: ignore[literal-required]
    if isinstance(node.get("preview"), dict):
        output["preview"] = _preview(node)
    waba = node.get("whatsapp_business_account")
    if isinstance(waba, dict):
        account: Any = {"id": str(waba["id"]), "name": str(waba.get("name", ""))}
        for member, key in (("currency", "currency"), ("timezoneId", "timezone_id"),
                            ("messageTemplateNamespace", "message_template_namespace")):
            if waba.get(key) is not None:
                account[member] = str(waba[key])
        output["whatsAppBusinessAccount"] = account
    app = node.get("application")
    if isinstance(app, dict) and app.get("id") and app.get("name"):
        application: Any = {"id": str(app["id"]), "name": str(app["name"])}
        if app.get("link"):
            application["link"] = str(app["link"])
        output["application"] = application
    health = node.get("health_status")
    if isinstance(health, dict) and isinstance(health.get("can_send_message"), str):
        output["healthStatus"] = {"canSendMessage": health["can_send_message"], "entities": [
            {"entityType": str(e.get("entity_type")), "id": str(e.get("id")),
             "canSendMessage": str(e.get("can_send_message"))}
            for e in health.get("entities") or [] if isinstance(e, dict)]}
    return output


class Flows(Operations):

    def _waba(self, ctx: RequestContext, value: str) -> Row:
        with self.store.reader() as conn:
            return complete_waba(conn, ctx, value, "id")

    def _flow(self, ctx: RequestContext, params: Any, *, preview: bool | None = None) -> tuple[Row, MetaFlow]:
        """The caller's WABA and the flow `flowId`, which must be one of that WABA's."""
        waba = self._waba(ctx, params["id"])
        flow_id = params["flowId"]
        with meta_refusals("flowId", not_found=f"flowId: Flow {flow_id}"):
            flow = self.graph.get_flow(flow_id, preview=preview)
        if flow.waba_id != waba["meta_waba_id"]:
            raise ResourceNotFoundException(f"flowId: Flow {flow_id} was not found in linked WhatsApp Business "
                                            f"Account {params['id']}.")
        return waba, flow

    @operation("CreateWhatsAppFlow")
    def create_whatsapp_flow(self, ctx: RequestContext, params: CreateWhatsAppFlowInput) -> CreateWhatsAppFlowOutput:
        waba = self._waba(ctx, params["id"])
        body: Row = {"name": params["flowName"], "categories": params["categories"],
                     "publish": bool(params.get("publish"))}
        if "flowJson" in params:
            body["flow_json"] = _flow_json_text(params["flowJson"], "flowJson")
        if _endpoint(params.get("endpointUri")):
            body["endpoint_uri"] = params["endpointUri"]
        clone = params.get("cloneFlowId")
        if clone is not None:
            with meta_refusals("cloneFlowId", not_found=f"cloneFlowId: Flow {clone}"):
                source = self.graph.get_flow(clone)
            if source.waba_id != waba["meta_waba_id"]:
                raise InvalidParametersException(f"cloneFlowId: Flow {clone} is not a Flow of linked WhatsApp "
                                                 f"Business Account {params['id']}; only its own Flows can be cloned.")
            body["clone_flow_id"] = clone
        with meta_refusals("flowName"):
            flow_id, errors = self.graph.create_flow(waba["meta_waba_id"], body)
        return {"flowId": flow_id, "validationErrors": errors}

    @operation("GetWhatsAppFlow")
    def get_whatsapp_flow(self, ctx: RequestContext, params: GetWhatsAppFlowInput) -> GetWhatsAppFlowOutput:
        _, flow = self._flow(ctx, params, preview=False)
        return render_flow(flow)

    @operation("ListWhatsAppFlows")
    def list_whatsapp_flows(self, ctx: RequestContext, params: ListWhatsAppFlowsInput) -> ListWhatsAppFlowsOutput:
        waba = self._waba(ctx, params["id"])
        filters = {"id": waba["id"]}
        position = self.deps.pages.position(ctx, "ListWhatsAppFlows", filters, params.get("nextToken"))
        limit = params.get("maxResults") or DEFAULT_PAGE_SIZE
        with meta_refusals("id", not_found=f"id: WhatsApp Business Account {params['id']}"):
            flows, after = self.graph.list_flows(waba["meta_waba_id"], limit, str(position[0]) if position else None)
        output: ListWhatsAppFlowsOutput = {"flows": [
            {"flowId": f.id, "flowName": f.name, "flowStatus": f.status, "flowCategories": f.categories,
             "validationErrors": f.validation_errors} for f in flows]}
        if after is not None:
            output["nextToken"] = self.deps.pages.issue(ctx, "ListWhatsAppFlows", filters, [after])
        return output

    @operation("UpdateWhatsAppFlow")
    def update_whatsapp_flow(self, ctx: RequestContext, params: UpdateWhatsAppFlowInput) -> UpdateWhatsAppFlowOutput:
        body: Row = {key: params[member] for member, key in (  # type: ignore[literal-required]
            ("flowName", "name"), ("categories", "categories"), ("endpointUri", "endpoint_uri"),
            ("metaAppId", "application_id")) if member in params}
        if not body:
            raise InvalidParametersException("Give at least one of flowName, categories, endpointUri or metaAppId "
                                             "to update; the Flow JSON is updated by UpdateWhatsAppFlowAssets.")
        _endpoint(params.get("endpointUri"))
        self._flow(ctx, params)
        field = "metaAppId" if list(body) == ["application_id"] else "flowId"
        with meta_refusals(field, not_found=f"flowId: Flow {params['flowId']}"):
            self.graph.update_flow(params["flowId"], body)
        return {}

    @operation("UpdateWhatsAppFlowAssets")
    def update_whatsapp_flow_assets(self, ctx: RequestContext, params: UpdateWhatsAppFlowAssetsInput
                                    ) -> UpdateWhatsAppFlowAssetsOutput:
        text = _flow_json_text(params["flowJson"], "flowJson")
        self._flow(ctx, params)
        with meta_refusals("flowId", not_found=f"flowId: Flow {params['flowId']}"):
            errors = self.graph.upload_flow_json(params["flowId"], text.encode())
        return {"validationErrors": errors}

    @operation("PublishWhatsAppFlow")
    def publish_whatsapp_flow(self, ctx: RequestContext, params: PublishWhatsAppFlowInput
                              ) -> PublishWhatsAppFlowOutput:
        return self._life_cycle(ctx, params, "publish")

    @operation("DeprecateWhatsAppFlow")
    def deprecate_whatsapp_flow(self, ctx: RequestContext, params: DeprecateWhatsAppFlowInput
                                ) -> DeprecateWhatsAppFlowOutput:
        return self._life_cycle(ctx, params, "deprecate")

    @operation("DeleteWhatsAppFlow")
    def delete_whatsapp_flow(self, ctx: RequestContext, params: DeleteWhatsAppFlowInput) -> DeleteWhatsAppFlowOutput:
        return self._life_cycle(ctx, params, "delete")

    def _life_cycle(self, ctx: RequestContext, params: Any, action: str) -> Any:
        self._flow(ctx, params)
        with meta_refusals("flowId", not_found=f"flowId: Flow {params['flowId']}"):
            if action == "delete":
                self.graph.delete_flow(params["flowId"])
            else:
                self.graph.flow_action(params["flowId"], action)
        return {}

    @operation("GetWhatsAppFlowPreview")
    def get_whatsapp_flow_preview(self, ctx: RequestContext, params: GetWhatsAppFlowPreviewInput
                                  ) -> GetWhatsAppFlowPreviewOutput:
        _, flow = self._flow(ctx, params, preview=bool(params.get("invalidate")))
        return {"flowId": flow.summary.id, "preview": _preview(flow.node)}

    @operation("ListWhatsAppFlowAssets")
    def list_whatsapp_flow_assets(self, ctx: RequestContext, params: ListWhatsAppFlowAssetsInput
                                  ) -> ListWhatsAppFlowAssetsOutput:
        waba, _ = self._flow(ctx, params)
        filters = {"id": waba["id"], "flowId": params["flowId"]}
        position = self.deps.pages.position(ctx, "ListWhatsAppFlowAssets", filters, params.get("nextToken"))
        offset = int(position[0]) if position else 0
        limit = params.get("maxResults") or DEFAULT_PAGE_SIZE
        with meta_refusals("flowId", not_found=f"flowId: Flow {params['flowId']}"):
            assets = self.graph.list_flow_assets(params["flowId"])
        page = assets[offset:offset + limit]
        output: ListWhatsAppFlowAssetsOutput = {"flowAssets": [
            {"name": a.name, "assetType": a.asset_type, "downloadUrl": a.download_url} for a in page]}
        if offset + limit < len(assets):
            output["nextToken"] = self.deps.pages.issue(ctx, "ListWhatsAppFlowAssets", filters, [offset + limit])
        return output
