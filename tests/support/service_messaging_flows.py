"""A server wired for messaging tests: Meta's /messages answered by FakeGraph, events to moto's SNS."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.support.flows import finalize, sign_up
from tests.support.service_messaging import AWS_TEST_ENV, TEST_APP_SECRET, FakeGraph, MotoServer


@dataclass
class MessagingSetup:
    server: Any
    fake: FakeGraph
    moto: MotoServer | None


def start_messaging_server(start_server: Any, fake: FakeGraph, moto: MotoServer | None, database: str = "sqlite",
                           extra_args: list[str] | None = None, database_url: str | None = None,
                           env: dict[str, str] | None = None) -> Any:
    args = ["--meta-graph-url", fake.url, "--event-retry-max-delay", "1", *(extra_args or [])]
    if moto is not None:
        args += ["--sns-endpoint-url", moto.endpoint]
    server = start_server(database, args, env={**AWS_TEST_ENV, "WABALINK_META_APP_SECRET": TEST_APP_SECRET,
                                              **(env or {})}, database_url=database_url)
    wire_fake(fake, server)
    return server


def wire_fake(fake: FakeGraph, server: Any) -> None:
    from wabalink.meta.simulator import simulator_app_credentials
    from wabalink.store.db import Store

    store = Store(server.database_url)
    try:
        fake.app_token = simulator_app_credentials(store)[1]
    finally:
        store.dispose()
    fake.upstream = server.endpoint + "/meta/graph"


@dataclass
class LinkedNumber:
    waba_id: str
    meta_waba_id: str
    phone_id: str
    meta_phone_id: str


def link_number(server: Any, client: Any, topic_arn: str | None, role_arn: str | None = None) -> LinkedNumber:
    meta_waba = server.create_waba("Acme " + uuid.uuid4().hex[:6], phone_numbers=1)
    token, incomplete = sign_up(client, meta_waba)
    entry = incomplete[meta_waba["wabaId"]]
    destination = {"eventDestinationArn": topic_arn, **({"roleArn": role_arn} if role_arn else {})}
    extra = {"eventDestinations": [destination]} if topic_arn else {}
    finalize(client, token, entry, **extra)
    linked = client.get_linked_whatsapp_business_account(id=entry["wabaId"])["account"]
    phone = linked["phoneNumbers"][0]
    return LinkedNumber(linked["id"], linked["wabaId"], phone["phoneNumberId"], phone["metaPhoneNumberId"])
