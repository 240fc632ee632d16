"""Meta's template library: `GET /message_template_library` (filters search, topic, usecase,
industry, language; cursor paging) over a built-in catalogue of pre-written utility and
authentication templates, and what `POST /{waba_id}/message_templates` with
`library_template_name` creates from one of them (the library's text, the caller's button inputs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wabalink.meta.calls import GraphCall
from wabalink.meta.errors import invalid_parameter_error
from wabalink.meta.template_rules import TemplateError

if TYPE_CHECKING:
    from wabalink.meta.simulator import MetaSimulator

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 25, 100
RETAIL, HEALTH, TRAVEL, FINANCE = "E_COMMERCE", "HEALTH", "TRAVEL", "FINANCIAL_SERVICES"


@dataclass(frozen=True)
class LibraryTemplate:
    id: str
    name: str
    category: str
    topic: str
    usecase: str
    industry: tuple[str, ...]
    body: str
    body_params: tuple[str, ...]
    header: str | None = None
    buttons: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    language: str = "en_US"

    def json(self) -> dict[str, Any]:
        node: dict[str, Any] = {"name": self.name, "language": self.language, "category": self.category,
                                "topic": self.topic, "usecase": self.usecase, "industry": list(self.industry),
                                "body": self.body, "body_params": list(self.body_params), "id": self.id}
        if self.header:
            node["header"] = self.header
        if self.buttons:
            node["buttons"] = [dict(button) for button in self.buttons]
        return node


def _t(id_: str, name: str, category: str, topic: str, usecase: str, industry: tuple[str, ...], body: str,
       params: tuple[str, ...], header: str | None = None, *buttons: dict[str, Any]) -> LibraryTemplate:
    return LibraryTemplate(id_, name, category, topic, usecase, industry, body, params, header, tuple(buttons))


_TRACK = {"type": "URL", "text": "Track package", "url": "https://www.example.com/track/{{1}}"}
_VIEW_ORDER = {"type": "URL", "text": "View order", "url": "https://www.example.com/orders/{{1}}"}
_CALL = {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550100000"}
_MANAGE = {"type": "URL", "text": "Manage appointment", "url": "https://www.example.com/appointments/{{1}}"}
_OTP = {"type": "OTP", "text": "Copy code", "otp_type": "COPY_CODE"}
_CONFIRM = {"type": "QUICK_REPLY", "text": "Confirm"}
_RESCHEDULE = {"type": "QUICK_REPLY", "text": "Reschedule"}

CATALOGUE: tuple[LibraryTemplate, ...] = (
    _t("7000000000000001", "order_confirmation", "UTILITY", "ORDER_MANAGEMENT", "ORDER_CONFIRMATION", (RETAIL,),
       "Hi {{1}}, thank you for your order! Your order number is {{2}}. We will let you know when it ships.",
       ("Jim", "#12345"), "Order confirmed", _VIEW_ORDER),
    _t("7000000000000002", "order_shipped", "UTILITY", "ORDER_MANAGEMENT", "SHIPPING_UPDATE", (RETAIL,),
       "Good news {{1}}! Your order {{2}} has shipped and should arrive by {{3}}.",
       ("Jim", "#12345", "March 3"), "Your order is on its way", _TRACK),
    _t("7000000000000003", "order_delivered", "UTILITY", "ORDER_MANAGEMENT", "DELIVERY_CONFIRMATION", (RETAIL,),
       "Hi {{1}}, your order {{2}} was delivered. We hope you enjoy it.", ("Jim", "#12345"), None, _VIEW_ORDER),
    _t("7000000000000004", "order_delayed", "UTILITY", "ORDER_MANAGEMENT", "DELIVERY_UPDATE", (RETAIL,),
       "Hi {{1}}, your order {{2}} is delayed. The new delivery date is {{3}}. We are sorry for the wait.",
       ("Jim", "#12345", "March 5"), None, _TRACK),
    _t("7000000000000005", "order_canceled", "UTILITY", "ORDER_MANAGEMENT", "ORDER_CANCELLATION", (RETAIL,),
       "Hi {{1}}, your order {{2}} was canceled. Your refund of {{3}} is on its way.",
       ("Jim", "#12345", "$25.00"), None, _CALL),
    _t("7000000000000006", "return_confirmation", "UTILITY", "ORDER_MANAGEMENT", "RETURN_CONFIRMATION",
       (RETAIL,), "Hi {{1}}, we received your return for order {{2}}. Your refund will be processed in {{3}} days.",
       ("Jim", "#12345", "5")),
    _t("7000000000000007", "payment_received", "UTILITY", "PAYMENTS", "PAYMENT_CONFIRMATION", (RETAIL, FINANCE),
       "Hi {{1}}, we received your payment of {{2}} for invoice {{3}}. Thank you!",
       ("Jim", "$25.00", "INV-001"), "Payment received"),
    _t("7000000000000008", "payment_reminder", "UTILITY", "PAYMENTS", "PAYMENT_REMINDER", (FINANCE,),
       "Hi {{1}}, this is a reminder that your payment of {{2}} is due on {{3}}.",
       ("Jim", "$25.00", "March 3"), None, _CALL),
    _t("7000000000000009", "payment_failed", "UTILITY", "PAYMENTS", "PAYMENT_ACTION_REQUIRED", (FINANCE, RETAIL),
       "Hi {{1}}, your payment of {{2}} could not be processed. Please update your payment method.",
       ("Jim", "$25.00"), None, {"type": "URL", "text": "Update payment", "url": "https://www.example.com/pay"}),
    _t("7000000000000010", "statement_available", "UTILITY", "ACCOUNT_UPDATES", "STATEMENT_AVAILABLE", (FINANCE,),
       "Hi {{1}}, your statement for {{2}} is now available.", ("Jim", "February")),
    _t("7000000000000011", "appointment_reminder", "UTILITY", "APPOINTMENTS", "APPOINTMENT_REMINDER",
       (HEALTH,), "Hi {{1}}, this is a reminder of your appointment with {{2}} on {{3}} at {{4}}.",
       ("Jim", "Dr. Lee", "March 3", "10:00"), "Appointment reminder", _CONFIRM, _RESCHEDULE),
    _t("7000000000000012", "appointment_confirmation", "UTILITY", "APPOINTMENTS", "APPOINTMENT_CONFIRMATION",
       (HEALTH,), "Hi {{1}}, your appointment on {{2}} at {{3}} is confirmed.",
       ("Jim", "March 3", "10:00"), None, _MANAGE),
    _t("7000000000000013", "appointment_cancellation", "UTILITY", "APPOINTMENTS", "APPOINTMENT_CANCELLATION",
       (HEALTH,), "Hi {{1}}, your appointment on {{2}} was canceled. Contact us to book another time.",
       ("Jim", "March 3"), None, _CALL),
    _t("7000000000000014", "booking_confirmation", "UTILITY", "TRAVEL", "BOOKING_CONFIRMATION", (TRAVEL,),
       "Hi {{1}}, your booking {{2}} for {{3}} is confirmed.", ("Jim", "ABC123", "March 3"), "Booking confirmed",
       {"type": "URL", "text": "View booking", "url": "https://www.example.com/bookings/{{1}}"}),
    _t("7000000000000015", "flight_delay", "UTILITY", "TRAVEL", "FLIGHT_STATUS_UPDATE", (TRAVEL,),
       "Hi {{1}}, flight {{2}} is delayed. The new departure time is {{3}}.", ("Jim", "XY123", "14:30")),
    _t("7000000000000016", "check_in_reminder", "UTILITY", "TRAVEL", "CHECK_IN_REMINDER", (TRAVEL,),
       "Hi {{1}}, check-in for flight {{2}} is now open.", ("Jim", "XY123"), None,
       {"type": "URL", "text": "Check in", "url": "https://www.example.com/check-in/{{1}}"}),
    _t("7000000000000017", "account_update", "UTILITY", "ACCOUNT_UPDATES", "ACCOUNT_CHANGE", (FINANCE, RETAIL),
       "Hi {{1}}, the {{2}} on your account was changed. If this was not you, contact us.",
       ("Jim", "email address"), None, _CALL),
    _t("7000000000000018", "verification_code", "AUTHENTICATION", "AUTHENTICATION", "VERIFICATION_CODE",
       (RETAIL, FINANCE, HEALTH, TRAVEL), "*{{1}}* is your verification code.", ("123456",), None, _OTP),
    _t("7000000000000019", "login_code", "AUTHENTICATION", "AUTHENTICATION", "LOGIN_CODE", (FINANCE, RETAIL),
       "*{{1}}* is your verification code. For your security, do not share this code.", ("123456",), None, _OTP),
    _t("7000000000000020", "password_reset_code", "AUTHENTICATION", "AUTHENTICATION", "PASSWORD_RESET",
       (FINANCE, RETAIL, HEALTH), "*{{1}}* is your verification code. For your security, do not share this code.",
       ("123456",), None, _OTP),
)
BY_NAME = {template.name: template for template in CATALOGUE}


def matches(template: LibraryTemplate, filters: dict[str, str]) -> bool:
    search = filters.get("search", "").lower()
    if search and search not in template.name.lower() and search not in template.body.lower():
        return False
    if filters.get("topic") and filters["topic"].upper() != template.topic:
        return False
    if filters.get("usecase") and filters["usecase"].upper() != template.usecase:
        return False
    if filters.get("industry") and filters["industry"].upper() not in template.industry:
        return False
    return not filters.get("language") or filters["language"] == template.language


def list_library(sim: MetaSimulator, call: GraphCall) -> dict[str, Any]:
    params = call.params
    try:
        limit = max(1, min(int(params.get("limit", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE))
        start = int(params.get("after") or 0)
    except ValueError:
        raise invalid_parameter_error("Params limit and after must be integers") from None
    found = [t for t in CATALOGUE if matches(t, params)]
    page = found[start:start + limit]
    paging: dict[str, Any] = {}
    if page:
        paging["cursors"] = {"before": str(start), "after": str(start + len(page))}
    if start + limit < len(found):
        paging["next"] = f"message_template_library?limit={limit}&after={start + limit}"
    return {"data": [t.json() for t in page], "paging": paging}


def expanded_params(params: dict[str, str], json_param: Callable[[dict[str, str], str], Any]) -> dict[str, str]:
    """A create-from-library request as the plain create it amounts to (components filled in)."""
    import json

    name = params["library_template_name"]
    template = BY_NAME.get(name)
    if template is None:
        raise TemplateError(f"library_template_name {name[:100]!r} is not a template of the library.")
    if params.get("language") != template.language:
        raise TemplateError(f"library template {name} is available in {template.language} only.")
    if (params.get("category") or "").upper() != template.category:
        raise TemplateError(f"library template {name} is a {template.category} template; category must match.")
    buttons = _buttons(template, json_param(params, "library_template_button_inputs") or [])
    body_inputs = json_param(params, "library_template_body_inputs") or {}
    if not isinstance(body_inputs, dict):
        raise TemplateError("library_template_body_inputs must be an object.")
    components: list[dict[str, Any]] = []
    if template.category == "AUTHENTICATION":
        components.append({"type": "BODY", "add_security_recommendation":
                           bool(body_inputs.get("add_security_recommendation"))})
        if body_inputs.get("code_expiration_minutes") is not None:
            components.append({"type": "FOOTER", "code_expiration_minutes": body_inputs["code_expiration_minutes"]})
    else:
        if template.header:
            components.append({"type": "HEADER", "format": "TEXT", "text": template.header})
        components.append({"type": "BODY", "text": template.body,
                           "example": {"body_text": [list(template.body_params)]}})
    if buttons:
        components.append({"type": "BUTTONS", "buttons": buttons})
    return {**params, "components": json.dumps(components)}


def _buttons(template: LibraryTemplate, inputs: Any) -> list[dict[str, Any]]:
    """The library's buttons with the caller's inputs, matched by type in order."""
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise TemplateError("library_template_button_inputs must be a list of objects.")
    remaining = list(inputs)
    buttons = []
    for button in template.buttons:
        button = dict(button)
        kind = button["type"]
        given = next((i for i in remaining if str(i.get("type", "")).upper() in _aliases(kind)), None)
        if given is not None:
            remaining.remove(given)
        if kind == "URL":
            url = given.get("url") if given else None
            base = url.get("base_url") if isinstance(url, dict) else None
            if not isinstance(url, dict) or not isinstance(base, str) or not base.startswith(("http://", "https://")):
                raise TemplateError(f"library template {template.name} has a URL button: give its "
                                    "library_template_button_inputs url.base_url (an http(s) URL).")
            suffix = url.get("url_suffix_example")
            button["url"] = base + ("{{1}}" if "{{1}}" in button["url"] else "")
            if "{{1}}" in button["url"]:
                button["example"] = [base + str(suffix or "sample")]
        elif kind == "PHONE_NUMBER":
            phone = given.get("phone_number") if given else None
            if not isinstance(phone, str):
                raise TemplateError(f"library template {template.name} has a call button: give its "
                                    "library_template_button_inputs phone_number.")
            button["phone_number"] = phone
        elif kind == "OTP" and given:
            button["otp_type"] = str(given.get("otp_type") or button["otp_type"]).upper()
            for key in ("supported_apps", "zero_tap_terms_accepted"):
                if key in given:
                    button[key] = given[key]
        buttons.append(button)
    if remaining:
        raise TemplateError(f"library_template_button_inputs has inputs for buttons library template "
                            f"{template.name} does not have.")
    return buttons


def _aliases(kind: str) -> tuple[str, ...]:
    return ("PHONE_NUMBER", "CALL") if kind == "PHONE_NUMBER" else (kind,)
