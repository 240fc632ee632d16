"""Message templates: they live at Meta (the service stores no template content); each operation
checks the caller's linked WABA and proxies to the Graph API, with Meta's refusals as the
operation's errors naming the field."""

from __future__ import annotations

import json
from typing import Any

from wabalink.aws.exceptions import InvalidParametersException, ResourceNotFoundException
from wabalink.aws.shapes import (
    CreateWhatsAppMessageTemplateFromLibraryInput,
    CreateWhatsAppMessageTemplateFromLibraryOutput,
    CreateWhatsAppMessageTemplateInput,
    CreateWhatsAppMessageTemplateMediaInput,
    CreateWhatsAppMessageTemplateMediaOutput,
    CreateWhatsAppMessageTemplateOutput,
    DeleteWhatsAppMessageTemplateInput,
    DeleteWhatsAppMessageTemplateOutput,
    GetWhatsAppMessageTemplateInput,
    GetWhatsAppMessageTemplateOutput,
    ListWhatsAppMessageTemplatesInput,
    ListWhatsAppMessageTemplatesOutput,
    ListWhatsAppTemplateLibraryInput,
    ListWhatsAppTemplateLibraryOutput,
    TemplateSummary,
    UpdateWhatsAppMessageTemplateInput,
    UpdateWhatsAppMessageTemplateOutput,
)
from wabalink.meta.template_answers import TemplateSummary as MetaTemplate
from wabalink.service.operations import Operations, RequestContext, operation
from wabalink.service.template_support import linked_meta_waba, read_template_media, snake_case, template_errors

DEFAULT_PAGE_SIZE = 25
LIBRARY_FILTERS = {"searchKey": "search", "topic": "topic", "usecase": "usecase", "industry": "industry",
                   "language": "language"}


class Templates(Operations):

    @operation("CreateWhatsAppMessageTemplate")
    def create_whatsapp_message_template(self, ctx: RequestContext, params: CreateWhatsAppMessageTemplateInput
                                         ) -> CreateWhatsAppMessageTemplateOutput:
        definition = _json_blob(params["templateDefinition"], "templateDefinition", dict)
        _, meta_waba = linked_meta_waba(self.store, ctx, params["id"])
        with template_errors("templateDefinition"):
            created = self.graph.create_template(meta_waba, definition)
        return {"metaTemplateId": created.id, "templateStatus": created.status, "category": created.category}

    @operation("CreateWhatsAppMessageTemplateFromLibrary")
    def create_whatsapp_message_template_from_library(
            self, ctx: RequestContext, params: CreateWhatsAppMessageTemplateFromLibraryInput,
    ) -> CreateWhatsAppMessageTemplateFromLibraryOutput:
        library = params["metaLibraryTemplate"]
        _, meta_waba = linked_meta_waba(self.store, ctx, params["id"])
        body: dict[str, Any] = {"name": library["templateName"], "language": library["templateLanguage"],
                                "category": library["templateCategory"],
                                "library_template_name": library["libraryTemplateName"]}
        if library.get("libraryTemplateButtonInputs"):
            body["library_template_button_inputs"] = snake_case(library["libraryTemplateButtonInputs"])
        if library.get("libraryTemplateBodyInputs"):
            body["library_template_body_inputs"] = snake_case(library["libraryTemplateBodyInputs"])
        with template_errors("metaLibraryTemplate"):
            created = self.graph.create_template(meta_waba, body)
        return {"metaTemplateId": created.id, "templateStatus": created.status, "category": created.category}

    @operation("CreateWhatsAppMessageTemplateMedia")
    def create_whatsapp_message_template_media(
            self, ctx: RequestContext, params: CreateWhatsAppMessageTemplateMediaInput,
    ) -> CreateWhatsAppMessageTemplateMediaOutput:
        source = params.get("sourceS3File")
        if source is None:
            raise InvalidParametersException("sourceS3File is required: the S3 object holding the header media.")
        linked_meta_waba(self.store, ctx, params["id"])
        content, mime = read_template_media(source["bucketName"], source["key"])
        file_name = source["key"].rsplit("/", 1)[-1] or "media"
        with template_errors("sourceS3File"):
            handle = self.graph.upload_template_media(file_name, mime, content)
        return {"metaHeaderHandle": handle}

    @operation("GetWhatsAppMessageTemplate")
    def get_whatsapp_message_template(self, ctx: RequestContext, params: GetWhatsAppMessageTemplateInput
                                      ) -> GetWhatsAppMessageTemplateOutput:
        _, meta_waba = linked_meta_waba(self.store, ctx, params["id"])
        found = self._template(meta_waba, params)
        return {"template": json.dumps(found.node)}

    @operation("ListWhatsAppMessageTemplates")
    def list_whatsapp_message_templates(self, ctx: RequestContext, params: ListWhatsAppMessageTemplatesInput
                                        ) -> ListWhatsAppMessageTemplatesOutput:
        waba_hex, meta_waba = linked_meta_waba(self.store, ctx, params["id"])
        name, scope = "ListWhatsAppMessageTemplates", {"id": waba_hex}
        position = self.deps.pages.position(ctx, name, scope, params.get("nextToken"))
        with template_errors("id"):
            page, after = self.graph.list_templates(meta_waba, limit=params.get("maxResults") or DEFAULT_PAGE_SIZE,
                                                    after=str(position[0]) if position else None)
        result: ListWhatsAppMessageTemplatesOutput = {"templates": [_summary(t) for t in page]}
        if after is not None:
            result["nextToken"] = self.deps.pages.issue(ctx, name, scope, [after])
        return result

    @operation("UpdateWhatsAppMessageTemplate")
    def update_whatsapp_message_template(self, ctx: RequestContext, params: UpdateWhatsAppMessageTemplateInput
                                         ) -> UpdateWhatsAppMessageTemplateOutput:
        changes: dict[str, Any] = {}
        if "templateComponents" in params:
            changes["components"] = _json_blob(params["templateComponents"], "templateComponents", list)
        if "templateCategory" in params:
            changes["category"] = params["templateCategory"]
        if "parameterFormat" in params:
            changes["parameter_format"] = params["parameterFormat"]
        if "ctaUrlLinkTrackingOptedOut" in params:
            changes["cta_url_link_tracking_opted_out"] = params["ctaUrlLinkTrackingOptedOut"]
        if not changes:
            raise InvalidParametersException("Give at least one change: templateComponents, templateCategory, "
                                             "parameterFormat or ctaUrlLinkTrackingOptedOut.")
        _, meta_waba = linked_meta_waba(self.store, ctx, params["id"])
        found = self._template(meta_waba, params)
        with template_errors("templateComponents" if "components" in changes else "templateCategory"):
            self.graph.update_template(found.id, changes)
        return {}

    @operation("DeleteWhatsAppMessageTemplate")
    def delete_whatsapp_message_template(self, ctx: RequestContext, params: DeleteWhatsAppMessageTemplateInput
                                         ) -> DeleteWhatsAppMessageTemplateOutput:
        _, meta_waba = linked_meta_waba(self.store, ctx, params["id"])
        one_language = params.get("metaTemplateId") if not params.get("deleteAllLanguages") else None
        with template_errors("metaTemplateId" if one_language else "templateName"):
            self.graph.delete_template(meta_waba, params["templateName"], one_language)
        return {}

    @operation("ListWhatsAppTemplateLibrary")
    def list_whatsapp_template_library(self, ctx: RequestContext, params: ListWhatsAppTemplateLibraryInput
                                       ) -> ListWhatsAppTemplateLibraryOutput:
        filters = params.get("filters") or {}
        unknown = sorted(set(filters) - set(LIBRARY_FILTERS))
        if unknown:
            raise InvalidParametersException(f"filters.{unknown[0]} is not a library filter; use "
                                             f"{', '.join(LIBRARY_FILTERS)}.")
        waba_hex, _ = linked_meta_waba(self.store, ctx, params["id"])
        name, scope = "ListWhatsAppTemplateLibrary", {"id": waba_hex, "filters": dict(filters)}
        position = self.deps.pages.position(ctx, name, scope, params.get("nextToken"))
        graph_filters = {LIBRARY_FILTERS[key]: value for key, value in filters.items()}
        with template_errors("filters"):
            page, after = self.graph.list_template_library(
                graph_filters, limit=params.get("maxResults") or DEFAULT_PAGE_SIZE,
                after=str(position[0]) if position else None)
        result: ListWhatsAppTemplateLibraryOutput = {"metaLibraryTemplates": [_library(t) for t in page]}
        if after is not None:
            result["nextToken"] = self.deps.pages.issue(ctx, name, scope, [after])
        return result

    def _template(self, meta_waba: str, params: Any) -> MetaTemplate:
        """The WABA's template named by metaTemplateId, or by templateName and templateLanguageCode."""
        template_id, name, language = (params.get("metaTemplateId"), params.get("templateName"),
                                       params.get("templateLanguageCode"))
        if template_id is None and (name is None or language is None):
            raise InvalidParametersException("Give metaTemplateId, or templateName together with "
                                             "templateLanguageCode.")
        if template_id is not None:
            with template_errors("metaTemplateId"):
                found = self.graph.get_template(template_id)
            name, language = found.name, found.language
        with template_errors("templateName"):
            page, _ = self.graph.list_templates(meta_waba, limit=100, filters={"name": name, "language": language})
        match = next((t for t in page if t.name == name and t.language == language
                      and (template_id is None or t.id == template_id)), None)
        if match is None:
            what = f"metaTemplateId {template_id}" if template_id else f"templateName {name} ({language})"
            raise ResourceNotFoundException(f"{what}: no such message template in this WhatsApp Business Account.")
        return match


def _json_blob(blob: bytes, field: str, kind: type) -> Any:
    try:
        value = json.loads(blob)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise InvalidParametersException(f"{field} must be JSON (Meta's template format).") from None
    if not isinstance(value, kind):
        raise InvalidParametersException(f"{field} must be a JSON {'object' if kind is dict else 'list'}.")
    return value


def _summary(template: MetaTemplate) -> TemplateSummary:
    summary: TemplateSummary = {"templateName": template.name, "metaTemplateId": template.id,
                                "templateStatus": template.status, "templateLanguage": template.language,
                                "templateCategory": template.category}
    if template.quality_score:
        summary["templateQualityScore"] = template.quality_score
    if template.correct_category:
        summary["correctCategory"] = template.correct_category
    return summary


def _library(item: dict[str, Any]) -> Any:
    rendered: dict[str, Any] = {"templateName": item["name"], "templateLanguage": item["language"],
                                "templateCategory": item["category"], "templateId": item["id"],
                                "templateIndustry": item["industry"], "templateBodyExampleParams": item["body_params"]}
    for key, member in (("topic", "templateTopic"), ("usecase", "templateUseCase"), ("header", "templateHeader"),
                        ("body", "templateBody")):
        if key in item:
            rendered[member] = item[key]
    buttons = [{_camel(k): v for k, v in button.items()} for button in item["buttons"]]
    if buttons:
        rendered["templateButtons"] = buttons
    return rendered


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
