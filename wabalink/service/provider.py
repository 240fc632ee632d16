"""What AWS End User Messaging Social does, one method per operation.

Each method is named as its operation in snake_case and takes the caller's `RequestContext` and the
operation's input as the protocol layer parsed and validated it from the model; it returns the
operation's output members. Rules the model cannot express (exactly one phase, 6-digit PINs, the
data localization list, ownership, quotas) are checked here and rejected with the error shapes the
operation declares, naming the field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError

from wabalink.aws.errors import AwsError, dependency_failed, invalid_parameters, resource_not_found
from wabalink.meta.client import GraphApiError, GraphClient, GraphUnavailableError, MetaPhoneNumber, MetaWaba
from wabalink.service import ids
from wabalink.store import links
from wabalink.store.db import Cursor, Store

# Meta's data localization regions, as the AssociateWhatsAppBusinessAccount page lists them.
DATA_LOCALIZATION_REGIONS = frozenset(
    ["AU", "ID", "IN", "JP", "SG", "KR", "DE", "CH", "GB", "BR", "BH", "ZA", "AE", "CA"])
REQUIRED_META_SCOPE = "whatsapp_business_management"
TWO_FACTOR_PIN = re.compile(r"[0-9]{6}")
# Event destinations: an SNS topic or an Amazon Connect instance.
EVENT_DESTINATION_ARN = re.compile(
    r"arn:aws[a-z-]*:(sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?"
    r"|connect:[a-z0-9-]+:\d{12}:instance/[A-Za-z0-9-]+)")
DEFAULT_LIST_PAGE_SIZE = 25
META_PIN_MISMATCH = 133005  # Graph API: "Two step verification PIN Mismatch"


@dataclass(frozen=True)
class RequestContext:
    account_id: str
    region: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SocialMessagingProvider:
    def __init__(self, store: Store, graph: GraphClient, *, associate_token_lifetime_seconds: int = 3600,
                 waba_quota_per_region: int = 25, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.graph = graph
        self.associate_token_lifetime_seconds = associate_token_lifetime_seconds
        self.waba_quota_per_region = waba_quota_per_region
        self.clock = clock

    # ---------------------------------------------------------------- AssociateWhatsAppBusinessAccount

    def associate_whatsapp_business_account(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        signup_callback = params.get("signupCallback")
        setup_finalization = params.get("setupFinalization")
        if (signup_callback is None) == (setup_finalization is None):
            given = "both were given" if signup_callback is not None else "neither was given"
            raise invalid_parameters(f"Exactly one of signupCallback and setupFinalization must be given; {given}.")
        if signup_callback is not None:
            return {"signupCallbackResult": self._signup_callback(ctx, signup_callback), "statusCode": 200}
        waba_hex = self._setup_finalization(ctx, setup_finalization or {})
        return {"linkedWhatsAppBusinessAccountId": ids.waba_id(waba_hex), "statusCode": 200}

    def _signup_callback(self, ctx: RequestContext, callback: dict[str, Any]) -> dict[str, Any]:
        access_token = callback["accessToken"]
        if not access_token:
            raise invalid_parameters("signupCallback.accessToken must not be empty.")
        meta_wabas = self._discover_meta_wabas(access_token)
        now = self.clock()
        in_progress_token = secrets.token_urlsafe(33)  # 44 characters; the model allows 50
        for attempt in range(3):
            try:
                with self.store.writer() as conn:
                    conn.lock(f"wabas:{ctx.account_id}:{ctx.region}")  # the quota count below holds
                    links.delete_expired_sessions(conn, now)
                    incomplete, discovered = self._record_discovery(conn, ctx, meta_wabas, now)
                    links.insert_session(conn, {
                        "token_digest": digest(in_progress_token), "account_id": ctx.account_id,
                        "region": ctx.region, "discovered": json.dumps(discovered), "created_at": now,
                        "expires_at": now + self.associate_token_lifetime_seconds})
                break
            except IntegrityError:
                # A concurrent sign-up linked the same Meta WABA first: read its ids and go on.
                if attempt == 2:
                    raise
        return {"associateInProgressToken": in_progress_token, "linkedAccountsWithIncompleteSetup": incomplete}

    def _discover_meta_wabas(self, access_token: str) -> list[tuple[MetaWaba, list[MetaPhoneNumber]]]:
        """Asks Meta what the embedded sign-up token grants: WABAs and their phone numbers."""
        # Introspection runs with the service's own app token: an error there is Meta's or ours,
        # never the caller's (Meta answers is_valid=false for a bad caller token).
        with meta_errors("signupCallback"):
            token = self.graph.debug_token(access_token)
        with meta_errors("signupCallback.accessToken", caller_token=True):
            if not token.is_valid:
                raise invalid_parameters("signupCallback.accessToken was rejected by Meta: the token is invalid_parameters, "
                              "expired or revoked.")
            if REQUIRED_META_SCOPE not in token.scopes:
                raise invalid_parameters(f"signupCallback.accessToken lacks the {REQUIRED_META_SCOPE} permission.")
            if not token.granted_waba_ids:
                raise invalid_parameters("signupCallback.accessToken grants no WhatsApp Business Account.")
            return [self.graph.get_waba_with_phone_numbers(waba_id, access_token) for waba_id in token.granted_waba_ids]

    def _record_discovery(self, conn: Cursor, ctx: RequestContext, meta_wabas: list[tuple[MetaWaba, list[MetaPhoneNumber]]],
                          now: float) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """Creates (or finds) the INCOMPLETE links and their discovered numbers; returns the
        phase-1 answer map and what the in-progress token may finalize."""
        incomplete: dict[str, Any] = {}
        discovered: dict[str, list[str]] = {}
        existing_count = links.count_wabas(conn, ctx.account_id, ctx.region)
        for meta_waba, meta_phones in meta_wabas:
            link = links.find_waba_by_meta_id(conn, ctx.account_id, ctx.region, meta_waba.id)
            if link is None:
                if existing_count >= self.waba_quota_per_region:
                    raise AwsError("LimitExceededException", (
                        f"Linking WhatsApp Business Account {meta_waba.id} would exceed the quota of "
                        f"{self.waba_quota_per_region} linked accounts in {ctx.region}."))
                existing_count += 1
                link = {"id": ids.new_hex_id(), "account_id": ctx.account_id, "region": ctx.region,
                        "meta_waba_id": meta_waba.id, "waba_name": meta_waba.name,
                        "registration_status": "INCOMPLETE", "link_date": now, "event_destinations": "[]",
                        "created_at": now}
                links.insert_waba(conn, link)
            elif link["waba_name"] != meta_waba.name:
                links.update_waba_name(conn, link["id"], meta_waba.name)
            recorded = [self._record_phone(conn, ctx, link["id"], phone) for phone in meta_phones]
            unregistered = [phone for phone in recorded if phone is not None]
            if link["registration_status"] == "COMPLETE" and not unregistered:
                continue  # fully linked already: nothing to finalize
            discovered[link["id"]] = [phone["id"] for phone in unregistered]
            incomplete[meta_waba.id] = {
                "accountName": meta_waba.name,
                "registrationStatus": link["registration_status"],
                "wabaId": ids.waba_id(link["id"]),
                "unregisteredWhatsAppPhoneNumbers": [render_phone(ctx, phone) for phone in unregistered],
            }
        return incomplete, discovered

    def _record_phone(self, conn: Cursor, ctx: RequestContext, waba_hex: str,
                      meta_phone: MetaPhoneNumber) -> dict[str, Any] | None:
        """The discovered number's row (created on first sight); None when it is already linked."""
        values = {"phone_number": meta_phone.phone_number,
                  "display_phone_number": meta_phone.display_phone_number,
                  "display_phone_number_name": meta_phone.verified_name,
                  "quality_rating": meta_phone.quality_rating}
        row = links.find_phone_by_meta_id(conn, waba_hex, meta_phone.id)
        if row is None:
            row = {"id": ids.new_hex_id(), "waba_link_id": waba_hex, "account_id": ctx.account_id,
                   "region": ctx.region, "meta_phone_number_id": meta_phone.id, "linked": False, **values}
            links.insert_phone(conn, row)
            return row
        row = {**row, **values}
        links.refresh_phone(conn, row["id"], row)
        return None if row["linked"] else row

    def _setup_finalization(self, ctx: RequestContext, finalization: dict[str, Any]) -> str:
        waba_input = finalization.get("waba")
        parent = finalization.get("phoneNumberParent")
        if (waba_input is None) == (parent is None):
            given = "both were given" if waba_input is not None else "neither was given"
            raise invalid_parameters(f"Exactly one of setupFinalization.waba and setupFinalization.phoneNumberParent "
                          f"must be given; {given}.")
        now = self.clock()
        with self.store.reader() as conn:
            session = links.get_session(conn, digest(finalization["associateInProgressToken"]))
            if (session is None or session["expires_at"] <= now or session["account_id"] != ctx.account_id
                    or session["region"] != ctx.region):
                raise invalid_parameters("setupFinalization.associateInProgressToken is invalid_parameters or has expired; "
                              "run the signupCallback phase again.")
            discovered: dict[str, list[str]] = json.loads(session["discovered"])
            if waba_input is not None:
                waba = self._finalization_target(conn, ctx, waba_input.get("id"), "setupFinalization.waba.id")
                if waba["registration_status"] == "COMPLETE":
                    raise invalid_parameters(f"setupFinalization.waba.id {ids.waba_id(waba['id'])} is already linked; use "
                                  f"setupFinalization.phoneNumberParent to add phone numbers to it.")
            else:
                waba = self._finalization_target(conn, ctx, parent, "setupFinalization.phoneNumberParent")
                if waba["registration_status"] != "COMPLETE":
                    raise invalid_parameters(f"setupFinalization.phoneNumberParent {ids.waba_id(waba['id'])} has not completed "
                                  f"its setup; finalize it with setupFinalization.waba.")
            field = "setupFinalization.waba.id" if waba_input is not None else "setupFinalization.phoneNumberParent"
            if waba["id"] not in discovered:
                raise invalid_parameters(f"{field} {ids.waba_id(waba['id'])} was not discovered by this associateInProgressToken.")
            phones = self._finalization_phones(conn, ctx, finalization["phoneNumbers"], discovered[waba["id"]])
        event_destinations = []
        if waba_input is not None:
            event_destinations = checked_event_destinations(
                waba_input.get("eventDestinations") or [], "setupFinalization.waba.eventDestinations")

        # Meta first (registration is idempotent there), then one transaction here: a failure at
        # Meta leaves nothing linked and the same call can be retried.
        for index, (phone, requested) in enumerate(phones):
            with meta_errors(f"setupFinalization.phoneNumbers[{index}]"):
                self.graph.register_phone_number(phone["meta_phone_number_id"], requested["twoFactorPin"],
                                                 requested.get("dataLocalizationRegion"))
        with meta_errors("setupFinalization"):
            self.graph.subscribe_app(waba["meta_waba_id"])

        try:
            with self.store.writer() as conn:
                conn.lock(f"waba:{waba['id']}")  # against a concurrent disassociation
                if links.get_waba(conn, ctx.account_id, ctx.region, waba["id"]) is None:
                    raise WabaGone()
                if waba_input is not None:
                    if not links.complete_waba(conn, waba["id"], now, event_destinations):
                        raise invalid_parameters(f"setupFinalization.waba.id {ids.waba_id(waba['id'])} is already linked.")
                    self._tag(conn, ids.waba_arn(ctx.region, ctx.account_id, waba["id"]), waba_input.get("tags"))
                for phone, requested in phones:
                    if not links.link_phone(conn, phone["id"], requested.get("dataLocalizationRegion")):
                        raise invalid_parameters(f"setupFinalization.phoneNumbers id {ids.phone_number_id(phone['id'])} "
                                      f"is already linked.")
                    self._tag(conn, ids.phone_number_arn(ctx.region, ctx.account_id, phone["id"]), requested.get("tags"))
        except WabaGone:
            # Disassociated while Meta was being told: take back what this call did there.
            for phone, _ in phones:
                self._quietly(self.graph.deregister_phone_number, phone["meta_phone_number_id"])
            self._quietly(self.graph.unsubscribe_app, waba["meta_waba_id"])
            raise invalid_parameters(f"{field} {ids.waba_id(waba['id'])} was disassociated meanwhile; run the signupCallback "
                          f"phase again.") from None
        return waba["id"]

    @staticmethod
    def _tag(conn: Cursor, resource_arn: str, tags: list[dict[str, Any]] | None) -> None:
        if tags:
            conn.lock(f"tags:{resource_arn}")  # put_tags is update-then-insert
            links.put_tags(conn, resource_arn, tags)

    def _finalization_target(self, conn: Cursor, ctx: RequestContext, value: str | None, field: str) -> dict[str, Any]:
        """The linked WABA named by a linked id, its ARN, or Meta's WABA id."""
        if not value:
            raise invalid_parameters(f"{field} must be given.")
        hex_id = owned_hex_id(value, "waba", ctx)
        if hex_id is not None:
            waba = links.get_waba(conn, ctx.account_id, ctx.region, hex_id)
        elif value.isdigit():
            waba = links.find_waba_by_meta_id(conn, ctx.account_id, ctx.region, value)
        else:
            waba = None
        if waba is None:
            raise invalid_parameters(f"{field} {value} is not a WhatsApp Business Account discovered by this associateInProgressToken.")
        return waba

    def _finalization_phones(self, conn: Cursor, ctx: RequestContext, requested_phones: list[dict[str, Any]],
                             discovered_hex_ids: list[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        if not requested_phones:
            raise invalid_parameters("setupFinalization.phoneNumbers must name at least one phone number.")
        chosen: list[tuple[dict[str, Any], dict[str, Any]]] = []
        seen: set[str] = set()
        for index, requested in enumerate(requested_phones):
            field = f"setupFinalization.phoneNumbers[{index}]"
            hex_id = owned_hex_id(requested["id"], "phone-number-id", ctx)
            phone = links.get_phone(conn, ctx.account_id, ctx.region, hex_id) if hex_id is not None else None
            if phone is None or phone["id"] not in discovered_hex_ids:
                raise invalid_parameters(f"{field}.id {requested['id']} is not a phone number discovered by this "
                              f"associateInProgressToken for this WhatsApp Business Account.")
            if phone["linked"]:
                raise invalid_parameters(f"{field}.id {requested['id']} is already linked.")
            if phone["id"] in seen:
                raise invalid_parameters(f"{field}.id {requested['id']} is given more than once.")
            seen.add(phone["id"])
            if not TWO_FACTOR_PIN.fullmatch(requested["twoFactorPin"]):
                raise invalid_parameters(f"{field}.twoFactorPin must be exactly 6 digits.")
            region = requested.get("dataLocalizationRegion")
            if region is not None and region not in DATA_LOCALIZATION_REGIONS:
                raise invalid_parameters(f"{field}.dataLocalizationRegion {region} is not supported; use one of "
                              f"{', '.join(sorted(DATA_LOCALIZATION_REGIONS))}.")
            chosen.append((phone, requested))
        return chosen

    # ---------------------------------------------------------------- linked accounts

    def get_linked_whatsapp_business_account(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        hex_id = owned_hex_id(params["id"], "waba", ctx)
        waba: dict[str, Any] | None = None
        phones: list[dict[str, Any]] = []
        if hex_id is not None:
            with self.store.reader(snapshot=False) as conn:
                waba, phones = links.get_waba_with_linked_phones(conn, ctx.account_id, ctx.region, hex_id)
        if waba is None:
            raise resource_not_found(waba_not_found("id", params["id"]))
        account = render_waba(ctx, waba)
        account["phoneNumbers"] = [render_phone(ctx, phone) for phone in phones]
        return {"account": account}

    def list_linked_whatsapp_business_accounts(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = params.get("maxResults") or DEFAULT_LIST_PAGE_SIZE
        after = decode_next_token(params["nextToken"]) if params.get("nextToken") else None
        with self.store.reader() as conn:
            rows = links.list_wabas(conn, ctx.account_id, ctx.region, after, limit + 1)
        result: dict[str, Any] = {"linkedAccounts": [render_waba(ctx, row) for row in rows[:limit]]}
        if len(rows) > limit:
            last = rows[limit - 1]
            result["nextToken"] = encode_next_token(last["created_at"], last["id"])
        return result

    def get_linked_whatsapp_business_account_phone_number(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.store.reader() as conn:
            phone = self._owned_phone(conn, ctx, params["id"], "id", missing=resource_not_found)
        # The quality rating and display name are Meta's and change there: answer the current ones.
        with meta_errors("id"):
            meta_phone = self.graph.get_phone_number(phone["meta_phone_number_id"])
        current = {"quality_rating": meta_phone.quality_rating,
                   "display_phone_number_name": meta_phone.verified_name}
        if any(phone[key] != value for key, value in current.items()):
            phone = {**phone, **current}
            with self.store.writer() as conn:
                links.refresh_phone(conn, phone["id"], phone)
        result: dict[str, Any] = {"phoneNumber": render_phone(ctx, phone),
                                  "linkedWhatsAppBusinessAccountId": ids.waba_id(phone["waba_link_id"])}
        if phone["call_settings"]:
            result["callSettings"] = json.loads(phone["call_settings"])
        return result

    def update_linked_whatsapp_business_account_phone_number(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.store.writer() as conn:
            phone = self._owned_phone(conn, ctx, params["id"], "id", missing=resource_not_found)
            links.set_call_settings(conn, phone["id"], params["callSettings"])
        return {"phoneNumberId": ids.phone_number_id(phone["id"])}

    def put_whatsapp_business_account_event_destinations(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        destinations = checked_event_destinations(params["eventDestinations"], "eventDestinations")
        with self.store.writer() as conn:
            # The operation declares no ResourceNotFoundException: an unknown id is a bad parameter.
            waba = self._owned_waba(conn, ctx, params["id"], "id", missing=invalid_parameters)
            links.set_event_destinations(conn, waba["id"], destinations)
        return {}

    def disassociate_whatsapp_business_account(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        # Meta first (deregistering and unsubscribing are idempotent there), then the link goes in
        # one transaction, if it is still as Meta was told; a finalization that landed meanwhile
        # means telling Meta again.
        for _ in range(3):
            with self.store.reader() as conn:
                waba = self._owned_waba(conn, ctx, params["id"], "id", missing=resource_not_found)
                phones = links.phones_of_waba(conn, waba["id"])
            self._release_at_meta(waba, phones)
            with self.store.writer() as conn:
                conn.lock(f"waba:{waba['id']}")
                current = links.get_waba(conn, ctx.account_id, ctx.region, waba["id"])
                if current is None:
                    return {}  # a concurrent disassociation finished first
                if link_state(current, links.phones_of_waba(conn, waba["id"])) != link_state(waba, phones):
                    continue
                arns = [ids.waba_arn(ctx.region, ctx.account_id, waba["id"])]
                arns += [ids.phone_number_arn(ctx.region, ctx.account_id, phone["id"]) for phone in phones]
                links.delete_all_tags(conn, arns)
                links.delete_waba(conn, waba["id"])
                return {}
        raise AwsError("ThrottledRequestException", f"id: linked WhatsApp Business Account {params['id']} kept "
                       "changing while it was being disassociated; retry the call.")

    def _release_at_meta(self, waba: dict[str, Any], phones: list[dict[str, Any]]) -> None:
        """Deregisters the WABA's numbers and unsubscribes the app. Numbers that were discovered but
        never linked are deregistered too, best effort: a finalization that failed part way may
        have registered them."""
        with meta_errors("id"):
            for phone in phones:
                if phone["linked"]:
                    self.graph.deregister_phone_number(phone["meta_phone_number_id"])
            if waba["registration_status"] == "COMPLETE":
                self.graph.unsubscribe_app(waba["meta_waba_id"])
        for phone in phones:
            if not phone["linked"]:
                self._quietly(self.graph.deregister_phone_number, phone["meta_phone_number_id"])

    @staticmethod
    def _quietly(meta_call: Callable[[str], None], meta_id: str) -> None:
        """A best-effort call to Meta: nothing of ours depends on its outcome."""
        try:
            meta_call(meta_id)
        except (GraphApiError, GraphUnavailableError):
            pass

    # ---------------------------------------------------------------- tags

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.store.writer() as conn:
            self._tag(conn, self._taggable_arn(conn, ctx, params["resourceArn"]), params["tags"])
        return {"statusCode": 200}

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.store.writer() as conn:
            arn = self._taggable_arn(conn, ctx, params["resourceArn"])
            links.remove_tags(conn, arn, params["tagKeys"])
        return {"statusCode": 200}

    def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.store.reader() as conn:
            arn = self._taggable_arn(conn, ctx, params["resourceArn"])
            return {"statusCode": 200, "tags": links.list_tags(conn, arn)}

    # ---------------------------------------------------------------- ownership lookups

    def _owned_waba(self, conn: Cursor, ctx: RequestContext, value: str, field: str,
                    missing: Callable[[str], AwsError]) -> dict[str, Any]:
        hex_id = owned_hex_id(value, "waba", ctx)
        waba = links.get_waba(conn, ctx.account_id, ctx.region, hex_id) if hex_id is not None else None
        if waba is None:
            raise missing(waba_not_found(field, value))
        return waba

    def _owned_phone(self, conn: Cursor, ctx: RequestContext, value: str, field: str,
                     missing: Callable[[str], AwsError]) -> dict[str, Any]:
        hex_id = owned_hex_id(value, "phone-number-id", ctx)
        phone = links.get_phone(conn, ctx.account_id, ctx.region, hex_id) if hex_id is not None else None
        if phone is None or not phone["linked"]:
            raise missing(f"{field}: linked phone number {value} was not found.")
        return phone

    def _taggable_arn(self, conn: Cursor, ctx: RequestContext, arn: str) -> str:
        ref = ids.parse_resource(arn)
        if ref is None or ref.region is None:
            raise invalid_parameters(f"resourceArn {arn} is not the ARN of a linked WhatsApp Business Account or phone number.")
        if ref.kind == "waba":
            self._owned_waba(conn, ctx, arn, "resourceArn", missing=invalid_parameters)
            return ids.waba_arn(ctx.region, ctx.account_id, ref.hex_id)
        self._owned_phone(conn, ctx, arn, "resourceArn", missing=invalid_parameters)
        return ids.phone_number_arn(ctx.region, ctx.account_id, ref.hex_id)


# --- helpers ------------------------------------------------------------------------------------

class meta_errors:
    """Maps Meta's answers to the operation's errors, naming `field`: the caller's own Meta token
    rejected (`caller_token`), or a PIN that does not match the one Meta has, is the caller's bad
    parameter; Meta failing or unreachable is a DependencyException (502)."""

    def __init__(self, field: str, *, caller_token: bool = False) -> None:
        self.field = field
        self.caller_token = caller_token

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if isinstance(exc, GraphUnavailableError):
            raise dependency_failed("Meta's Graph API could not be reached; nothing was changed. "
                           "Retry the call.") from None
        if isinstance(exc, GraphApiError):
            if self.caller_token and (exc.is_token_error or exc.is_permission_error):
                raise invalid_parameters(f"{self.field} was rejected by Meta: {exc.message}") from None
            if exc.code == META_PIN_MISMATCH:
                raise invalid_parameters(f"{self.field}.twoFactorPin does not match the two-step verification PIN this "
                              "phone number already has at Meta.") from None
            raise dependency_failed(f"Meta's Graph API answered an error (code {exc.code}); "
                           "nothing was changed. Retry the call.") from None


class WabaGone(Exception):
    """The WABA a finalization was completing was disassociated meanwhile."""


def link_state(waba: dict[str, Any], phones: list[dict[str, Any]]) -> tuple[str, frozenset[str]]:
    """What Meta was told about a link: its status and which numbers are linked."""
    return waba["registration_status"], frozenset(phone["id"] for phone in phones if phone["linked"])


def waba_not_found(field: str, value: str) -> str:
    return f"{field}: linked WhatsApp Business Account {value} was not found."


def owned_hex_id(value: str, kind: str, ctx: RequestContext) -> str | None:
    """The 32 hex digits of the caller's resource of `kind` ("waba", "phone-number-id") that
    `value` names by id or ARN; None when it names anything else. An id always names the caller's
    own resource; an ARN must name the caller's account and region."""
    ref = ids.parse_resource(value)
    if ref is None or ref.kind != kind:
        return None
    if ref.region is not None and (ref.region != ctx.region or ref.account_id != ctx.account_id):
        return None
    return ref.hex_id


def checked_event_destinations(destinations: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    checked = []
    for index, destination in enumerate(destinations):
        arn = destination["eventDestinationArn"]
        if not EVENT_DESTINATION_ARN.fullmatch(arn):
            raise invalid_parameters(f"{field}[{index}].eventDestinationArn {arn} must be an Amazon SNS topic ARN or an "
                          f"Amazon Connect instance ARN.")
        checked.append({key: destination[key] for key in ("eventDestinationArn", "roleArn") if destination.get(key)})
    return checked


def render_phone(ctx: RequestContext, phone: dict[str, Any]) -> dict[str, Any]:
    rendered = {
        "arn": ids.phone_number_arn(ctx.region, ctx.account_id, phone["id"]),
        "phoneNumber": phone["phone_number"],
        "phoneNumberId": ids.phone_number_id(phone["id"]),
        "metaPhoneNumberId": phone["meta_phone_number_id"],
        "displayPhoneNumberName": phone["display_phone_number_name"],
        "displayPhoneNumber": phone["display_phone_number"],
        "qualityRating": phone["quality_rating"],
    }
    if phone.get("data_localization_region"):
        rendered["dataLocalizationRegion"] = phone["data_localization_region"]
    return rendered


def render_waba(ctx: RequestContext, waba: dict[str, Any]) -> dict[str, Any]:
    return {
        "arn": ids.waba_arn(ctx.region, ctx.account_id, waba["id"]),
        "id": ids.waba_id(waba["id"]),
        "wabaId": waba["meta_waba_id"],
        "registrationStatus": waba["registration_status"],
        "linkDate": waba["link_date"],
        "wabaName": waba["waba_name"],
        "eventDestinations": orjson.loads(waba["event_destinations"]),
    }


def encode_next_token(created_at: float, hex_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at, hex_id]).encode()).decode()


def decode_next_token(token: str) -> tuple[float, str]:
    try:
        created_at, hex_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return float(created_at), str(hex_id)
    except (ValueError, TypeError, binascii.Error):
        raise invalid_parameters("nextToken is not a token this operation returned.") from None
