"""GraphClient.send_message: Meta's answers read strictly (a malformed one is GraphUnavailableError,
an error object GraphApiError with Meta's code)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_graph_client_answers import FakeGraph, client, fake  # noqa: F401 - fixtures
from wabalink.meta.client import GraphApiError, GraphClient, GraphUnavailableError

BODY = {"messaging_product": "whatsapp", "to": "+14255550150", "text": {"body": "Hi"}}


def test_accepted_message_answers_its_wamid(fake: FakeGraph, client: GraphClient) -> None:  # noqa: F811
    fake.answer({"messaging_product": "whatsapp", "contacts": [{"input": "+14255550150", "wa_id": "14255550150"}],
                 "messages": [{"id": "wamid.ABC", "message_status": "accepted"}]})
    assert client.send_message("223456789012345", "v20.0", BODY) == "wamid.ABC"
    fake.answer({"success": True})  # a mark-as-read
    assert client.send_message("223456789012345", "v20.0", b'{"messaging_product":"whatsapp"}') == ""


def test_graph_error_keeps_meta_code(fake: FakeGraph, client: GraphClient) -> None:  # noqa: F811
    fake.answer({"error": {"message": "Unknown path components", "type": "OAuthException", "code": 2500,
                           "fbtrace_id": "A"}}, status=400)
    with pytest.raises(GraphApiError) as raised:
        client.send_message("223456789012345", "v12.0", BODY)
    assert raised.value.code == 2500


@pytest.mark.parametrize("answer", [
    {"messaging_product": "whatsapp"}, {"messages": []}, {"messages": ["wamid"]}, {"messages": [{"id": 5}]},
    {"messages": [{"id": "w" * 201}]}, {"messages": [{}]},
])
def test_malformed_answers_are_unavailable(fake: FakeGraph, client: GraphClient, answer: Any) -> None:  # noqa: F811
    fake.answer(answer)
    with pytest.raises(GraphUnavailableError):
        client.send_message("223456789012345", "v20.0", BODY)


def test_version_and_phone_id_cannot_change_the_path(client: GraphClient) -> None:  # noqa: F811
    with pytest.raises(ValueError):
        client.send_message("223456789012345", "v20.0/../x", BODY)
