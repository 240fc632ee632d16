"""GraphClient's template methods against a misbehaving Graph API: every malformed answer is a
GraphUnavailableError (the service's DependencyException), never a 500 and never a success."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_graph_client_answers import Call, FakeGraph, client, fake  # noqa: F401 - fixtures
from wabalink.meta.client import GraphApiError, GraphClient, GraphUnavailableError

WABA_ID = "123456789012345"
TEMPLATE = {"id": "323456789012345", "name": "shipped", "language": "en_US", "status": "APPROVED",
            "category": "UTILITY", "components": [{"type": "BODY", "text": "Hi"}]}

CREATE: Call = lambda c: c.create_template(WABA_ID, {"name": "x"})  # noqa: E731
LIST: Call = lambda c: c.list_templates(WABA_ID, limit=10)  # noqa: E731
GET: Call = lambda c: c.get_template(TEMPLATE["id"])  # noqa: E731
UPDATE: Call = lambda c: c.update_template(TEMPLATE["id"], {"category": "MARKETING"})  # noqa: E731
DELETE: Call = lambda c: c.delete_template(WABA_ID, "shipped")  # noqa: E731
LIBRARY: Call = lambda c: c.list_template_library({}, limit=10)  # noqa: E731
UPLOAD: Call = lambda c: c.upload_template_media("a.png", "image/png", b"x")  # noqa: E731

MALFORMED: list[tuple[str, Call, Any]] = [
    ("create without id", CREATE, {"status": "PENDING", "category": "UTILITY"}),
    ("create with a path as id", CREATE, {"id": "1/../2", "status": "PENDING", "category": "UTILITY"}),
    ("create without status", CREATE, {"id": "1", "category": "UTILITY"}),
    ("create status not a string", CREATE, {"id": "1", "status": 1, "category": "UTILITY"}),
    ("list data not a list", LIST, {"data": {}}),
    ("list item without name", LIST, {"data": [{k: v for k, v in TEMPLATE.items() if k != "name"}]}),
    ("list item components not a list", LIST, {"data": [{**TEMPLATE, "components": "BODY"}]}),
    ("list item language too long", LIST, {"data": [{**TEMPLATE, "language": "x" * 16}]}),
    ("list quality score not an object", LIST, {"data": [{**TEMPLATE, "quality_score": "GREEN"}]}),
    ("template over 6000 characters", GET, {**TEMPLATE, "components": [{"type": "BODY", "text": "x" * 6000}]}),
    ("template name with NUL", GET, {**TEMPLATE, "name": "a\u0000b"}),
    ("update without success", UPDATE, {"success": "true"}),
    ("delete without success", DELETE, {}),
    ("library item without id", LIBRARY, {"data": [{"name": "a", "language": "en_US", "category": "UTILITY"}]}),
    ("library industry not a list", LIBRARY, {"data": [{"id": "1", "name": "a", "language": "en_US",
                                                        "category": "UTILITY", "industry": "RETAIL"}]}),
    ("library button text over 40", LIBRARY, {"data": [{"id": "1", "name": "a", "language": "en_US",
                                                        "category": "UTILITY", "buttons": [{"text": "t" * 41}]}]}),
    ("upload session id not upload:", UPLOAD, {"id": "12345"}),
]


@pytest.mark.parametrize(("call", "payload"), [(c, p) for _, c, p in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_malformed_template_answers(fake: FakeGraph, client: GraphClient, call: Call, payload: Any) -> None:  # noqa: F811
    fake.answer(payload)
    with pytest.raises(GraphUnavailableError):
        call(client)


def test_well_formed_answers(fake: FakeGraph, client: GraphClient) -> None:  # noqa: F811
    fake.answer({"data": [TEMPLATE], "paging": {"cursors": {"after": "MQ"}, "next": "x"}})
    page, after = client.list_templates(WABA_ID, limit=1)
    assert [t.name for t in page] == ["shipped"] and after == "MQ"
    fake.answer({"data": [TEMPLATE], "paging": {"cursors": {"after": "MQ"}}})
    assert client.list_templates(WABA_ID, limit=1)[1] is None  # no `next`: the last page
    fake.answer({"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                           "error_subcode": 2388024}}, status=400)
    with pytest.raises(GraphApiError) as caught:
        client.create_template(WABA_ID, {"name": "x"})
    assert caught.value.code == 100 and caught.value.error_subcode == 2388024
