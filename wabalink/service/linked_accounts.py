"""Linked accounts after the association: reading them, their phone numbers, event destinations,
and disassociation."""

from __future__ import annotations

import json
from typing import Any

from wabalink.aws.exceptions import InvalidParametersException, ResourceNotFoundException, ThrottledRequestException
from wabalink.aws.shapes import (
    DisassociateWhatsAppBusinessAccountInput,
    DisassociateWhatsAppBusinessAccountOutput,
    GetLinkedWhatsAppBusinessAccountInput,
    GetLinkedWhatsAppBusinessAccountOutput,
    GetLinkedWhatsAppBusinessAccountPhoneNumberInput,
    GetLinkedWhatsAppBusinessAccountPhoneNumberOutput,
    ListLinkedWhatsAppBusinessAccountsInput,
    ListLinkedWhatsAppBusinessAccountsOutput,
    PutWhatsAppBusinessAccountEventDestinationsInput,
    PutWhatsAppBusinessAccountEventDestinationsOutput,
    UpdateLinkedWhatsAppBusinessAccountPhoneNumberInput,
    UpdateLinkedWhatsAppBusinessAccountPhoneNumberOutput,
)
from wabalink.service import ids
from wabalink.service.destinations import checked_event_destinations
from wabalink.service.meta_errors import meta_errors, quietly
from wabalink.service.operations import Operations, RequestContext, operation
from wabalink.service.ownership import owned_hex_id, owned_phone, owned_waba, waba_not_found
from wabalink.service.rendering import render_phone, render_waba
from wabalink.store import links, tags

DEFAULT_LIST_PAGE_SIZE = 25
Row = dict[str, Any]


class LinkedAccounts(Operations):

    @operation("GetLinkedWhatsAppBusinessAccount", inline=True)
    def get_linked_whatsapp_business_account(
            self, ctx: RequestContext, params: GetLinkedWhatsAppBusinessAccountInput,
    ) -> GetLinkedWhatsAppBusinessAccountOutput:
        hex_id = owned_hex_id(params["id"], "waba", ctx)
        waba: Row | None = None
        phones: list[Row] = []
        if hex_id is not None:
            with self.store.reader(snapshot=False) as conn:
                waba, phones = links.get_waba_with_linked_phones(conn, ctx.account_id, ctx.region, hex_id)
        if waba is None:
            raise ResourceNotFoundException(waba_not_found("id", params["id"]))
        account: Any = render_waba(ctx, waba)
        account["phoneNumbers"] = [render_phone(ctx, phone) for phone in phones]
        return {"account": account}

    @operation("ListLinkedWhatsAppBusinessAccounts", inline=True)
    def list_linked_whatsapp_business_accounts(
            self, ctx: RequestContext, params: ListLinkedWhatsAppBusinessAccountsInput,
    ) -> ListLinkedWhatsAppBusinessAccountsOutput:
        limit = params.get("maxResults") or DEFAULT_LIST_PAGE_SIZE
        operation_name = "ListLinkedWhatsAppBusinessAccounts"
        position = self.deps.pages.position(ctx, operation_name, {}, params.get("nextToken"))
        after = (float(position[0]), str(position[1])) if position else None
        with self.store.reader() as conn:
            rows = links.list_wabas(conn, ctx.account_id, ctx.region, after, limit + 1)
        result: ListLinkedWhatsAppBusinessAccountsOutput = {
            "linkedAccounts": [render_waba(ctx, row) for row in rows[:limit]]}
        if len(rows) > limit:
            last = rows[limit - 1]
            result["nextToken"] = self.deps.pages.issue(ctx, operation_name, {}, [last["created_at"], last["id"]])
        return result

    @operation("GetLinkedWhatsAppBusinessAccountPhoneNumber")
    def get_linked_whatsapp_business_account_phone_number(
            self, ctx: RequestContext, params: GetLinkedWhatsAppBusinessAccountPhoneNumberInput,
    ) -> GetLinkedWhatsAppBusinessAccountPhoneNumberOutput:
        with self.store.reader() as conn:
            phone = owned_phone(conn, ctx, params["id"], "id", missing=ResourceNotFoundException)
        # The quality rating and display name are Meta's and change there: answer the current ones.
        with meta_errors("id"):
            meta_phone = self.graph.get_phone_number(phone["meta_phone_number_id"])
        current = {"quality_rating": meta_phone.quality_rating,
                   "display_phone_number_name": meta_phone.verified_name}
        if any(phone[key] != value for key, value in current.items()):
            phone = {**phone, **current}
            with self.store.writer() as conn:
                links.refresh_phone(conn, phone["id"], phone)
        result: GetLinkedWhatsAppBusinessAccountPhoneNumberOutput = {
            "phoneNumber": render_phone(ctx, phone),
            "linkedWhatsAppBusinessAccountId": ids.waba_id(phone["waba_link_id"])}
        if phone["call_settings"]:
            result["callSettings"] = json.loads(phone["call_settings"])
        return result

    @operation("UpdateLinkedWhatsAppBusinessAccountPhoneNumber")
    def update_linked_whatsapp_business_account_phone_number(
            self, ctx: RequestContext, params: UpdateLinkedWhatsAppBusinessAccountPhoneNumberInput,
    ) -> UpdateLinkedWhatsAppBusinessAccountPhoneNumberOutput:
        with self.store.writer() as conn:
            phone = owned_phone(conn, ctx, params["id"], "id", missing=ResourceNotFoundException)
            links.set_call_settings(conn, phone["id"], dict(params["callSettings"]))
        return {"phoneNumberId": ids.phone_number_id(phone["id"])}

    @operation("PutWhatsAppBusinessAccountEventDestinations")
    def put_whatsapp_business_account_event_destinations(
            self, ctx: RequestContext, params: PutWhatsAppBusinessAccountEventDestinationsInput,
    ) -> PutWhatsAppBusinessAccountEventDestinationsOutput:
        destinations = checked_event_destinations(params["eventDestinations"], "eventDestinations")
        with self.store.writer() as conn:
            # The operation declares no ResourceNotFoundException: an unknown id is a bad parameter.
            waba = owned_waba(conn, ctx, params["id"], "id", missing=InvalidParametersException)
            links.set_event_destinations(conn, waba["id"], destinations)
        return {}

    @operation("DisassociateWhatsAppBusinessAccount")
    def disassociate_whatsapp_business_account(
            self, ctx: RequestContext, params: DisassociateWhatsAppBusinessAccountInput,
    ) -> DisassociateWhatsAppBusinessAccountOutput:
        # Meta first (deregistering and unsubscribing are idempotent there), then the link goes in
        # one transaction, if it is still as Meta was told; a finalization that landed meanwhile
        # means telling Meta again.
        for _ in range(3):
            with self.store.reader() as conn:
                waba = owned_waba(conn, ctx, params["id"], "id", missing=ResourceNotFoundException)
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
                tags.delete_all_tags(conn, arns)
                links.delete_waba(conn, waba["id"])
                return {}
        raise ThrottledRequestException(f"id: linked WhatsApp Business Account {params['id']} kept changing while "
                                        "it was being disassociated; retry the call.")

    def _release_at_meta(self, waba: Row, phones: list[Row]) -> None:
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
                quietly(self.graph.deregister_phone_number, phone["meta_phone_number_id"])


def link_state(waba: Row, phones: list[Row]) -> tuple[str, frozenset[str]]:
    """What Meta was told about a link: its status and which numbers are linked."""
    return waba["registration_status"], frozenset(phone["id"] for phone in phones if phone["linked"])
