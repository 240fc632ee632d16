"""--cli-auto-prompt / AWS_CLI_AUTO_PROMPT / cli_auto_prompt, driven with prompt_toolkit pipe input."""
from __future__ import annotations

import json

from prompt_toolkit.application import create_app_session
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from tests.e2e.test_cli_command import OP, PHASE1, _Server, env, run, server  # noqa: F401
from wabalink.cli.aws import model, params, prompt


def _with_keys(text, fn):
    with create_pipe_input() as inp:
        inp.send_text(text)
        with create_app_session(input=inp, output=DummyOutput()):
            return fn()


def test_cli_auto_prompt_builds_the_call(env, server, capsys):  # noqa: F811
    server.responses.append((200, {}, PHASE1))
    rc, out, err = _with_keys(
        "--signup-callback\raccessToken=prompted\r\r",
        lambda: run(capsys, OP, "--cli-auto-prompt", "--region", "us-east-1", "--endpoint-url", server.url),
    )
    assert rc == 0, err
    assert server.json_body() == {"signupCallback": {"accessToken": "prompted"}}
    assert json.loads(out) == PHASE1


def test_env_on_partial_prompts_only_missing_required(env, server, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AWS_CLI_AUTO_PROMPT", "on-partial")
    server.responses.append((200, {}, {"linkedWhatsAppBusinessAccountId": "waba-x"}))
    rc, out, err = _with_keys(
        "waba-0123\r",
        lambda: run(capsys, "get-linked-whatsapp-business-account", "--region", "us-east-1",
                    "--endpoint-url", server.url),
    )
    assert rc == 0, err
    assert "id=waba-0123" in server.requests[-1]["path"]


def test_config_cli_auto_prompt_and_no_cli_auto_prompt(env, server, capsys):  # noqa: F811
    (env / ".aws" / "config").write_text("[default]\ncli_auto_prompt = on\n")
    server.responses.append((200, {}, {"statusCode": 200}))
    rc, _, err = _with_keys(
        "\r",  # nothing more to add: run as typed
        lambda: run(capsys, OP, "--signup-callback", "accessToken=t", "--region", "us-east-1",
                    "--endpoint-url", server.url),
    )
    assert rc == 0, err
    server.responses.append((200, {}, {"statusCode": 200}))
    # --no-cli-auto-prompt wins over the config: no input is read at all.
    rc, _, err = run(capsys, OP, "--signup-callback", "accessToken=t", "--region", "us-east-1",
                     "--endpoint-url", server.url, "--no-cli-auto-prompt")
    assert rc == 0, err


def _completions(completer, text):
    return [c.text for c in completer.get_completions(Document(text), None)]


def test_completion_of_member_names_and_enum_values():
    op = model.operation(OP)
    table = params.argument_table(op)
    words = prompt._value_words(table["--setup-finalization"].shape)
    assert "associateInProgressToken=" in words and "waba=" in words
    comp = prompt._completer(words)
    assert _completions(comp, "associateInProgressToken=t,pho") == ["phoneNumbers=", "phoneNumberParent="]
    # enum values: a top-level enum member completes its values; a structure member
    # with an enum completes "member=VALUE".
    found = []
    for name in model.operations_by_cli_name():
        for a in params.argument_table(model.operation(name)).values():
            shape = getattr(a, "shape", None)
            if shape is None:
                continue
            if shape.type_name == "string" and shape.enum:
                comp = prompt._completer(prompt._value_words(shape))
                assert _completions(comp, "") == shape.enum
                found.append(a.cli_name)
            inner = shape.member if shape.type_name == "list" else shape
            if inner is not shape and inner.type_name == "string" and inner.enum:
                comp = prompt._completer(prompt._value_words(shape))
                assert _completions(comp, "") == inner.enum
                found.append(a.cli_name)
            if inner.type_name == "structure":
                for mname, m in inner.members.items():
                    if m.type_name == "string" and m.enum:
                        comp = prompt._completer(prompt._value_words(shape))
                        assert f"{mname}={m.enum[0]}" in _completions(comp, f"{mname}=")
                        found.append(f"{a.cli_name}:{mname}")
    assert found, "the model has enum members"


def test_parameter_name_completion_lists_options():
    op = model.operation("delete-whatsapp-message-template")
    table = params.argument_table(op)
    seen = {}

    def fake_prompt(message, completer=None):
        seen.setdefault(message, _completions(completer, "--"))
        return ""

    class S:
        prompt = staticmethod(fake_prompt)

    import prompt_toolkit

    orig = prompt_toolkit.PromptSession
    prompt_toolkit.PromptSession = lambda *a, **k: S()
    try:
        prompt.prompt_for_arguments(op, table, {"--id": "x", "--template-name": "t"})
    finally:
        prompt_toolkit.PromptSession = orig
    names = seen["Parameter (empty to run): "]
    assert "--delete-all-languages" in names and "--no-delete-all-languages" in names
    assert "--meta-template-id" in names
