"""Meta's rules for message templates: what `POST /{waba_id}/message_templates` accepts (name,
language, category, components with their limits and examples), and how many parameters a send
of a template must give each component. Refusals are Graph errors worded as Meta words them
(`(#100) Invalid parameter`, with the detail in `error_user_msg`)."""

from __future__ import annotations

import re
from typing import Any

from wabalink.meta.errors import GraphError

NAME = re.compile(r"[a-z0-9_]{1,512}")
NAMED_PARAMETER = re.compile(r"[a-z][a-z0-9_]{0,49}")
VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
PARAMETER_FORMATS = ("POSITIONAL", "NAMED")
# Meta's supported template languages (WhatsApp Business Platform, "Supported languages").
LANGUAGES = frozenset((
    "af sq ar ar_EG ar_AE ar_LB ar_MA ar_QA az be_BY bn bn_IN bg ca zh_CN zh_HK zh_TW hr cs da prs_AF nl nl_BE en "
    "en_GB en_US en_AE en_AU en_CA en_GH en_IE en_IN en_JM en_MY en_NZ en_QA en_SG en_UG en_ZA et fil fi fr "
    "fr_BE fr_CA fr_CH fr_CI fr_MA ka de de_AT de_CH el gu ha he hi hu id ga it ja kn kk rw_RW ko ky_KG lo lv "
    "lt mk ms ml mr nb ps_AF fa pl pt_BR pt_PT pa ro ru sr si_LK sk sl es es_AR es_CL es_CO es_CR es_DO es_EC "
    "es_HN es_MX es_PA es_PE es_ES es_UY sw sv ta te th tr uk ur uz vi zu").split())
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP", "FLOW")
OTP_TYPES = ("COPY_CODE", "ONE_TAP", "ZERO_TAP")
BODY_MAX, HEADER_TEXT_MAX, FOOTER_MAX, BUTTON_TEXT_MAX = 1024, 60, 60, 25
URL_MAX, PHONE_MAX, COUPON_MAX, MAX_BUTTONS = 2000, 20, 15, 10
MAX_PER_BUTTON_TYPE = {"URL": 2, "PHONE_NUMBER": 1, "COPY_CODE": 1, "OTP": 1, "FLOW": 1}
AUTH_BODY = "*{{1}}* is your verification code."
AUTH_SECURITY = " For your security, do not share this code."
# Buttons whose send parameters are optional (a quick reply's payload, a flow's action data).
OPTIONAL_BUTTON_PARAMETERS = ("quick_reply", "flow", "voice_call", "catalog")
SUBCODE_INVALID = 2388040  # "Invalid parameter" on template fields
SUBCODE_DUPLICATE = 2388024  # "Content in this language already exists"


class TemplateError(GraphError):
    """Meta's answer to a template it refuses: the title and user message name what is wrong."""

    def __init__(self, detail: str, *, subcode: int = SUBCODE_INVALID, title: str = "Invalid parameter") -> None:
        super().__init__(400, f"Invalid parameter: {detail}", "OAuthException", 100, subcode)
        self.title, self.detail = title, detail

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["error"].update({"is_transient": False, "error_user_title": self.title, "error_user_msg": self.detail})
        return body


def duplicate_error(name: str, language: str) -> TemplateError:
    return TemplateError(f"There is already {language} content for this template ({name}). You can create a "
                         "new template and try again.", subcode=SUBCODE_DUPLICATE,
                         title="Content in this language already exists")


# --- definitions ----------------------------------------------------------------------------------

def check_identity(name: Any, language: Any, category: Any) -> tuple[str, str, str]:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise TemplateError("name must be 1 to 512 characters: lowercase letters, digits and underscores only.")
    if not isinstance(language, str) or language not in LANGUAGES:
        raise TemplateError(f"language {str(language)[:20]!r} is not a supported template language code "
                            "(for example en_US, en, es, pt_BR).")
    return name, language, check_category(category)


def check_category(category: Any) -> str:
    if not isinstance(category, str) or category.upper() not in CATEGORIES:
        raise TemplateError("category must be one of MARKETING, UTILITY, AUTHENTICATION.")
    return category.upper()


def check_parameter_format(value: Any) -> str:
    if value is None:
        return "POSITIONAL"
    if not isinstance(value, str) or value.upper() not in PARAMETER_FORMATS:
        raise TemplateError("parameter_format must be POSITIONAL or NAMED.")
    return value.upper()


def check_components(components: Any, category: str, parameter_format: str,
                     known_handle: Any = None) -> list[dict[str, Any]]:
    """The components as stored (types upper-case; authentication bodies filled in)."""
    if not isinstance(components, list) or not components:
        raise TemplateError("components must be a non-empty list.")
    seen: set[str] = set()
    checked: list[dict[str, Any]] = []
    for index, component in enumerate(components):
        if not isinstance(component, dict) or not isinstance(component.get("type"), str):
            raise TemplateError(f"components[{index}] must be an object with a type.")
        kind = component["type"].upper()
        if kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS"):
            raise TemplateError(f"components[{index}].type must be HEADER, BODY, FOOTER or BUTTONS.")
        if kind in seen:
            raise TemplateError(f"a template has at most one {kind} component.")
        seen.add(kind)
        component = {**component, "type": kind}
        checker = {"HEADER": _check_header, "BODY": _check_body, "FOOTER": _check_footer,
                   "BUTTONS": _check_buttons}[kind]
        checked.append(checker(component, category, parameter_format, known_handle))
    if "BODY" not in seen:
        raise TemplateError("a template needs a BODY component.")
    has_otp = any(b.get("type") == "OTP" for c in checked if c["type"] == "BUTTONS" for b in c["buttons"])
    if category == "AUTHENTICATION" and not has_otp:
        raise TemplateError("AUTHENTICATION templates need a BUTTONS component with one OTP button.")
    if category != "AUTHENTICATION" and has_otp:
        raise TemplateError("OTP buttons are only allowed in AUTHENTICATION templates.")
    return checked


def _text(component: dict[str, Any], where: str, limit: int) -> str:
    text = component.get("text")
    if not isinstance(text, str) or not text.strip():
        raise TemplateError(f"{where}.text is required.")
    if len(text) > limit:
        raise TemplateError(f"{where}.text is {len(text)} characters; at most {limit} are allowed.")
    return text


def variables_of(text: str, parameter_format: str, where: str) -> list[str]:
    """The variables of a text, checked: positional ones numbered 1..n in order of first use."""
    found: list[str] = []
    for raw in VARIABLE.findall(text):
        if raw not in found:
            found.append(raw)
    if parameter_format == "NAMED":
        for name in found:
            if not NAMED_PARAMETER.fullmatch(name):
                raise TemplateError(f"{where}: named parameter {{{{{name}}}}} must be lowercase letters, digits "
                                    "and underscores, starting with a letter.")
        return found
    if any(not name.isdigit() for name in found) or [int(n) for n in found] != list(range(1, len(found) + 1)):
        raise TemplateError(f"{where}: variables must be {{{{1}}}}, {{{{2}}}}, ... numbered in sequence "
                            f"without gaps; found {', '.join('{{' + n + '}}' for n in found)}.")
    return found


def _examples(component: dict[str, Any], key: str, where: str) -> Any:
    example = component.get("example")
    if not isinstance(example, dict) or key not in example:
        raise TemplateError(f"{where}.example.{key} is required when the text has variables (sample values "
                            "Meta reviews).")
    return example[key]


def _check_header(component: dict[str, Any], _category: str, parameter_format: str,
                  known_handle: Any) -> dict[str, Any]:
    fmt = component.get("format")
    if not isinstance(fmt, str) or fmt.upper() not in HEADER_FORMATS:
        raise TemplateError("HEADER.format must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION.")
    fmt = component["format"] = fmt.upper()
    if fmt == "TEXT":
        text = _text(component, "HEADER", HEADER_TEXT_MAX)
        names = variables_of(text, parameter_format, "HEADER.text")
        if len(names) > 1:
            raise TemplateError("HEADER.text may have at most one variable.")
        if names:
            key = "header_text_named_params" if parameter_format == "NAMED" else "header_text"
            values = _examples(component, key, "HEADER")
            if not isinstance(values, list) or len(values) != 1:
                raise TemplateError(f"HEADER.example.{key} must hold one sample value.")
    elif fmt in ("IMAGE", "VIDEO", "DOCUMENT"):
        handles = _examples(component, "header_handle", "HEADER")
        if not isinstance(handles, list) or len(handles) != 1 or not isinstance(handles[0], str):
            raise TemplateError("HEADER.example.header_handle must hold one media handle from the resumable "
                                "upload API.")
        if known_handle is not None and not known_handle(handles[0]):
            raise TemplateError("HEADER.example.header_handle is not a handle the resumable upload API issued.")
    return component


def _check_body(component: dict[str, Any], category: str, parameter_format: str, _known: Any) -> dict[str, Any]:
    if category == "AUTHENTICATION":
        # Meta writes authentication bodies itself: the code, optionally a security recommendation.
        text = AUTH_BODY + (AUTH_SECURITY if component.get("add_security_recommendation") else "")
        return {**component, "text": text}
    text = _text(component, "BODY", BODY_MAX)
    names = variables_of(text, parameter_format, "BODY.text")
    if not names:
        return component
    if parameter_format == "NAMED":
        samples = _examples(component, "body_text_named_params", "BODY")
        given = {s.get("param_name") for s in samples if isinstance(s, dict)} if isinstance(samples, list) else set()
        missing = [n for n in names if n not in given]
        if missing:
            raise TemplateError(f"BODY.example.body_text_named_params lacks samples for {', '.join(missing)}.")
        return component
    samples = _examples(component, "body_text", "BODY")
    if (not isinstance(samples, list) or not samples or not isinstance(samples[0], list)
            or len(samples[0]) != len(names)):
        raise TemplateError(f"BODY.example.body_text must be a list holding one list of {len(names)} sample "
                            f"values (one per variable).")
    return component


def _check_footer(component: dict[str, Any], category: str, _fmt: str, _known: Any) -> dict[str, Any]:
    if category == "AUTHENTICATION" and "code_expiration_minutes" in component:
        minutes = component["code_expiration_minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 90:
            raise TemplateError("FOOTER.code_expiration_minutes must be an integer from 1 to 90.")
        return {**component, "text": f"This code expires in {minutes} minutes."}
    text = _text(component, "FOOTER", FOOTER_MAX)
    if VARIABLE.search(text):
        raise TemplateError("FOOTER.text cannot have variables.")
    return component


def _check_buttons(component: dict[str, Any], category: str, _fmt: str, _known: Any) -> dict[str, Any]:
    buttons = component.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        raise TemplateError(f"BUTTONS.buttons must be a list of 1 to {MAX_BUTTONS} buttons.")
    counts: dict[str, int] = {}
    checked = []
    for index, button in enumerate(buttons):
        where = f"BUTTONS.buttons[{index}]"
        if not isinstance(button, dict) or not isinstance(button.get("type"), str) \
                or button["type"].upper() not in BUTTON_TYPES:
            raise TemplateError(f"{where}.type must be one of {', '.join(BUTTON_TYPES)}.")
        kind = button["type"].upper()
        button = {**button, "type": kind}
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] > MAX_PER_BUTTON_TYPE.get(kind, MAX_BUTTONS):
            raise TemplateError(f"a template has at most {MAX_PER_BUTTON_TYPE[kind]} {kind} button(s).")
        _check_button(button, where)
        checked.append(button)
    return {**component, "buttons": checked}


def _check_button(button: dict[str, Any], where: str) -> None:
    kind = button["type"]
    if kind == "OTP":
        if button.get("otp_type") not in OTP_TYPES:
            raise TemplateError(f"{where}.otp_type must be one of {', '.join(OTP_TYPES)}.")
        if kind == "OTP" and button.get("otp_type") != "COPY_CODE" and not button.get("supported_apps") \
                and not button.get("package_name"):
            raise TemplateError(f"{where}: ONE_TAP and ZERO_TAP buttons need supported_apps (package_name and "
                                "signature_hash).")
        button.setdefault("text", "Copy code")
    if kind == "COPY_CODE":
        button.setdefault("text", "Copy offer code")  # Meta's fixed label
    if not isinstance(button.get("text"), str) or not button["text"] or len(button["text"]) > BUTTON_TEXT_MAX:
        raise TemplateError(f"{where}.text is required, at most {BUTTON_TEXT_MAX} characters.")
    if kind == "URL":
        url = button.get("url")
        if not isinstance(url, str) or not re.match(r"https?://", url) or len(url) > URL_MAX:
            raise TemplateError(f"{where}.url must be an http(s) URL of at most {URL_MAX} characters.")
        names = VARIABLE.findall(url)
        if len(names) > 1 or (names and not url.rstrip().endswith("}}")):
            raise TemplateError(f"{where}.url may have one variable, {{{{1}}}}, at its end.")
        if names and not (isinstance(button.get("example"), list) and len(button["example"]) == 1):
            raise TemplateError(f"{where}.example must hold one sample URL when the url has a variable.")
    elif kind == "PHONE_NUMBER":
        phone = button.get("phone_number")
        if not isinstance(phone, str) or not re.fullmatch(r"\+?[0-9]{5,19}", phone):
            raise TemplateError(f"{where}.phone_number must be a phone number of at most {PHONE_MAX} characters.")
    elif kind == "COPY_CODE":
        example = button.get("example")
        if not isinstance(example, str) or not example or len(example) > COUPON_MAX:
            raise TemplateError(f"{where}.example must be a sample coupon code of at most {COUPON_MAX} characters.")
    elif kind == "FLOW" and not (button.get("flow_id") or button.get("flow_name") or button.get("flow_json")):
        raise TemplateError(f"{where} needs flow_id, flow_name or flow_json.")


# --- sends ----------------------------------------------------------------------------------------

def expected_parameters(components: list[dict[str, Any]], parameter_format: str) -> dict[str, int]:
    """How many parameters a send must give: {"body": n, "header": n, "button:<index>": n}."""
    expected: dict[str, int] = {"body": 0, "header": 0}
    for component in components:
        kind = component["type"]
        if kind == "BODY":
            expected["body"] = len(variables_of(component.get("text", ""), parameter_format, "BODY.text"))
        elif kind == "HEADER":
            fmt = component.get("format")
            if fmt == "TEXT":
                expected["header"] = len(variables_of(component.get("text", ""), parameter_format, "HEADER"))
            else:
                expected["header"] = 1  # the media, or the location
        elif kind == "BUTTONS":
            for index, button in enumerate(component["buttons"]):
                wanted = _button_parameters(button)
                if wanted:
                    expected[f"button:{index}"] = wanted
    return expected


def _button_parameters(button: dict[str, Any]) -> int:
    if button["type"] == "URL":
        return len(VARIABLE.findall(button.get("url", "")))
    return 1 if button["type"] in ("COPY_CODE", "OTP") else 0


def given_parameters(send_components: Any) -> dict[str, int]:
    """How many parameters a send's `template.components` gives each component."""
    given: dict[str, int] = {"body": 0, "header": 0}
    if not isinstance(send_components, list):
        return given
    for component in send_components:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type", "")).lower()
        parameters = component.get("parameters")
        count = len(parameters) if isinstance(parameters, list) else 0
        if kind in ("body", "header"):
            given[kind] += count
        elif kind == "button" and str(component.get("sub_type", "")).lower() not in OPTIONAL_BUTTON_PARAMETERS:
            given[f"button:{component.get('index', 0)}"] = count
    return given
