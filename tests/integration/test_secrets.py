"""The full flow at debug log level: no Meta access token, in-progress token or PIN appears in
the logs or as plain text in the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.flows import sign_up

PIN = "739164"


def database_bytes(database_url: str) -> bytes:
    path = Path(database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # the file, its -wal and -shm


def test_no_secret_in_logs_or_database(start_server: Any) -> None:
    server = start_server(extra_args=["--log-level", "debug"])
    client = server.client()
    meta_waba = server.create_waba("Secretive", phone_numbers=2)
    access_token = meta_waba["accessToken"]
    token, incomplete = sign_up(client, meta_waba)
    entry = incomplete[meta_waba["wabaId"]]
    # A rejected call too: error messages must not echo the secrets either.
    bad_pin = "12345"
    with_bad_pin = {"associateInProgressToken": token, "waba": {"id": entry["wabaId"]},
                    "phoneNumbers": [{"id": entry["unregisteredWhatsAppPhoneNumbers"][0]["phoneNumberId"],
                                      "twoFactorPin": bad_pin}]}
    try:
        client.associate_whatsapp_business_account(setupFinalization=with_bad_pin)
    except client.exceptions.InvalidParametersException as error:
        assert bad_pin not in str(error) and token not in str(error)
    client.associate_whatsapp_business_account(setupFinalization={
        "associateInProgressToken": token, "waba": {"id": entry["wabaId"]},
        "phoneNumbers": [{"id": phone["phoneNumberId"], "twoFactorPin": PIN}
                         for phone in entry["unregisteredWhatsAppPhoneNumbers"]]})
    server.stop()

    logs = server.logs()
    assert '"level": "debug"' in logs or "DEBUG" in logs.upper(), "the server did not log at debug level"
    stored = database_bytes(server.database_url)
    assert stored, "no database file found"
    for secret in (access_token, token, PIN):
        assert secret not in logs
        assert secret.encode() not in stored
