"""The rest-json layer against botocore itself: requests built by botocore's serializer must
route and parse back to the same params; our responses and errors must parse in botocore/boto3."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.model import ServiceModel
from botocore.parsers import RestJSONParser
from botocore.serialize import create_serializer
from botocore.utils import percent_encode_sequence

from tests.support.aws import operation, operation_names, protocol, sample_params, sample_value, serialize_request
from wabalink.aws.errors import PROTOCOL_ERRORS, AwsError
from wabalink.aws.exceptions import MODELED_ERRORS, ResourceNotFoundException
from wabalink.aws.protocol import RestJsonProtocol

ALL_OPERATIONS = operation_names()


def _parse_request(op_name: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    op = operation(op_name)
    method, path, query, headers, body = serialize_request(op, params)
    routed, labels = protocol().route(method, path, query)
    return routed.name, protocol().parse(routed, labels, query, headers, body)


def _required_only(shape) -> Any:
    if shape.type_name != "structure":
        return sample_value(shape)
    return {name: _required_only(shape.members[name]) for name in shape.required_members}


def test_model_has_all_38_operations() -> None:
    assert len(ALL_OPERATIONS) == 38


@pytest.mark.parametrize("op_name", ALL_OPERATIONS)
def test_botocore_request_round_trips_with_every_member(op_name: str) -> None:
    params = sample_params(operation(op_name))
    routed_name, parsed = _parse_request(op_name, params)
    assert routed_name == op_name
    assert parsed == params


@pytest.mark.parametrize("op_name", ALL_OPERATIONS)
def test_botocore_request_round_trips_with_required_members_only(op_name: str) -> None:
    op = operation(op_name)
    params = _required_only(op.input_shape) if op.input_shape is not None else {}
    routed_name, parsed = _parse_request(op_name, params)
    assert routed_name == op_name
    assert parsed == params


def test_unknown_path_and_wrong_method_are_unknown_operations() -> None:
    for method, path in (("GET", "/v1/nothing/here"), ("PATCH", "/v1/whatsapp/signup"), ("GET", "/v1/whatsapp/signup")):
        with pytest.raises(AwsError) as caught:
            protocol().route(method, path)
        assert caught.value.code == "UnknownOperationException"
        assert caught.value.status == 404


def test_same_path_different_methods_route_to_different_operations() -> None:
    assert protocol().route("GET", "/v1/whatsapp/template")[0].name == "GetWhatsAppMessageTemplate"
    assert protocol().route("POST", "/v1/whatsapp/template")[0].name == "UpdateWhatsAppMessageTemplate"
    assert protocol().route("DELETE", "/v1/whatsapp/template")[0].name == "DeleteWhatsAppMessageTemplate"


def test_unparseable_json_body_is_a_serialization_exception() -> None:
    op = operation("AssociateWhatsAppBusinessAccount")
    for body in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        with pytest.raises(AwsError) as caught:
            protocol().parse(op, {}, b"", {}, body)
        assert caught.value.code == "SerializationException"
        assert caught.value.status == 400


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,  # deeper than any decoder should recurse
    b'{"signupCallback": {"accessToken": "\\ud800"}}',  # a lone surrogate: no store can keep it
], ids=["deep-nesting", "lone-surrogate"])
def test_bodies_no_store_could_keep_are_serialization_exceptions(body: bytes) -> None:
    op = operation("AssociateWhatsAppBusinessAccount")
    with pytest.raises(AwsError) as caught:
        protocol().parse(op, {}, b"", {}, body)
    assert caught.value.code == "SerializationException"


@pytest.mark.parametrize("op_name, body, path", [
    ("AssociateWhatsAppBusinessAccount",
     {"setupFinalization": {"associateInProgressToken": "t", "phoneNumbers": [None]}},
     "setupFinalization.phoneNumbers[0]"),
    ("AssociateWhatsAppBusinessAccount",
     {"setupFinalization": {"associateInProgressToken": "t", "phoneNumbers": [],
                            "waba": {"tags": [{"key": "a"}, None]}}},
     "setupFinalization.waba.tags[1]"),
    ("UntagResource", {"resourceArn": "arn:x", "tagKeys": [None]}, "tagKeys[0]"),
])
def test_null_items_of_lists_are_validation_errors(op_name: str, body: dict[str, Any], path: str) -> None:
    with pytest.raises(AwsError) as caught:
        protocol().parse(operation(op_name), {}, b"", {}, json.dumps(body).encode())
    assert caught.value.code == "ValidationException"
    assert f"Value null at '{path}'" in caught.value.message


def test_nul_characters_are_validation_errors() -> None:
    body = {"resourceArn": "arn:aws:x", "tags": [{"key": "a\u0000b", "value": "v"}]}
    with pytest.raises(AwsError) as caught:
        protocol().parse(operation("TagResource"), {}, b"", {}, json.dumps(body).encode())
    assert caught.value.code == "ValidationException"
    assert "tags[0].key" in caught.value.message and "NUL" in caught.value.message


def test_empty_body_is_an_empty_object() -> None:
    op = operation("AssociateWhatsAppBusinessAccount")
    assert protocol().parse(op, {}, b"", {}, b"") == {}
    assert protocol().parse(op, {}, b"", {}, b"  ") == {}


def test_get_with_empty_json_body_like_awscli_is_accepted() -> None:
    op = operation("GetLinkedWhatsAppBusinessAccount")
    waba = "waba-" + "a" * 32
    assert protocol().parse(op, {}, f"id={waba}".encode(), {}, b"{}") == {"id": waba}


def test_unknown_body_members_are_ignored() -> None:
    op = operation("ListWhatsAppTemplateLibrary")
    params = _required_only(op.input_shape)
    method, path, query, headers, body = serialize_request(op, params)
    document = json.loads(body or b"{}")
    document["somethingNew"] = {"x": 1}
    assert protocol().parse(op, {}, query, headers, json.dumps(document).encode()) == params


def test_timestamp_accepts_epoch_and_iso8601_and_blob_is_base64() -> None:
    op = operation("SendWhatsAppMessage")
    base = sample_params(op)
    method, path, query, headers, body = serialize_request(op, base)
    document = json.loads(body)
    blob_key = next(k for k, m in op.input_shape.members.items() if m.type_name == "blob")
    assert base64.b64decode(document[blob_key]) == base[blob_key]
    parsed = protocol().parse(op, {}, query, headers, body)
    assert parsed[blob_key] == base[blob_key]
    # A bad base64 value is a validation error naming the member, without echoing it.
    document[blob_key] = "not base64!!"
    with pytest.raises(AwsError) as caught:
        protocol().parse(op, {}, query, headers, json.dumps(document).encode())
    assert caught.value.code == "ValidationException"
    assert f"at '{blob_key}'" in caught.value.message
    assert "not base64" not in caught.value.message


def test_sensitive_values_are_never_echoed() -> None:
    op = operation("AssociateWhatsAppBusinessAccount")
    body = json.dumps({"setupFinalization": {
        "associateInProgressToken": "SECRET-TOKEN-" + "x" * 60,
        "phoneNumbers": [{"id": "phone-number-id-" + "a" * 32, "twoFactorPin": "SECRETPIN99"}],
        "waba": {"id": "waba-" + "a" * 32},
    }}).encode()
    with pytest.raises(AwsError) as caught:
        protocol().parse(op, {}, b"", {}, body)
    message = caught.value.message
    assert message.startswith("2 validation errors detected: ")
    assert "setupFinalization.associateInProgressToken" in message
    assert "setupFinalization.phoneNumbers[0].twoFactorPin" in message
    assert "SECRET" not in message


def test_patterns_match_the_whole_value_like_aws_java_validators() -> None:
    op = operation("GetWhatsAppFlow")
    waba = "waba-" + "a" * 32
    # MetaFlowId is `[0-9]+`, applied as Java's Matcher.matches(): a digit run inside is not enough.
    parsed = protocol().parse(op, {}, f"id={waba}&flowId=12".encode(), {}, b"")
    assert parsed["flowId"] == "12"
    for bad in ("x12", "abc", "12x"):
        with pytest.raises(AwsError) as caught:
            protocol().parse(op, {}, f"id={waba}&flowId={bad}".encode(), {}, b"")
        assert (f"Value '{bad}' at 'flowId' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [0-9]+") in caught.value.message


def test_querystring_integer_and_boolean_conversion() -> None:
    op = operation("ListLinkedWhatsAppBusinessAccounts")
    assert protocol().parse(op, {}, b"maxResults=7&nextToken=a%2Bb", {}, b"") == {"maxResults": 7, "nextToken": "a+b"}
    with pytest.raises(AwsError) as caught:
        protocol().parse(op, {}, b"maxResults=seven", {}, b"")
    assert "at 'maxResults'" in caught.value.message
    op = operation("DeleteWhatsAppMessageTemplate")
    waba = "waba-" + "a" * 32
    parsed = protocol().parse(op, {}, f"id={waba}&templateName=t&deleteAllTemplates=true".encode(), {}, b"")
    assert parsed["deleteAllLanguages"] is True  # member name, not the wire name


# -- responses --------------------------------------------------------------------------------


def _botocore_parse(op_name: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
    op = operation(op_name)
    response = {
        "status_code": status,
        "headers": HeadersDict({name.decode(): value.decode() for name, value in headers}),
        "body": body,
    }
    shape = op.output_shape if status < 300 else None
    parsed = RestJSONParser().parse(response, shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


@pytest.mark.parametrize("op_name", ALL_OPERATIONS)
def test_output_round_trips_through_botocore_parser(op_name: str) -> None:
    op = operation(op_name)
    output = sample_value(op.output_shape) if op.output_shape is not None else {}
    status, headers, body = protocol().serialize(op, output, request_id="req-1")
    assert status == op.http.get("responseCode", 200)
    assert (b"content-type", b"application/json") in headers
    assert (b"x-amzn-requestid", b"req-1") in headers
    assert _botocore_parse(op_name, status, headers, body) == output


def test_output_wire_format_epoch_seconds_base64_and_no_nulls() -> None:
    op = operation("GetLinkedWhatsAppBusinessAccount")
    output = sample_value(op.output_shape)
    output["account"]["linkDate"] = datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    output["account"]["name"] = None
    output["notInTheModel"] = "dropped"
    _, _, body = protocol().serialize(op, output)
    document = json.loads(body)
    assert document["account"]["linkDate"] == 1704164645.5
    assert "name" not in document["account"]
    assert "notInTheModel" not in document


def test_output_accepts_float_timestamps_and_str_blobs() -> None:
    op = operation("GetWhatsAppMessageTemplate")
    blob_members = [n for n, m in op.output_shape.members.items() if m.type_name == "blob"]
    output = {"template": "{\"name\": \"x\"}"} if "template" in op.output_shape.members else {}
    _, _, body = protocol().serialize(op, output)
    for name in blob_members:
        if name in output:
            assert base64.b64decode(json.loads(body)[name]).decode() == output[name]
    op = operation("GetLinkedWhatsAppBusinessAccount")
    output = {"account": {"linkDate": 1704164645}}
    _, _, body = protocol().serialize(op, output)
    assert json.loads(body) == {"account": {"linkDate": 1704164645}}


@pytest.mark.parametrize("code, status", [
    ("ValidationException", 400), ("InvalidParametersException", 400), ("LimitExceededException", 400),
    ("ResourceNotFoundException", 404), ("DependencyException", 502), ("AccessDeniedException", 403),
    ("AccessDeniedByMetaException", 403), ("ThrottledRequestException", 429),
    ("InternalServiceException", 500), ("ConflictException", 409),
    ("SerializationException", 400), ("UnknownOperationException", 404), ("NotImplementedException", 501),
    ("MissingAuthenticationTokenException", 403), ("IncompleteSignatureException", 403),
    ("InvalidSignatureException", 403), ("UnrecognizedClientException", 403),
])
def test_error_status_and_botocore_error_parsing(code: str, status: int) -> None:
    error_class = {**MODELED_ERRORS, **PROTOCOL_ERRORS}[code]
    error = error_class.__new__(error_class)
    AwsError.__init__(error, f"something about {code}")
    assert error.code == code
    assert error.status == status
    wire_status, headers, body = protocol().serialize_error(error, "req-42")
    assert wire_status == status
    assert (b"x-amzn-errortype", code.encode()) in headers
    assert (b"x-amzn-requestid", b"req-42") in headers
    assert json.loads(body) == {"message": f"something about {code}"}
    response = {"status_code": wire_status, "headers": {k.decode(): v.decode() for k, v in headers}, "body": body}
    parsed = RestJSONParser().parse(response, None)
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == f"something about {code}"
    assert parsed["ResponseMetadata"]["RequestId"] == "req-42"


def test_every_modeled_error_has_a_class_with_the_models_status() -> None:
    for shape in protocol().service_model.error_shapes:
        assert MODELED_ERRORS[shape.name].status == shape.metadata["error"]["httpStatusCode"]


def _boto3_client_answering(answer, **config: Any):
    """A real boto3 client whose HTTP exchange is replaced by `answer(request) -> (status, headers, body)`."""
    from botocore.config import Config

    client = boto3.client(
        "socialmessaging", region_name="us-east-1", endpoint_url="http://wabalink.invalid",
        aws_access_key_id="123456789012", aws_secret_access_key="secret", config=Config(**config),
    )

    def before_send(request, **_: Any) -> AWSResponse:
        status, headers, body = answer(request)
        return AWSResponse(request.url, status, {k.decode(): v.decode() for k, v in headers}, _RawBody(body))

    client.meta.events.register("before-send.socialmessaging", before_send)
    return client


class _RawBody:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any):
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


def _serve_like_the_server(request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """route + parse + provider stub + serialize, exactly the server's order."""
    from urllib.parse import urlsplit

    url = urlsplit(request.url)
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    try:
        op, labels = protocol().route(request.method, url.path, url.query)
        params = protocol().parse(op, labels, url.query, headers, body)
        if op.name == "GetLinkedWhatsAppBusinessAccount":
            raise ResourceNotFoundException(f"Linked WABA {params['id']} not found")
        output = sample_value(op.output_shape) if op.output_shape is not None else {}
        return protocol().serialize(op, output, request_id="rid")
    except AwsError as error:
        return protocol().serialize_error(error, "rid")


def test_boto3_maps_errors_to_modeled_exception_classes() -> None:
    client = _boto3_client_answering(_serve_like_the_server)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.get_linked_whatsapp_business_account(id="waba-" + "a" * 32)
    assert caught.value.response["Error"]["Message"].startswith("Linked WABA waba-")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_boto3_sees_validation_exception_for_server_side_constraints() -> None:
    # Client-side validation off so the out-of-range value reaches the server.
    client = _boto3_client_answering(_serve_like_the_server, parameter_validation=False)
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.list_linked_whatsapp_business_accounts(maxResults=1000)
    assert "at 'maxResults'" in caught.value.response["Error"]["Message"]


def test_boto3_successful_call_and_paginator() -> None:
    client = _boto3_client_answering(_serve_like_the_server)
    result = client.list_linked_whatsapp_business_accounts(maxResults=5)
    expected = sample_value(operation("ListLinkedWhatsAppBusinessAccounts").output_shape)
    result.pop("ResponseMetadata")
    assert result == expected


# -- generic features the socialmessaging model does not use (labels, headers, payloads) ------


SYNTHETIC_MODEL = {
    "metadata": {"protocol": "rest-json", "apiVersion": "2020-01-01", "endpointPrefix": "synthetic",
                 "signatureVersion": "v4", "serviceId": "Synthetic"},
    "operations": {
        "GetThing": {"name": "GetThing", "http": {"method": "GET", "requestUri": "/things/{thingId}"},
                     "input": {"shape": "GetThingInput"}, "output": {"shape": "GetThingOutput"}},
        "GetThingTags": {"name": "GetThingTags", "http": {"method": "GET", "requestUri": "/things/{thingId}?tags"},
                         "input": {"shape": "GetThingInput"}},
        "PutObject": {"name": "PutObject", "http": {"method": "PUT", "requestUri": "/objects/{key+}", "responseCode": 201},
                      "input": {"shape": "PutObjectInput"}, "output": {"shape": "PutObjectOutput"}},
        "PutConfig": {"name": "PutConfig", "http": {"method": "POST", "requestUri": "/config"},
                      "input": {"shape": "PutConfigInput"}},
    },
    "shapes": {
        "GetThingInput": {"type": "structure", "required": ["thingId"], "members": {
            "thingId": {"shape": "ThingId", "location": "uri", "locationName": "thingId"},
            "since": {"shape": "Timestamp", "location": "querystring", "locationName": "since"},
            "modifiedAfter": {"shape": "Timestamp", "location": "header", "locationName": "X-Modified-After"},
            "filters": {"shape": "StringList", "location": "querystring", "locationName": "filter"},
            "extra": {"shape": "StringMap", "location": "querystring"},
            "context": {"shape": "JsonString", "location": "header", "locationName": "X-Context", "jsonvalue": True},
            "meta": {"shape": "StringMap", "location": "headers", "locationName": "x-meta-"},
        }},
        "GetThingOutput": {"type": "structure", "members": {
            "etag": {"shape": "String", "location": "header", "locationName": "ETag"},
            "updated": {"shape": "Timestamp", "location": "header", "locationName": "X-Updated"},
            "name": {"shape": "String", "locationName": "Name"},
        }},
        "PutObjectInput": {"type": "structure", "required": ["key"], "payload": "data", "members": {
            "key": {"shape": "String", "location": "uri", "locationName": "key"},
            "data": {"shape": "Blob"},
        }},
        "PutObjectOutput": {"type": "structure", "payload": "info", "members": {"info": {"shape": "Info"}}},
        "PutConfigInput": {"type": "structure", "payload": "config", "members": {"config": {"shape": "Info"}}},
        "Info": {"type": "structure", "members": {"size": {"shape": "Long"}, "ratio": {"shape": "Double"}}},
        "ThingId": {"type": "string", "min": 1, "max": 64},
        "String": {"type": "string"},
        "JsonString": {"type": "string"},
        "StringList": {"type": "list", "member": {"shape": "String"}},
        "StringMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "String"}},
        "Timestamp": {"type": "timestamp"},
        "Blob": {"type": "blob"},
        "Long": {"type": "long"},
        "Double": {"type": "double"},
    },
}


@pytest.fixture(scope="module")
def synthetic() -> tuple[ServiceModel, RestJsonProtocol]:
    model = ServiceModel(SYNTHETIC_MODEL, service_name="synthetic")
    return model, RestJsonProtocol(model)


def _synthetic_round_trip(model: ServiceModel, proto: RestJsonProtocol, op_name: str, params: dict[str, Any]):
    op = model.operation_model(op_name)
    request = create_serializer("rest-json", include_validation=True).serialize_to_request(params, op)
    path, _, literal_query = request["url_path"].partition("?")
    query = percent_encode_sequence(request["query_string"]) if request["query_string"] else ""
    query = "&".join(part for part in (literal_query, query) if part)
    headers = {k.lower(): v for k, v in request["headers"].items()}
    routed, labels = proto.route(request["method"], path, query)
    body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
    return routed.name, proto.parse(routed, labels, query, headers, body)


def test_uri_labels_literal_query_headers_and_maps(synthetic) -> None:
    model, proto = synthetic
    params = {
        "thingId": "a b/c",
        "since": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "modifiedAfter": datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC),
        "filters": ["x", "y z"],
        "extra": {"free": "form"},
        "context": {"nested": [1, 2]},
        "meta": {"color": "blue"},
    }
    assert _synthetic_round_trip(model, proto, "GetThing", params) == ("GetThing", params)
    name, parsed = _synthetic_round_trip(model, proto, "GetThingTags", {"thingId": "t1"})
    assert (name, parsed) == ("GetThingTags", {"thingId": "t1"})


def test_greedy_label_and_blob_payload(synthetic) -> None:
    model, proto = synthetic
    params = {"key": "dir/sub dir/file.txt", "data": b"\x00\x01raw bytes"}
    assert _synthetic_round_trip(model, proto, "PutObject", params) == ("PutObject", params)


def test_structure_payload(synthetic) -> None:
    model, proto = synthetic
    params = {"config": {"size": 2**40, "ratio": 0.25}}
    assert _synthetic_round_trip(model, proto, "PutConfig", params) == ("PutConfig", params)


def test_output_headers_location_names_and_payload(synthetic) -> None:
    model, proto = synthetic
    op = model.operation_model("GetThing")
    output = {"etag": "abc", "updated": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "name": "thing"}
    status, headers, body = proto.serialize(op, output)
    assert json.loads(body) == {"Name": "thing"}
    response = {"status_code": status, "headers": HeadersDict({k.decode(): v.decode() for k, v in headers}), "body": body}
    parsed = RestJSONParser().parse(response, op.output_shape)
    parsed.pop("ResponseMetadata")
    assert parsed == output
    op = model.operation_model("PutObject")
    status, headers, body = proto.serialize(op, {"info": {"size": 3, "ratio": 1.5}})
    assert status == 201
    assert json.loads(body) == {"size": 3, "ratio": 1.5}
