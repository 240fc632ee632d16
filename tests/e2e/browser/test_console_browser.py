"""The console in real headless Chromium: the whole sign-up through Meta's simulated embedded
sign-up and both association phases (a bad PIN on the form first), the WABA then seen by boto3;
strict-mode login with a wrong secret refused and a cross-site form post refused; the inbox and
the event log live (skipped until the messaging modules are part of the build)."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import screenshot
from tests.support.flows import linked_waba
from tests.support.servers import new_account_id
from wabalink.console import integrations

WAIT_SECONDS = 15


def wait_for(driver: Any, testid: str, *, text: str | None = None) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    locator = (By.CSS_SELECTOR, f'[data-testid="{testid}"]')
    if text is not None:
        WebDriverWait(driver, WAIT_SECONDS).until(expected_conditions.text_to_be_present_in_element(locator, text))
    return WebDriverWait(driver, WAIT_SECONDS).until(expected_conditions.presence_of_element_located(locator))


def by_testid(driver: Any, testid: str) -> list[Any]:
    from selenium.webdriver.common.by import By
    return driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def choose_account(driver: Any, endpoint: str, account_id: str) -> None:
    driver.get(endpoint + "/")
    field = wait_for(driver, "account-id")
    field.clear()
    field.send_keys(account_id)
    field.submit()
    wait_for(driver, "link-account")
    assert wait_for(driver, "account-id").get_attribute("value") == account_id


def test_sign_up_and_finalize_in_the_browser(fresh_browser: Any, server: Any) -> None:
    from selenium.webdriver.support.ui import Select

    driver, account = fresh_browser, new_account_id()
    choose_account(driver, server.endpoint, account)
    wait_for(driver, "link-account").click()
    wait_for(driver, "signup-start").click()

    # Meta's side: a new business and its WABA, a number verified with the code "texted" to it.
    wait_for(driver, "signup-business-name").send_keys("Browser Bakery")
    wait_for(driver, "signup-create-waba").click()
    wait_for(driver, "signup-add-number").click()
    code = wait_for(driver, "signup-sms-code").text
    screenshot(driver, "signup")
    wait_for(driver, "signup-verify-code").send_keys("000000" if code != "000000" else "111111")
    wait_for(driver, "signup-verify").click()
    assert "not the code" in wait_for(driver, "signup-error").text
    field = wait_for(driver, "signup-verify-code")
    field.clear()
    field.send_keys(code)
    wait_for(driver, "signup-verify").click()
    wait_for(driver, "signup-finish").click()

    # Back in the console (token handed back in the fragment, phase 1 run): PIN, region, destination.
    wait_for(driver, "finalize-pin").send_keys("12")
    Select(wait_for(driver, "finalize-region")).select_by_value("DE")
    wait_for(driver, "finalize-event-destination").send_keys("arn:aws:sns:us-east-1:000000000000:bakery")
    wait_for(driver, "finalize-submit").click()
    assert "twoFactorPin" in wait_for(driver, "field-error").text
    assert wait_for(driver, "finalize-event-destination").get_attribute("value").endswith(":bakery")
    assert Select(wait_for(driver, "finalize-region")).first_selected_option.get_attribute("value") == "DE"
    pin = wait_for(driver, "finalize-pin")
    pin.clear()
    pin.send_keys("123456")
    wait_for(driver, "finalize-submit").click()
    wait_for(driver, "registration-status", text="COMPLETE")
    screenshot(driver, "account")

    waba_id = wait_for(driver, "waba-id").text
    linked = server.client(account).list_linked_whatsapp_business_accounts()["linkedAccounts"]
    assert [(a["id"], a["wabaName"], a["registrationStatus"]) for a in linked] == [
        (waba_id, "Browser Bakery", "COMPLETE")]
    assert linked[0]["eventDestinations"][0]["eventDestinationArn"].endswith(":bakery")
    driver.get(server.endpoint + "/console/")
    assert [row.get_attribute("data-waba-id") for row in by_testid(driver, "linked-account-row")] == [waba_id]

    # Readable on a phone: the account page fits a 390 px wide screen without sideways scrolling.
    driver.set_window_size(390, 844)
    try:
        driver.get(f"{server.endpoint}/console/wabas/{waba_id}")
        wait_for(driver, "registration-status", text="COMPLETE")
        too_wide = driver.execute_script(
            "var out = []; document.querySelectorAll('body *').forEach(function (e) {"
            "  if (!e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1) {"
            "    out.push(e.tagName + '.' + e.className + ' ' + (e.id || e.getAttribute('name') || '')); }"
            "}); return out;")
        assert too_wide == []
    finally:
        driver.set_window_size(1200, 860)


KEYS = {"AKIABROWSERTEST00001": {"secret": "browser-secret/abcdefghijklmnopqrstuvw", "account": "123498765012"}}


@pytest.fixture
def strict_server(start_server: Any, tmp_path: Path) -> Any:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps(KEYS))
    return start_server(extra_args=["--auth", "strict", "--credentials", str(credentials)],
                        env={"WABALINK_SANDBOX_TOKEN": "operator-sandbox-token"})


def test_strict_login_and_a_cross_site_post_in_the_browser(fresh_browser: Any, strict_server: Any) -> None:
    driver = fresh_browser
    (key, entry), = KEYS.items()
    _, linked = linked_waba(strict_server, strict_server.client(key, secret=entry["secret"]), "Strict Bakery")
    driver.get(strict_server.endpoint + "/console/")
    wait_for(driver, "login-access-key-id").send_keys(key)
    wait_for(driver, "login-secret").send_keys("not-the-secret")
    wait_for(driver, "login-submit").click()
    assert "not a pair" in wait_for(driver, "login-error").text
    wait_for(driver, "login-access-key-id").clear()
    wait_for(driver, "login-access-key-id").send_keys(key)
    wait_for(driver, "login-secret").send_keys(entry["secret"])
    wait_for(driver, "login-submit").click()
    assert wait_for(driver, "account-id").text == f"Account {entry['account']}"
    assert [row.get_attribute("data-waba-id") for row in by_testid(driver, "linked-account-row")] == [linked["wabaId"]]

    # Another site's page posting the console's disassociate form: refused, nothing changes.
    target = f"{strict_server.endpoint}/console/wabas/{linked['wabaId']}/disassociate"
    attacker = (f'<form method="post" action="{target}"><input name="confirm" value="yes">'
                f'<button id="go">Win a prize</button></form>')
    driver.get("data:text/html," + urllib.parse.quote(attacker))
    driver.find_element("id", "go").click()
    refused = wait_for(driver, "refused")
    assert "cross-site" in refused.text or "session" in refused.text or "CSRF" in refused.text
    accounts = strict_server.client(key, secret=entry["secret"]).list_linked_whatsapp_business_accounts()
    assert [a["id"] for a in accounts["linkedAccounts"]] == [linked["wabaId"]]


needs_messaging = pytest.mark.skipif(
    not integrations.inbox_available() or integrations.event_log() is None,
    reason="needs the messaging modules (wabalink.meta.inbound and wabalink.service.events), not in this build yet")


@needs_messaging
def test_a_customer_reply_typed_in_the_inbox_arrives_as_an_inbound_event(fresh_browser: Any, server: Any) -> None:
    driver, account = fresh_browser, new_account_id()
    _, entry = linked_waba(server, server.client(account), "Inbox Bakery")
    phone_id = entry["unregisteredWhatsAppPhoneNumbers"][0]["phoneNumberId"]
    choose_account(driver, server.endpoint, account)
    driver.get(f"{server.endpoint}/console/phone-numbers/{phone_id}/inbox")
    sender = wait_for(driver, "inbox-from")
    sender.clear()
    sender.send_keys("+15550109876")
    wait_for(driver, "inbox-compose-text").send_keys("Do you have sourdough today?")
    wait_for(driver, "inbox-send").click()
    wait_for(driver, "inbox-conversation", text="15550109876")
    wait_for(driver, "message", text="Do you have sourdough today?")
    driver.get(f"{server.endpoint}/console/events?phone={phone_id}")
    event = wait_for(driver, "event-row")
    assert "Do you have sourdough today?" in event.get_attribute("textContent")
    assert by_testid(driver, "event-replay")


@needs_messaging
def test_a_status_turns_to_read_on_the_page_without_reload(fresh_browser: Any, server: Any) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver, account = fresh_browser, new_account_id()
    client = server.client(account)
    _, entry = linked_waba(server, client, "Status Bakery")
    phone = entry["unregisteredWhatsAppPhoneNumbers"][0]
    customer = "+15550104321"
    server.sandbox("POST", f"/phone-numbers/{phone['metaPhoneNumberId']}/inbound",
                   {"from": customer, "text": "Hi! Are you open?"})  # opens the 24-hour window
    choose_account(driver, server.endpoint, account)
    driver.get(f"{server.endpoint}/console/phone-numbers/{phone['phoneNumberId']}/inbox?with={customer[1:]}")
    wait_for(driver, "message", text="Hi! Are you open?")
    driver.execute_script("window.stillTheSamePage = true;")
    message = {"messaging_product": "whatsapp", "to": customer, "type": "text", "text": {"body": "Yes, until 6."}}
    client.send_whatsapp_message(originationPhoneNumberId=phone["phoneNumberId"], metaApiVersion="v21.0",
                                 message=json.dumps(message).encode())
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: any(s.text == "read" for s in by_testid(d, "message-status")))
    assert driver.execute_script("return window.stillTheSamePage === true;")
    screenshot(driver, "inbox")
