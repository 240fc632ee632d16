"""The web console over HTTP without a browser (tests/browser/ has the real-browser ones): the
sign-up through Meta's simulated embedded sign-up and both association phases, errors on the
form, linked accounts pages and their edits, one account per session, CSRF and Origin checks,
strict-mode login."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.console import ConsoleUser, Page, sign_up_on_meta
from tests.support.flows import linked_waba
from tests.support.servers import new_account_id
from wabalink.console import integrations

PIN = "setupFinalization.phoneNumbers[0].twoFactorPin"
REGION = "setupFinalization.phoneNumbers[0].dataLocalizationRegion"
DESTINATION = "setupFinalization.waba.eventDestinations[0].eventDestinationArn"


def console_user(server: Any, account_id: str) -> ConsoleUser:
    user = ConsoleUser(server.endpoint)
    home = user.get("/console/")
    chosen = user.post("/console/account", {"account": account_id, "region": "us-east-1", "next": "/console/"},
                       csrf=home.csrf())
    assert chosen.status == 200 and account_id in chosen.text
    return user


def phase_one(user: ConsoleUser, business: str) -> Page:
    token = sign_up_on_meta(user, business)
    start = user.get("/console/signup")
    finalize = user.post("/console/signup/associate", {"signupCallback.accessToken": token}, csrf=start.csrf())
    assert finalize.status == 200, finalize.text
    return finalize


def finalize_fields(page: Page, **fields: str) -> dict[str, str]:
    return {"phase1": page.hidden("phase1"), "setupFinalization.waba.id": page.hidden("setupFinalization.waba.id"),
            "include[0]": "yes", **fields}


def test_sign_up_then_finalize_links_the_waba_seen_by_boto3(server: Any) -> None:
    account = new_account_id()
    user = console_user(server, account)
    finalize = phase_one(user, "Console Co")
    waba_id = finalize.hidden("setupFinalization.waba.id")
    linked = user.post("/console/signup/finalize", finalize_fields(finalize, **{
        PIN: "123456", REGION: "DE", DESTINATION: "arn:aws:sns:us-east-1:000000000000:console-events",
        "setupFinalization.waba.tags": "team=support\ncost-center=42"}), csrf=finalize.csrf())
    assert linked.status == 200 and linked.url.endswith(f"/console/wabas/{waba_id}?linked=1")
    assert linked.testid("registration-status") == ["COMPLETE"]

    client = server.client(account)
    account_view = client.get_linked_whatsapp_business_account(id=waba_id)["account"]
    assert account_view["registrationStatus"] == "COMPLETE" and account_view["wabaName"] == "Console Co"
    assert account_view["eventDestinations"][0]["eventDestinationArn"].endswith(":console-events")
    assert account_view["phoneNumbers"][0]["dataLocalizationRegion"] == "DE"
    tags = client.list_tags_for_resource(resourceArn=account_view["arn"])["tags"]
    assert {t["key"]: t["value"] for t in tags} == {"team": "support", "cost-center": "42"}
    listed = user.get("/console/")
    assert waba_id in listed.text and 'data-testid="linked-account-row"' in listed.text


def test_a_bad_pin_is_shown_on_its_field_keeping_what_was_typed(server: Any) -> None:
    user = console_user(server, new_account_id())
    finalize = phase_one(user, "Typo Co")
    refused = user.post("/console/signup/finalize", finalize_fields(finalize, **{
        PIN: "12a4", REGION: "JP", DESTINATION: "arn:aws:sns:us-east-1:000000000000:kept"}), csrf=finalize.csrf())
    assert refused.status == 400
    assert refused.testid("field-error") == ["setupFinalization.phoneNumbers[0].twoFactorPin must be exactly 6 digits."]
    assert 'aria-invalid="true"' in refused.text
    assert 'value="arn:aws:sns:us-east-1:000000000000:kept"' in refused.text
    assert '<option value="JP" selected>' in refused.text
    # The same form still works once the PIN is right.
    linked = user.post("/console/signup/finalize", finalize_fields(finalize, **{PIN: "654321"}), csrf=finalize.csrf())
    assert linked.testid("registration-status") == ["COMPLETE"]


def test_an_expired_or_unknown_token_is_refused_on_the_form(server: Any) -> None:
    user = console_user(server, new_account_id())
    start = user.get("/console/signup")
    refused = user.post("/console/signup/associate", {"signupCallback.accessToken": "EAAWnot-a-token"},
                        csrf=start.csrf())
    assert refused.status == 400
    assert "signupCallback.accessToken" in refused.testid("field-error")[0]
    assert 'value="EAAWnot-a-token"' in refused.text


def test_the_embedded_sign_up_checks_the_code_and_only_hands_tokens_to_the_console(server: Any) -> None:
    user = ConsoleUser(server.endpoint)
    number = user.post("/meta/signup/business", {"businessId": "new", "businessName": "Code Co"})
    verify = user.post("/meta/signup/number", {"state": number.hidden("state")})
    wrong = user.post("/meta/signup/verify", {"state": verify.hidden("state"), "code": "999999x"})
    code = verify.testid("signup-sms-code")[0]
    if code == "999999":
        return  # one chance in a million: the typed code was right
    assert wrong.status == 400 and "not the code" in wrong.testid("signup-error")[0]
    added = user.post("/meta/signup/verify", {"state": wrong.hidden("state"), "code": code,
                                              "redirect_uri": "/console/signup/callback"})
    finished = user.post("/meta/signup/finish", {"state": added.hidden("state"),
                                                 "redirect_uri": "/console/signup/callback"})
    assert 'href="/console/signup/callback#access_token=EAAW' in finished.text
    elsewhere = user.post("/meta/signup/finish", {"state": added.hidden("state"),
                                                  "redirect_uri": "https://attacker.example/steal"})
    assert "attacker.example" not in elsewhere.text and elsewhere.testid("signup-token")
    forged = user.post("/meta/signup/finish", {"state": added.hidden("state")[:-2] + "00"})
    assert forged.status == 400

    # A second sign-up may choose the business the first one created.
    first_waba = number.testid("signup-waba-id")[0]
    business_id = server.sandbox("GET", f"/wabas/{first_waba}")["businessId"]
    assert f'<option value="{business_id}">Code Co ({business_id})</option>' in user.get("/meta/signup/").text
    second = user.post("/meta/signup/business", {"businessId": business_id, "wabaName": "Code Co Two"})
    assert server.sandbox("GET", f"/wabas/{second.testid('signup-waba-id')[0]}")["businessId"] == business_id


def test_linked_accounts_are_paged(start_server: Any) -> None:
    server = start_server(extra_args=["--waba-quota", "30"])
    account = new_account_id()
    client = server.client(account)
    for index in range(27):
        linked_waba(server, client, f"Paged {index}")
    user = console_user(server, account)
    first = user.get("/console/")
    assert first.text.count('data-testid="linked-account-row"') == 25
    next_link = first.text.split('href="/console/?next=', 1)[1].split('"', 1)[0]
    second = user.get("/console/?next=" + next_link)
    assert second.text.count('data-testid="linked-account-row"') == 2


def test_waba_page_edits_destination_and_tags_then_disassociates(server: Any) -> None:
    account = new_account_id()
    client = server.client(account)
    _, entry = linked_waba(server, client, "Edit Co")
    waba_id = entry["wabaId"]
    user = console_user(server, account)
    page = user.get(f"/console/wabas/{waba_id}")
    assert page.status == 200 and page.testid("waba-name") == ["Edit Co"]

    bad = user.post(f"/console/wabas/{waba_id}/event-destinations",
                    {"eventDestinations[0].eventDestinationArn": "not-an-arn"}, csrf=page.csrf())
    assert bad.status == 400 and bad.testid("field-error") and 'value="not-an-arn"' in bad.text
    arn = "arn:aws:sns:us-east-1:000000000000:edited"
    user.post(f"/console/wabas/{waba_id}/event-destinations", {"eventDestinations[0].eventDestinationArn": arn},
              csrf=page.csrf())
    view = client.get_linked_whatsapp_business_account(id=waba_id)["account"]
    assert view["eventDestinations"] == [{"eventDestinationArn": arn}]

    user.post(f"/console/wabas/{waba_id}/tags", {"tags[0].key": "env", "tags[0].value": "test"}, csrf=page.csrf())
    assert client.list_tags_for_resource(resourceArn=view["arn"])["tags"] == [{"key": "env", "value": "test"}]
    too_long = user.post(f"/console/wabas/{waba_id}/tags", {"tags[0].key": "k" * 200, "tags[0].value": "v"},
                         csrf=page.csrf())
    assert too_long.status == 400 and "tags[0].key" in too_long.testid("field-error")[0]
    user.post(f"/console/wabas/{waba_id}/tags", {"tagKeys[0]": "env"}, csrf=page.csrf())
    assert client.list_tags_for_resource(resourceArn=view["arn"])["tags"] == []

    phone_id = view["phoneNumbers"][0]["phoneNumberId"]
    number = user.get(f"/console/phone-numbers/{phone_id}")
    assert number.status == 200 and view["phoneNumbers"][0]["metaPhoneNumberId"] in number.text

    unconfirmed = user.post(f"/console/wabas/{waba_id}/disassociate", {}, csrf=page.csrf())
    assert "Disassociate Edit Co?" in unconfirmed.text
    user.post(f"/console/wabas/{waba_id}/disassociate", {"confirm": "yes"}, csrf=page.csrf())
    assert client.list_linked_whatsapp_business_accounts()["linkedAccounts"] == []


def test_one_account_never_sees_another_accounts_resources(server: Any) -> None:
    owner = new_account_id()
    _, entry = linked_waba(server, server.client(owner), "Private Co")
    phone_id = entry["unregisteredWhatsAppPhoneNumbers"][0]["phoneNumberId"]
    other = console_user(server, new_account_id())
    assert entry["wabaId"] not in other.get("/console/").text
    for path in (f"/console/wabas/{entry['wabaId']}", f"/console/phone-numbers/{phone_id}",
                 f"/console/phone-numbers/{phone_id}/inbox"):
        assert other.get(path).status == 404
    page = other.get("/console/")
    refused = other.post(f"/console/wabas/{entry['wabaId']}/disassociate", {"confirm": "yes"}, csrf=page.csrf())
    assert refused.status == 400
    assert server.client(owner).list_linked_whatsapp_business_accounts()["linkedAccounts"]


def test_cross_site_form_posts_are_refused(server: Any) -> None:
    account = new_account_id()
    _, entry = linked_waba(server, server.client(account), "Guarded Co")
    user = console_user(server, account)
    page = user.get("/console/")
    target = f"/console/wabas/{entry['wabaId']}/disassociate"
    assert user.post(target, {"confirm": "yes"}).status == 403  # no CSRF token
    assert user.post(target, {"confirm": "yes"}, csrf="0" * 40).status == 403  # a wrong one
    assert user.post(target, {"confirm": "yes"}, csrf=page.csrf(), origin="https://attacker.example").status == 403
    stranger = ConsoleUser(server.endpoint)  # no session cookie at all (SameSite=Strict keeps it home)
    assert stranger.post(target, {"confirm": "yes"}, csrf=page.csrf()).status == 403
    assert server.client(account).list_linked_whatsapp_business_accounts()["linkedAccounts"]


def test_pages_of_areas_not_built_say_so(server: Any) -> None:
    account = new_account_id()
    _, entry = linked_waba(server, server.client(account), "Later Co")
    phone_id = entry["unregisteredWhatsAppPhoneNumbers"][0]["phoneNumberId"]
    user = console_user(server, account)
    pages = {f"/console/phone-numbers/{phone_id}/inbox": integrations.inbox_available(),
             "/console/events": integrations.event_log() is not None}
    for path, available in pages.items():
        page = user.get(path)
        assert page.status == 200
        assert bool(page.testid("not-available")) != available


def test_static_files_and_the_console_switch(server: Any, start_server: Any) -> None:
    user = ConsoleUser(server.endpoint)
    assert user.get("/console/static/console.js").status == 200
    assert user.get("/console/static/../templates/base.html").status == 404
    off = start_server(extra_args=["--no-console"])
    assert ConsoleUser(off.endpoint).get("/console/").status == 404
    assert ConsoleUser(off.endpoint).get("/meta/signup/").status != 200


KEYS = {"AKIACONSOLETEST00001": {"secret": "console-secret/abcdefghijklmnopqrstuvwx", "account": "210987654321"}}


@pytest.fixture
def strict_server(start_server: Any, tmp_path: Path) -> Any:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps(KEYS))
    return start_server(extra_args=["--auth", "strict", "--credentials", str(credentials)],
                        env={"WABALINK_SANDBOX_TOKEN": "operator-sandbox-token"})


def test_strict_mode_asks_for_a_key_and_refuses_a_wrong_secret(strict_server: Any) -> None:
    user = ConsoleUser(strict_server.endpoint)
    login = user.get("/console/")
    assert login.url.endswith("/console/login?next=/console/")
    assert user.get("/meta/signup/").status == 403  # Meta's sign-up needs a signed-in console user
    refused = user.post("/console/login", {"accessKeyId": "AKIACONSOLETEST00001", "secretAccessKey": "wrong",
                                           "next": "/console/"}, csrf=login.csrf())
    assert refused.status == 403 and refused.testid("login-error")
    assert user.get("/console/").url.endswith("/console/login?next=/console/")
    signed_in = user.post("/console/login", {"accessKeyId": "AKIACONSOLETEST00001",
                                             "secretAccessKey": KEYS["AKIACONSOLETEST00001"]["secret"],
                                             "next": "/console/"}, csrf=login.csrf())
    assert signed_in.status == 200 and "Account 210987654321" in signed_in.text
    # The account is the key's: the chooser cannot switch it.
    user.post("/console/account", {"account": "000000000000", "region": "us-east-1"}, csrf=signed_in.csrf())
    assert "Account 210987654321" in user.get("/console/").text
    # The whole sign-up works there too, and the token from before login is worthless now.
    assert user.post("/console/logout", {}, csrf=login.csrf()).status == 403
    assert user.post("/meta/signup/business", {"businessId": "1234", "businessName": "x"}).status == 400
    finalize = phase_one(user, "Strict Console Co")
    linked = user.post("/console/signup/finalize", finalize_fields(finalize, **{PIN: "123456"}), csrf=finalize.csrf())
    assert linked.testid("registration-status") == ["COMPLETE"]
    user.post("/console/logout", {}, csrf=linked.csrf())
    assert user.get("/console/").url.endswith("/console/login?next=/console/")


def test_repeated_wrong_secrets_lock_the_key_out_for_a_while(strict_server: Any) -> None:
    user = ConsoleUser(strict_server.endpoint)
    login = user.get("/console/")
    wrong = {"accessKeyId": "AKIACONSOLETEST00001", "secretAccessKey": "guess", "next": "/console/"}
    statuses = [user.post("/console/login", wrong, csrf=login.csrf()).status for _ in range(6)]
    assert statuses == [403] * 5 + [429]
    # Even the right secret is refused during the lockout: guessing gains nothing.
    right = {**wrong, "secretAccessKey": KEYS["AKIACONSOLETEST00001"]["secret"]}
    locked = user.post("/console/login", right, csrf=login.csrf())
    assert locked.status == 429 and "try again in" in locked.text
