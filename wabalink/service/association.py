"""AssociateWhatsAppBusinessAccount: linking a WhatsApp Business Account in two phases.

Phase 1 (`signupCallback`) asks Meta what the embedded sign-up's token grants and records each WABA
as an INCOMPLETE link with its discovered numbers; phase 2 (`setupFinalization`) registers the chosen
numbers at Meta with their PINs, subscribes the app, and completes the link in one transaction.
The rules are in DESIGN.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from typing import Any

from sqlalchemy.exc import IntegrityError

from wabalink.aws.exceptions import InvalidParametersException, LimitExceededException
from wabalink.aws.shapes import (
    AssociateWhatsAppBusinessAccountInput,
    AssociateWhatsAppBusinessAccountOutput,
    LinkedWhatsAppBusinessAccountIdMetaData,
    WhatsAppSetupFinalization,
    WhatsAppSignupCallback,
    WhatsAppSignupCallbackResult,
)
from wabalink.meta.client import MetaPhoneNumber, MetaWaba, TokenInfo
from wabalink.service import ids
from wabalink.service.destinations import checked_event_destinations
from wabalink.service.meta_errors import meta_errors, quietly
from wabalink.service.operations import Operations, RequestContext, operation
from wabalink.service.ownership import owned_hex_id
from wabalink.service.rendering import render_phone
from wabalink.service.tagging import put_checked_tags
from wabalink.store import links, tags
from wabalink.store.db import Cursor

# Meta's data localization regions, as the AssociateWhatsAppBusinessAccount page lists them.
DATA_LOCALIZATION_REGIONS = frozenset(
    ["AU", "ID", "IN", "JP", "SG", "KR", "DE", "CH", "GB", "BR", "BH", "ZA", "AE", "CA"])
REQUIRED_META_SCOPE = "whatsapp_business_management"
TWO_FACTOR_PIN = re.compile(r"[0-9]{6}")

Row = dict[str, Any]
MetaDiscovery = list[tuple[MetaWaba, list[MetaPhoneNumber]]]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class WabaGone(Exception):
    """The WABA a finalization was completing was disassociated meanwhile."""


class Association(Operations):

    @operation("AssociateWhatsAppBusinessAccount")
    def associate_whatsapp_business_account(
            self, ctx: RequestContext, params: AssociateWhatsAppBusinessAccountInput,
    ) -> AssociateWhatsAppBusinessAccountOutput:
        signup_callback = params.get("signupCallback")
        setup_finalization = params.get("setupFinalization")
        if (signup_callback is None) == (setup_finalization is None):
            given = "both were given" if signup_callback is not None else "neither was given"
            raise InvalidParametersException(
                f"Exactly one of signupCallback and setupFinalization must be given; {given}.")
        if signup_callback is not None:
            return {"signupCallbackResult": self._signup_callback(ctx, signup_callback), "statusCode": 200}
        assert setup_finalization is not None
        waba_hex = self._setup_finalization(ctx, setup_finalization)
        return {"linkedWhatsAppBusinessAccountId": ids.waba_id(waba_hex), "statusCode": 200}

    # ---------------------------------------------------------------- phase 1

    def _signup_callback(self, ctx: RequestContext, callback: WhatsAppSignupCallback) -> WhatsAppSignupCallbackResult:
        access_token = callback["accessToken"]
        if not access_token:
            raise InvalidParametersException("signupCallback.accessToken must not be empty.")
        meta_wabas = self._discover_meta_wabas(access_token)
        now = self.clock()
        expires_at = now + self.settings.associate_token_lifetime_seconds
        in_progress_token = secrets.token_urlsafe(33)  # 44 characters; the model allows 50
        for attempt in range(3):
            try:
                with self.store.writer() as conn:
                    conn.lock(f"wabas:{ctx.account_id}:{ctx.region}")  # the quota count below holds
                    links.delete_expired_sessions(conn, now)
                    self._sweep_expired_incomplete_links(conn, ctx, now)
                    incomplete, discovered = self._record_discovery(conn, ctx, meta_wabas, now, expires_at)
                    links.insert_session(conn, {
                        "token_digest": digest(in_progress_token), "account_id": ctx.account_id,
                        "region": ctx.region, "discovered": json.dumps(discovered), "created_at": now,
                        "expires_at": expires_at})
                break
            except IntegrityError:
                # A concurrent sign-up linked the same Meta WABA first: read its ids and go on.
                if attempt == 2:
                    raise
        return {"associateInProgressToken": in_progress_token, "linkedAccountsWithIncompleteSetup": incomplete}

    def _discover_meta_wabas(self, access_token: str) -> MetaDiscovery:
        """Asks Meta what the embedded sign-up token grants: WABAs and their phone numbers."""
        # Introspection runs with the service's own app token: an error there is Meta's or ours,
        # never the caller's (Meta answers is_valid=false for a bad caller token).
        with meta_errors("signupCallback"):
            token = self.graph.debug_token(access_token)
        with meta_errors("signupCallback.accessToken", caller_token=True):
            if not token.is_valid:
                raise InvalidParametersException(
                    f"signupCallback.accessToken was rejected by Meta: {describe_invalid_token(token)}. "
                    "Complete Meta's embedded sign-up again for a new token.")
            if REQUIRED_META_SCOPE not in token.scopes:
                raise InvalidParametersException(
                    f"signupCallback.accessToken lacks the {REQUIRED_META_SCOPE} permission.")
            if not token.granted_waba_ids:
                raise InvalidParametersException("signupCallback.accessToken grants no WhatsApp Business Account.")
            return [self.graph.get_waba_with_phone_numbers(waba_id, access_token)
                    for waba_id in token.granted_waba_ids]

    def _sweep_expired_incomplete_links(self, conn: Cursor, ctx: RequestContext, now: float) -> None:
        """Links no phase-1 token can finalize any more stop counting against the quota."""
        for hex_id in links.expired_incomplete_wabas(conn, ctx.account_id, ctx.region, now):
            arns = [ids.waba_arn(ctx.region, ctx.account_id, hex_id)]
            arns += [ids.phone_number_arn(ctx.region, ctx.account_id, phone["id"])
                     for phone in links.phones_of_waba(conn, hex_id)]
            tags.delete_all_tags(conn, arns)
            links.delete_waba(conn, hex_id)

    def _record_discovery(self, conn: Cursor, ctx: RequestContext, meta_wabas: MetaDiscovery, now: float,
                          expires_at: float) -> tuple[dict[str, LinkedWhatsAppBusinessAccountIdMetaData],
                                                      dict[str, list[str]]]:
        """Creates (or finds) the INCOMPLETE links and their discovered numbers; returns the
        phase-1 answer map and what the in-progress token may finalize."""
        incomplete: dict[str, LinkedWhatsAppBusinessAccountIdMetaData] = {}
        discovered: dict[str, list[str]] = {}
        existing_count = links.count_wabas(conn, ctx.account_id, ctx.region)
        quota = self.settings.waba_quota_per_region
        for meta_waba, meta_phones in meta_wabas:
            refuse_if_linked_elsewhere(conn, ctx, meta_waba.id, "signupCallback.accessToken")
            link = links.find_waba_by_meta_id(conn, ctx.account_id, ctx.region, meta_waba.id)
            if link is None:
                if existing_count >= quota:
                    raise LimitExceededException(
                        f"Linking WhatsApp Business Account {meta_waba.id} would exceed the quota of "
                        f"{quota} linked accounts in {ctx.region}; disassociate one first.")
                existing_count += 1
                link = {"id": ids.new_hex_id(), "account_id": ctx.account_id, "region": ctx.region,
                        "meta_waba_id": meta_waba.id, "waba_name": meta_waba.name,
                        "registration_status": "INCOMPLETE", "link_date": now, "event_destinations": "[]",
                        "created_at": now, "pending_until": expires_at}
                links.insert_waba(conn, link)
            else:
                if link["waba_name"] != meta_waba.name:
                    links.update_waba_name(conn, link["id"], meta_waba.name)
                if link["registration_status"] == "INCOMPLETE":
                    links.extend_pending(conn, link["id"], expires_at)
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
                      meta_phone: MetaPhoneNumber) -> Row | None:
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

    # ---------------------------------------------------------------- phase 2

    def _setup_finalization(self, ctx: RequestContext, finalization: WhatsAppSetupFinalization) -> str:
        waba_input = finalization.get("waba")
        parent = finalization.get("phoneNumberParent")
        if (waba_input is None) == (parent is None):
            given = "both were given" if waba_input is not None else "neither was given"
            raise InvalidParametersException(
                "Exactly one of setupFinalization.waba and setupFinalization.phoneNumberParent must be given; "
                f"{given}.")
        field = "setupFinalization.waba.id" if waba_input is not None else "setupFinalization.phoneNumberParent"
        now = self.clock()
        with self.store.reader() as conn:
            session = links.get_session(conn, digest(finalization["associateInProgressToken"]))
            if (session is None or session["expires_at"] <= now or session["account_id"] != ctx.account_id
                    or session["region"] != ctx.region):
                raise InvalidParametersException(
                    "setupFinalization.associateInProgressToken is invalid or has expired; "
                    "run the signupCallback phase again.")
            discovered: dict[str, list[str]] = json.loads(session["discovered"])
            if waba_input is not None:
                waba = self._finalization_target(conn, ctx, waba_input.get("id"), field)
                if waba["registration_status"] == "COMPLETE":
                    raise InvalidParametersException(
                        f"{field} {ids.waba_id(waba['id'])} is already linked; use "
                        "setupFinalization.phoneNumberParent to add phone numbers to it.")
            else:
                waba = self._finalization_target(conn, ctx, parent, field)
                if waba["registration_status"] != "COMPLETE":
                    raise InvalidParametersException(
                        f"{field} {ids.waba_id(waba['id'])} has not completed its setup; finalize it with "
                        "setupFinalization.waba.")
            if waba["id"] not in discovered:
                raise InvalidParametersException(
                    f"{field} {ids.waba_id(waba['id'])} was not discovered by this associateInProgressToken.")
            phones = self._finalization_phones(conn, ctx, finalization["phoneNumbers"], discovered[waba["id"]])
            refuse_if_linked_elsewhere(conn, ctx, waba["meta_waba_id"], field)
        event_destinations: list[dict[str, Any]] = []
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
            self._complete_link(ctx, waba, waba_input, phones, event_destinations, now, field)
        except WabaGone:
            # Disassociated while Meta was being told: take back what this call did there.
            for phone, _ in phones:
                quietly(self.graph.deregister_phone_number, phone["meta_phone_number_id"])
            quietly(self.graph.unsubscribe_app, waba["meta_waba_id"])
            raise InvalidParametersException(
                f"{field} {ids.waba_id(waba['id'])} was disassociated meanwhile; run the signupCallback phase "
                "again.") from None
        return str(waba["id"])

    def _complete_link(self, ctx: RequestContext, waba: Row, waba_input: Any, phones: list[tuple[Row, Any]],
                       event_destinations: list[dict[str, Any]], now: float, field: str) -> None:
        with self.store.writer() as conn:
            conn.lock(f"waba:{waba['id']}")  # against a concurrent disassociation
            conn.lock(f"meta-waba:{waba['meta_waba_id']}")  # against another account finalizing it
            if links.get_waba(conn, ctx.account_id, ctx.region, waba["id"]) is None:
                raise WabaGone()
            refuse_if_linked_elsewhere(conn, ctx, waba["meta_waba_id"], field)
            if waba_input is not None:
                if not links.complete_waba(conn, waba["id"], now, event_destinations):
                    raise InvalidParametersException(f"{field} {ids.waba_id(waba['id'])} is already linked.")
                put_checked_tags(conn, ids.waba_arn(ctx.region, ctx.account_id, waba["id"]),
                                 waba_input.get("tags"), "setupFinalization.waba.tags")
            for index, (phone, requested) in enumerate(phones):
                if not links.link_phone(conn, phone["id"], requested.get("dataLocalizationRegion")):
                    raise InvalidParametersException(
                        f"setupFinalization.phoneNumbers[{index}].id {ids.phone_number_id(phone['id'])} "
                        "is already linked.")
                put_checked_tags(conn, ids.phone_number_arn(ctx.region, ctx.account_id, phone["id"]),
                                 requested.get("tags"), f"setupFinalization.phoneNumbers[{index}].tags")

    def _finalization_target(self, conn: Cursor, ctx: RequestContext, value: str | None, field: str) -> Row:
        """The linked WABA named by a linked id, its ARN, or Meta's WABA id."""
        if not value:
            raise InvalidParametersException(f"{field} must be given.")
        hex_id = owned_hex_id(value, "waba", ctx)
        if hex_id is not None:
            waba = links.get_waba(conn, ctx.account_id, ctx.region, hex_id)
        elif value.isdigit():
            waba = links.find_waba_by_meta_id(conn, ctx.account_id, ctx.region, value)
        else:
            waba = None
        if waba is None:
            raise InvalidParametersException(
                f"{field} {value} is not a WhatsApp Business Account discovered by this associateInProgressToken; "
                "use a wabaId from linkedAccountsWithIncompleteSetup in the signupCallback answer.")
        return waba

    def _finalization_phones(self, conn: Cursor, ctx: RequestContext, requested_phones: list[Any],
                             discovered_hex_ids: list[str]) -> list[tuple[Row, Any]]:
        if not requested_phones:
            raise InvalidParametersException("setupFinalization.phoneNumbers must name at least one phone number.")
        chosen: list[tuple[Row, Any]] = []
        seen: set[str] = set()
        for index, requested in enumerate(requested_phones):
            field = f"setupFinalization.phoneNumbers[{index}]"
            hex_id = owned_hex_id(requested["id"], "phone-number-id", ctx)
            phone = links.get_phone(conn, ctx.account_id, ctx.region, hex_id) if hex_id is not None else None
            if phone is None or phone["id"] not in discovered_hex_ids:
                hint = (" That looks like Meta's phone number id; use the phoneNumberId "
                        "(phone-number-id-<32 hex digits>) from unregisteredWhatsAppPhoneNumbers in the "
                        "signupCallback answer.") if requested["id"].isdigit() else ""
                raise InvalidParametersException(
                    f"{field}.id {requested['id']} is not a phone number discovered by this "
                    f"associateInProgressToken for this WhatsApp Business Account.{hint}")
            if phone["linked"]:
                raise InvalidParametersException(f"{field}.id {requested['id']} is already linked.")
            if phone["id"] in seen:
                raise InvalidParametersException(f"{field}.id {requested['id']} is given more than once.")
            seen.add(phone["id"])
            if not TWO_FACTOR_PIN.fullmatch(requested["twoFactorPin"]):
                raise InvalidParametersException(f"{field}.twoFactorPin must be exactly 6 digits.")
            region = requested.get("dataLocalizationRegion")
            if region is not None and region not in DATA_LOCALIZATION_REGIONS:
                raise InvalidParametersException(
                    f"{field}.dataLocalizationRegion {region} is not supported; use one of "
                    f"{', '.join(sorted(DATA_LOCALIZATION_REGIONS))}.")
            chosen.append((phone, requested))
        return chosen


_INVALID_TOKEN_REASONS = {
    "expired": "the token has expired",
    "revoked": "the token was revoked (the user logged out, changed their password or removed the app)",
    "unknown": "Meta did not issue this token (check that the whole token was passed)",
}


def describe_invalid_token(token: TokenInfo) -> str:
    return _INVALID_TOKEN_REASONS.get(token.invalid_reason or "unknown", _INVALID_TOKEN_REASONS["unknown"])


def refuse_if_linked_elsewhere(conn: Cursor, ctx: RequestContext, meta_waba_id: str, field: str) -> None:
    """A Meta WABA is linked into one AWS account and region at a time: a second link would let
    either side's disassociation unregister the other's numbers at Meta."""
    if links.complete_link_elsewhere(conn, meta_waba_id, ctx.account_id, ctx.region) is not None:
        raise InvalidParametersException(
            f"{field}: WhatsApp Business Account {meta_waba_id} is already linked to another AWS account or "
            "region; disassociate it there (DisassociateWhatsAppBusinessAccount) before linking it here.")
