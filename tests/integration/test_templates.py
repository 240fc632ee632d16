"""Message templates through boto3 against a live server: Meta's template rules, duplicates, get,
list with pages, update, delete, the template library, reviews (sandbox route and CLI command),
the approval delay, and the checks a template send must pass."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import REPO_ROOT
from tests.support.flows import linked_waba

ORDER_UPDATE = {
    "name": "order_update", "language": "en_US", "category": "UTILITY",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["#1"]}},
        {"type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped.",
         "example": {"body_text": [["Jim", "#12345"]]}},
        {"type": "FOOTER", "text": "Reply STOP to opt out"},
        {"type": "BUTTONS", "buttons": [
            {"type": "URL", "text": "Track", "url": "https://example.com/t/{{1}}", "example": ["https://example.com/t/1"]},
            {"type": "QUICK_REPLY", "text": "Thanks"}]},
    ]}


def definition(**changes: Any) -> bytes:
    return json.dumps({**ORDER_UPDATE, **changes}).encode()


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture
def linked(server: Any, account_id: str) -> tuple[Any, str, dict[str, Any]]:
    client = server.client(account_id)
    meta_waba, entry = linked_waba(server, client, "Templates Co")
    return client, entry["wabaId"], meta_waba


def names_of(templates: list[dict[str, Any]]) -> list[str]:
    return sorted(template["templateName"] for template in templates)


def test_create_get_update_delete(server: Any, linked: Any) -> None:
    client, waba_id, _ = linked
    created = client.create_whatsapp_message_template(id=waba_id, templateDefinition=definition())
    assert created["metaTemplateId"].isdigit()
    assert created["templateStatus"] == "APPROVED" and created["category"] == "UTILITY"

    by_id = json.loads(client.get_whatsapp_message_template(id=waba_id, metaTemplateId=created["metaTemplateId"])
                       ["template"])
    assert by_id["name"] == "order_update" and by_id["status"] == "APPROVED" and by_id["language"] == "en_US"
    assert [c["type"] for c in by_id["components"]] == ["HEADER", "BODY", "FOOTER", "BUTTONS"]
    by_name = json.loads(client.get_whatsapp_message_template(
        id=waba_id, templateName="order_update", templateLanguageCode="en_US")["template"])
    assert by_name["id"] == created["metaTemplateId"]

    code, message = error_of(client.create_whatsapp_message_template, id=waba_id, templateDefinition=definition())
    assert code == "InvalidParametersException" and "already" in message and "templateDefinition" in message

    spanish = client.create_whatsapp_message_template(id=waba_id, templateDefinition=definition(language="es"))
    new_body = [{"type": "BODY", "text": "Hola {{1}}", "example": {"body_text": [["Ana"]]}}]
    client.update_whatsapp_message_template(id=waba_id, metaTemplateId=spanish["metaTemplateId"],
                                            templateComponents=json.dumps(new_body).encode())
    updated = json.loads(client.get_whatsapp_message_template(
        id=waba_id, templateName="order_update", templateLanguageCode="es")["template"])
    assert updated["components"][0]["text"] == "Hola {{1}}"
    code, _ = error_of(client.update_whatsapp_message_template, id=waba_id, metaTemplateId=spanish["metaTemplateId"],
                       templateComponents=b'[{"type": "FOOTER", "text": "no body"}]')
    assert code == "InvalidParametersException"

    # One language, then every language of the name.
    client.delete_whatsapp_message_template(id=waba_id, templateName="order_update",
                                            metaTemplateId=spanish["metaTemplateId"])
    code, _ = error_of(client.get_whatsapp_message_template, id=waba_id, metaTemplateId=spanish["metaTemplateId"])
    assert code == "ResourceNotFoundException"
    client.create_whatsapp_message_template(id=waba_id, templateDefinition=definition(language="fr"))
    client.delete_whatsapp_message_template(id=waba_id, templateName="order_update", deleteAllLanguages=True)
    assert names_of(client.list_whatsapp_message_templates(id=waba_id)["templates"]) == ["hello_world"]
    code, _ = error_of(client.delete_whatsapp_message_template, id=waba_id, templateName="order_update")
    assert code == "ResourceNotFoundException"


@pytest.mark.parametrize("change, field_words", [
    ({"name": "Order-Update"}, "name"),
    ({"name": "x" * 513}, "name"),
    ({"language": "xx_XX"}, "language"),
    ({"category": "PROMO"}, "category"),
    ({"components": [{"type": "HEADER", "format": "TEXT", "text": "Hi"}]}, "BODY"),
    ({"components": [{"type": "BODY", "text": "x" * 1025}]}, "1024"),
    ({"components": [{"type": "BODY", "text": "Hi {{1}} and {{3}}", "example": {"body_text": [["a", "b"]]}}]},
     "sequence"),
    ({"components": [{"type": "BODY", "text": "Hi {{1}}"}]}, "example"),
    ({"components": [{"type": "BODY", "text": "Hi"}, {"type": "FOOTER", "text": "f" * 61}]}, "60"),
    ({"components": [{"type": "BODY", "text": "Hi"},
                     {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::bogus"]}}]},
     "header_handle"),
    ({"components": [{"type": "BODY", "text": "Hi"}, {"type": "BUTTONS", "buttons": [
        {"type": "QUICK_REPLY", "text": "t" * 26}]}]}, "text"),
    ({"components": [{"type": "BODY", "text": "Hi"}, {"type": "BUTTONS", "buttons": [
        {"type": "PHONE_NUMBER", "text": "a", "phone_number": "+15550100001"},
        {"type": "PHONE_NUMBER", "text": "b", "phone_number": "+15550100002"}]}]}, "PHONE_NUMBER"),
    ({"components": [{"type": "BODY", "text": "Hi"}, {"type": "BUTTONS", "buttons": [
        {"type": "COPY_CODE", "example": "WAYTOOLONGCOUPONCODE"}]}]}, "coupon"),
    ({"components": [{"type": "BODY", "text": "Hi"}, {"type": "BUTTONS", "buttons": [
        {"type": "OTP", "otp_type": "COPY_CODE"}]}]}, "AUTHENTICATION"),
    ({"category": "AUTHENTICATION", "components": [{"type": "BODY"}]}, "OTP"),
])
def test_template_rules(linked: Any, change: dict[str, Any], field_words: str) -> None:
    client, waba_id, _ = linked
    code, message = error_of(client.create_whatsapp_message_template, id=waba_id, templateDefinition=definition(**change))
    assert code == "InvalidParametersException", message
    assert message.startswith("templateDefinition") and field_words in message


def test_not_json_and_unknown_waba(linked: Any) -> None:
    client, waba_id, meta_waba = linked
    code, message = error_of(client.create_whatsapp_message_template, id=waba_id, templateDefinition=b"{nope")
    assert code == "InvalidParametersException" and "templateDefinition" in message
    code, message = error_of(client.list_whatsapp_message_templates, id="waba-" + "0" * 32)
    assert code == "ResourceNotFoundException" and message.startswith("id: ")
    code, _ = error_of(client.get_whatsapp_message_template, id=waba_id, metaTemplateId="123456789012345")
    assert code == "ResourceNotFoundException"
    code, _ = error_of(client.get_whatsapp_message_template, id=waba_id, templateName="order_update")
    assert code == "InvalidParametersException"


def test_authentication_template(linked: Any) -> None:
    client, waba_id, _ = linked
    created = client.create_whatsapp_message_template(id=waba_id, templateDefinition=json.dumps({
        "name": "login_otp", "language": "en", "category": "AUTHENTICATION", "components": [
            {"type": "BODY", "add_security_recommendation": True},
            {"type": "FOOTER", "code_expiration_minutes": 10},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]}]}))
    template = json.loads(client.get_whatsapp_message_template(id=waba_id, metaTemplateId=created["metaTemplateId"])
                          ["template"])
    assert template["components"][0]["text"].startswith("*{{1}}* is your verification code.")
    assert template["components"][1]["text"] == "This code expires in 10 minutes."


def test_list_pages_and_tokens(server: Any, linked: Any, account_id: str) -> None:
    client, waba_id, _ = linked
    names = [f"notice_{i}" for i in range(5)]
    for name in names:
        client.create_whatsapp_message_template(id=waba_id, templateDefinition=definition(name=name))
    first = client.list_whatsapp_message_templates(id=waba_id, maxResults=2)
    assert len(first["templates"]) == 2 and "nextToken" in first
    seen = [t["templateName"] for t in first["templates"]]
    token = first["nextToken"]
    while token:
        page = client.list_whatsapp_message_templates(id=waba_id, maxResults=2, nextToken=token)
        seen += [t["templateName"] for t in page["templates"]]
        token = page.get("nextToken")
    assert sorted(seen) == sorted([*names, "hello_world"])  # hello_world: Meta's sample, in every WABA
    summary = next(t for t in first["templates"] if t["templateName"] != "hello_world")
    assert summary["templateStatus"] == "APPROVED" and summary["templateLanguage"] == "en_US"
    assert summary["templateCategory"] == "UTILITY" and summary["metaTemplateId"].isdigit()
    # A token is bound to the WABA it was issued for.
    other_waba = linked_waba(server, client, "Other Co")[1]["wabaId"]
    code, message = error_of(client.list_whatsapp_message_templates, id=other_waba, nextToken=first["nextToken"])
    assert code == "InvalidParametersException" and "nextToken" in message
    paginator = client.get_paginator("list_whatsapp_message_templates")
    assert sum(len(p["templates"]) for p in paginator.paginate(id=waba_id, PaginationConfig={"PageSize": 2})) == 6


def test_template_library(linked: Any) -> None:
    client, waba_id, _ = linked
    everything = client.list_whatsapp_template_library(id=waba_id, maxResults=100)["metaLibraryTemplates"]
    assert len(everything) >= 20
    entry = next(t for t in everything if t["templateName"] == "order_shipped")
    assert entry["templateCategory"] == "UTILITY" and entry["templateBody"].startswith("Good news")
    assert entry["templateButtons"][0]["type"] == "URL" and entry["templateBodyExampleParams"]

    auth = client.list_whatsapp_template_library(id=waba_id, filters={"topic": "AUTHENTICATION"})
    assert {t["templateCategory"] for t in auth["metaLibraryTemplates"]} == {"AUTHENTICATION"}
    searched = client.list_whatsapp_template_library(id=waba_id, filters={"searchKey": "appointment"})
    assert searched["metaLibraryTemplates"] and all("appointment" in t["templateName"]
                                                    for t in searched["metaLibraryTemplates"])
    industry = client.list_whatsapp_template_library(id=waba_id, filters={"industry": "TRAVEL", "usecase":
                                                                          "FLIGHT_STATUS_UPDATE"})
    assert [t["templateName"] for t in industry["metaLibraryTemplates"]] == ["flight_delay"]

    pages, token, seen = 0, None, []
    while pages < 10:
        params = {"id": waba_id, "maxResults": 3, "filters": {"language": "en_US"}}
        page = client.list_whatsapp_template_library(**params, **({"nextToken": token} if token else {}))
        seen += [t["templateName"] for t in page["metaLibraryTemplates"]]
        pages += 1
        token = page.get("nextToken")
        if token is None:
            break
        if pages == 1:  # the token is bound to the filters it was issued with
            code, message = error_of(client.list_whatsapp_template_library, id=waba_id, nextToken=token,
                                     filters={"language": "es"})
            assert code == "InvalidParametersException" and "nextToken" in message
    assert len(seen) == len(everything) == len(set(seen))
    code, message = error_of(client.list_whatsapp_template_library, id=waba_id, filters={"colour": "red"})
    assert code == "InvalidParametersException" and "filters.colour" in message


def test_create_from_library(linked: Any) -> None:
    client, waba_id, _ = linked
    created = client.create_whatsapp_message_template_from_library(id=waba_id, metaLibraryTemplate={
        "templateName": "my_shipping", "libraryTemplateName": "order_shipped", "templateCategory": "UTILITY",
        "templateLanguage": "en_US",
        "libraryTemplateButtonInputs": [{"type": "URL", "url": {"base_url": "https://shop.example.com/track/",
                                                                "url_suffix_example": "abc"}}]})
    assert created["category"] == "UTILITY"
    template = json.loads(client.get_whatsapp_message_template(id=waba_id, metaTemplateId=created["metaTemplateId"])
                          ["template"])
    assert template["library_template_name"] == "order_shipped"
    assert template["components"][-1]["buttons"][0]["url"] == "https://shop.example.com/track/{{1}}"

    otp = client.create_whatsapp_message_template_from_library(id=waba_id, metaLibraryTemplate={
        "templateName": "my_code", "libraryTemplateName": "verification_code", "templateCategory": "AUTHENTICATION",
        "templateLanguage": "en_US", "libraryTemplateBodyInputs": {"addSecurityRecommendation": True,
                                                                   "codeExpirationMinutes": 5}})
    assert otp["category"] == "AUTHENTICATION"
    code, message = error_of(client.create_whatsapp_message_template_from_library, id=waba_id, metaLibraryTemplate={
        "templateName": "no_url", "libraryTemplateName": "order_shipped", "templateCategory": "UTILITY",
        "templateLanguage": "en_US"})
    assert code == "InvalidParametersException" and "base_url" in message
    code, _ = error_of(client.create_whatsapp_message_template_from_library, id=waba_id, metaLibraryTemplate={
        "templateName": "nope", "libraryTemplateName": "no_such_library_template", "templateCategory": "UTILITY",
        "templateLanguage": "en_US"})
    assert code == "InvalidParametersException"


def review(server: Any, template_id: str, **body: Any) -> dict[str, Any]:
    return server.sandbox("POST", f"/templates/{template_id}/review", body)


def test_reviews_sandbox_and_cli(server: Any, linked: Any) -> None:
    client, waba_id, _ = linked
    template_id = client.create_whatsapp_message_template(id=waba_id, templateDefinition=definition())["metaTemplateId"]

    def status() -> str:
        return json.loads(client.get_whatsapp_message_template(id=waba_id, metaTemplateId=template_id)
                          ["template"])["status"]

    assert review(server, template_id, decision="PAUSED")["status"] == "PAUSED"
    assert status() == "PAUSED"
    cli = subprocess.run([sys.executable, "-m", "wabalink.cli.main", "meta", "review-template", "--endpoint",
                          server.endpoint, "--template-id", template_id, "--decision", "REJECTED",
                          "--reason", "INVALID_FORMAT", "--category", "MARKETING"],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert cli.returncode == 0, cli.stderr
    answer = json.loads(cli.stdout)
    assert answer["status"] == "REJECTED" and answer["reason"] == "INVALID_FORMAT"
    assert answer["category"] == "MARKETING" and answer["previousCategory"] == "UTILITY"
    summary = next(t for t in client.list_whatsapp_message_templates(id=waba_id)["templates"]
                   if t["metaTemplateId"] == template_id)  # beside Meta's hello_world sample
    assert summary["templateStatus"] == "REJECTED" and summary["templateCategory"] == "MARKETING"
    bad = subprocess.run([sys.executable, "-m", "wabalink.cli.main", "meta", "review-template", "--endpoint",
                          server.endpoint, "--template-id", "1", "--decision", "APPROVED"],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert bad.returncode == 254 and "not found" in bad.stderr


def test_approval_delay(start_server: Any) -> None:
    server = start_server(extra_args=["--template-approval-delay", "1.5"])
    client = server.client()
    _, entry = linked_waba(server, client, "Slow Review")
    created = client.create_whatsapp_message_template(id=entry["wabaId"], templateDefinition=definition())
    assert created["templateStatus"] == "PENDING"
    template_id = created["metaTemplateId"]
    code, message = error_of(client.update_whatsapp_message_template, id=entry["wabaId"], metaTemplateId=template_id,
                             templateCategory="MARKETING")
    assert code == "InvalidParametersException" and "PENDING" in message
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = server.sandbox("GET", f"/wabas/{server_waba(client, entry)}")  # the simulator is up
        assert state
        status = json.loads(client.get_whatsapp_message_template(id=entry["wabaId"], metaTemplateId=template_id)
                            ["template"])["status"]
        if status == "APPROVED":
            break
        time.sleep(0.3)
    assert status == "APPROVED"


def server_waba(client: Any, entry: dict[str, Any]) -> str:
    return client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]["wabaId"]


@pytest.fixture
def moto_s3(tmp_path: Any) -> Any:
    """A moto server (S3) in a child process; its endpoint URL."""
    pytest.importorskip("moto")
    from tests.support.servers import free_port

    port = free_port()
    log = open(tmp_path / "moto.log", "ab")  # noqa: SIM115 - moto writes to it until the fixture ends
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)], stdout=log,
                               stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).read()
            break
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None, "moto did not start"
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait(10)
    log.close()


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def test_template_media_from_s3(start_server: Any, moto_s3: str) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket="template-media")
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"
    s3.put_object(Bucket="template-media", Key="headers/logo.jpg", Body=jpeg, ContentType="image/jpeg")
    s3.put_object(Bucket="template-media", Key="notes.txt", Body=b"hello", ContentType="text/plain")
    s3.put_object(Bucket="template-media", Key="huge.png", Body=b"\0" * (5 * 1024 * 1024 + 1),
                  ContentType="image/png")

    server = start_server(env={**S3_ENV, "AWS_ENDPOINT_URL_S3": moto_s3})
    client = server.client()
    _, entry = linked_waba(server, client, "Media Co")
    waba_id = entry["wabaId"]
    handle = client.create_whatsapp_message_template_media(
        id=waba_id, sourceS3File={"bucketName": "template-media", "key": "headers/logo.jpg"})["metaHeaderHandle"]
    assert handle.startswith("4::aW1hZ2UvanBlZw==:")
    created = client.create_whatsapp_message_template(id=waba_id, templateDefinition=json.dumps({
        "name": "with_logo", "language": "en_US", "category": "MARKETING", "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [handle]}},
            {"type": "BODY", "text": "New arrivals are in."}]}))
    assert created["templateStatus"] == "APPROVED"

    for key, words in (("notes.txt", "text/plain"), ("missing.jpg", "does not exist"), ("huge.png", "at most")):
        code, message = error_of(client.create_whatsapp_message_template_media, id=waba_id,
                                 sourceS3File={"bucketName": "template-media", "key": key})
        assert code == "InvalidParametersException" and message.startswith("sourceS3File") and words in message
    code, _ = error_of(client.create_whatsapp_message_template_media, id=waba_id)
    assert code == "InvalidParametersException"


def test_templates_on_postgresql(start_server: Any) -> None:
    server = start_server("postgresql", extra_args=["--template-approval-delay", "0"])
    client = server.client()
    _, entry = linked_waba(server, client, "PG Templates")
    waba_id = entry["wabaId"]
    for name in ("pg_one", "pg_two", "pg_three"):
        client.create_whatsapp_message_template(id=waba_id, templateDefinition=definition(name=name))
    code, _ = error_of(client.create_whatsapp_message_template, id=waba_id, templateDefinition=definition(name="pg_one"))
    assert code == "InvalidParametersException"
    first = client.list_whatsapp_message_templates(id=waba_id, maxResults=2)
    second = client.list_whatsapp_message_templates(id=waba_id, maxResults=2, nextToken=first["nextToken"])
    assert sorted(t["templateName"] for t in first["templates"] + second["templates"]) == [
        "hello_world", "pg_one", "pg_three", "pg_two"]
    client.delete_whatsapp_message_template(id=waba_id, templateName="pg_two", deleteAllLanguages=True)
    assert len(client.list_whatsapp_message_templates(id=waba_id)["templates"]) == 3


def test_named_parameters_and_update_by_name(linked: Any) -> None:
    client, waba_id, _ = linked
    named = {"name": "named_notice", "language": "en_GB", "category": "MARKETING", "parameter_format": "NAMED",
             "components": [{"type": "BODY", "text": "Hi {{first_name}}, {{offer}} ends soon.",
                             "example": {"body_text_named_params": [
                                 {"param_name": "first_name", "example": "Ann"},
                                 {"param_name": "offer", "example": "10% off"}]}}]}
    client.create_whatsapp_message_template(id=waba_id, templateDefinition=json.dumps(named))
    missing_sample = {**named, "name": "named_bad", "components": [
        {"type": "BODY", "text": "Hi {{first_name}}", "example": {"body_text_named_params": []}}]}
    code, message = error_of(client.create_whatsapp_message_template, id=waba_id,
                             templateDefinition=json.dumps(missing_sample))
    assert code == "InvalidParametersException" and "first_name" in message

    client.update_whatsapp_message_template(id=waba_id, templateName="named_notice", templateLanguageCode="en_GB",
                                            templateCategory="UTILITY")
    template = json.loads(client.get_whatsapp_message_template(
        id=waba_id, templateName="named_notice", templateLanguageCode="en_GB")["template"])
    assert template["category"] == "UTILITY" and template["parameter_format"] == "NAMED"
    code, _ = error_of(client.update_whatsapp_message_template, id=waba_id, templateName="named_notice",
                       templateLanguageCode="en_GB")
    assert code == "InvalidParametersException"  # nothing to change
    code, _ = error_of(client.update_whatsapp_message_template, id=waba_id, templateName="named_notice",
                       templateLanguageCode="de", templateCategory="UTILITY")
    assert code == "ResourceNotFoundException"


def test_meta_failing_and_unfinished_links(server: Any, account_id: str) -> None:
    from tests.support.flows import sign_up

    client = server.client(account_id)
    _, entry = linked_waba(server, client, "Flaky Meta")
    server.set_faults(failNextCalls=1, failStatus=503, pathContains="message_templates")
    try:
        code, _ = error_of(client.list_whatsapp_message_templates, id=entry["wabaId"])
    finally:
        server.clear_faults()
    assert code == "DependencyException"
    assert names_of(client.list_whatsapp_message_templates(id=entry["wabaId"])["templates"]) == ["hello_world"]

    pending_waba = server.create_waba("Half Linked", phone_numbers=1)
    _, incomplete = sign_up(client, pending_waba)
    code, message = error_of(client.create_whatsapp_message_template,
                             id=incomplete[pending_waba["wabaId"]]["wabaId"], templateDefinition=definition())
    assert code == "ResourceNotFoundException" and "INCOMPLETE" in message
