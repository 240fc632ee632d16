"""The shorthand parser: grammar cases, errors, and agreement with awscli's parser (test oracle)."""
from __future__ import annotations

import pytest

from wabalink.cli.aws import model, shorthand
from wabalink.cli.aws.params import Argument, ParamError, convert

CASES = [
    ("accessToken=abc", {"accessToken": "abc"}),
    ("a=b,c=d", {"a": "b", "c": "d"}),
    ("a=b,c,d", {"a": ["b", "c", "d"]}),
    ("a=b,c,d,e=f", {"a": ["b", "c", "d"], "e": "f"}),
    ("a=[b,c],d={e=f,g=[h]}", {"a": ["b", "c"], "d": {"e": "f", "g": ["h"]}}),
    ("a='x,y',b=\"q=r\"", {"a": "x,y", "b": "q=r"}),
    ("a='it\\'s'", {"a": "it's"}),
    ("a=x\\,y", {"a": "x,y"}),
    ("a=", {"a": ""}),
    ("a = b , c = d", {"a": "b", "c": "d"}),
    ("url=https://x.example/cb?q=1", {"url": "https://x.example/cb?q=1"}),
    ("a=[{b=c},{b=d}]", {"a": [{"b": "c"}, {"b": "d"}]}),
    ("a=[]", {"a": []}),
    ("a={}", {"a": {}}),
    ("k.x/y:z=1", {"k.x/y:z": "1"}),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_parse(text, expected):
    assert shorthand.Parser().parse(text) == expected


@pytest.mark.parametrize("text", [c for c, _ in CASES] + [
    "a", "a=b,", "a=[b", "a={b=c", "a=b,a=c", "=b", "a=b c=d", "a=[b,c]]", "a='b", "a=b,\nc==d",
])
def test_agrees_with_awscli(text):
    aws = pytest.importorskip("awscli.shorthand")
    try:
        want = aws.ShorthandParser().parse(text)
        want_err = None
    except aws.ShorthandParseError as e:
        want, want_err = None, str(e)
    try:
        got = shorthand.Parser().parse(text)
        got_err = None
    except shorthand.ShorthandError as e:
        got, got_err = None, str(e)
    assert (got, got_err) == (want, want_err)


def test_errors():
    with pytest.raises(shorthand.ShorthandSyntaxError) as e:
        shorthand.Parser().parse("associateInProgressToken")
    assert str(e.value) == ("Expected: '=', received: 'EOF' for input:\n"
                            "associateInProgressToken\n                        ^")
    with pytest.raises(shorthand.DuplicateKeyError) as e:
        shorthand.Parser().parse("id=a,twoFactorPin=1,id=b")
    assert 'Second instance of key "id"' in str(e.value)


def test_paramfile_in_shorthand(tmp_path):
    f = tmp_path / "tok.txt"
    f.write_text("secret-from-file")
    from wabalink.cli.aws.params import load_paramfile

    got = shorthand.Parser(load_paramfile).parse(f"accessToken@=file://{f},callbackUrl=file://{f}")
    assert got == {"accessToken": "secret-from-file", "callbackUrl": f"file://{f}"}


def _arg(op, member):
    o = model.operation(op)
    shape = o.input_shape
    return Argument(member, shape.members[member], member in shape.required_members)


def test_model_coercion_and_json_detection():
    setup = _arg("associate-whatsapp-business-account", "setupFinalization")
    got = convert(setup, "associateInProgressToken=t,phoneNumbers={id=a,twoFactorPin=123456}", "base64")
    # a single structure where the model wants a list becomes a one-element list
    assert got == {"associateInProgressToken": "t", "phoneNumbers": [{"id": "a", "twoFactorPin": "123456"}]}
    got = convert(setup, ' {"associateInProgressToken": "t", "phoneNumbers": []}', "base64")
    assert got == {"associateInProgressToken": "t", "phoneNumbers": []}
    with pytest.raises(ParamError) as e:
        convert(setup, "associateInProgressToken=t,,", "base64")
    assert str(e.value).startswith("Error parsing parameter '--setup-finalization': Expected:")
    tags = _arg("tag-resource", "tags")
    assert convert(tags, ["key=a,value=1", "key=b,value=2"], "base64") == [
        {"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    assert convert(tags, ['[{"key": "a", "value": "1"}]'], "base64") == [{"key": "a", "value": "1"}]
    maxr = _arg("list-linked-whatsapp-business-accounts", "maxResults")
    assert convert(maxr, "7", "base64") == 7
    with pytest.raises(ParamError):
        convert(maxr, "seven", "base64")
