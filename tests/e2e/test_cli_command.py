"""The `wabalink socialmessaging` command: options, exit codes, parsing, debug, paging.

Runs `wabalink.cli.aws.command.main` in-process against a tiny HTTP server that
answers recorded responses, with a throw-away HOME and AWS config.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from wabalink.cli.aws import command

OP = "associate-whatsapp-business-account"
SECRET_TOKEN = "EAAGsecretMetaToken123"
SECRET_PIN = "918273"
PHASE1 = {
    "signupCallbackResult": {
        "associateInProgressToken": "aipt-SECRET-0123456789",
        "linkedAccountsWithIncompleteSetup": {
            "1234567890": {
                "accountName": "Acme",
                "registrationStatus": "INCOMPLETE",
                "wabaId": "waba-" + "a" * 32,
                "unregisteredWhatsAppPhoneNumbers": [{
                    "arn": "arn:aws:social-messaging:us-east-1:000000000000:phone-number-id/" + "b" * 32,
                    "phoneNumber": "+15550100", "phoneNumberId": "phone-number-id-" + "b" * 32,
                    "metaPhoneNumberId": "987", "displayPhoneNumberName": "Acme",
                    "displayPhoneNumber": "+1 555-0100", "qualityRating": "GREEN",
                }],
            }
        },
    },
    "statusCode": 200,
}


class _Server:
    def __init__(self):
        self.requests: list[dict] = []
        self.responses: list[tuple[int, dict, dict]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.requests.append({"method": self.command, "path": self.path,
                                       "headers": dict(self.headers), "body": body})
                status, headers, payload = outer.responses.pop(0) if outer.responses else (200, {}, {})
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def json_body(self, i=-1):
        return json.loads(self.requests[i]["body"] or b"{}")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_PAGER", "")
    return home


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def run(capsys, *argv):
    rc = command.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def call(capsys, server, *argv, region="us-east-1"):
    return run(capsys, OP if not argv or argv[0].startswith("--") else argv[0],
               *(argv if argv and argv[0].startswith("--") else argv[1:]),
               "--endpoint-url", server.url, "--region", region)


# -- parameters -------------------------------------------------------------------------

def test_phase1_shorthand(env, server, capsys):
    server.responses.append((200, {}, PHASE1))
    rc, out, err = call(capsys, server, "--signup-callback", f"accessToken={SECRET_TOKEN}")
    assert rc == 0, err
    assert server.requests[0]["method"] == "POST"
    assert server.requests[0]["path"] == "/v1/whatsapp/signup"
    assert server.json_body() == {"signupCallback": {"accessToken": SECRET_TOKEN}}
    assert json.loads(out) == PHASE1
    assert "AWS4-HMAC-SHA256" in server.requests[0]["headers"]["Authorization"]


def test_phase1_json_and_file(env, server, capsys, tmp_path):
    server.responses += [(200, {}, PHASE1)] * 2
    rc, _, err = call(capsys, server, "--signup-callback",
                      json.dumps({"accessToken": "t1", "callbackUrl": "https://x.example/cb"}))
    assert rc == 0, err
    assert server.json_body() == {"signupCallback": {"accessToken": "t1", "callbackUrl": "https://x.example/cb"}}
    f = tmp_path / "cb.json"
    f.write_text('{"accessToken": "t2"}')
    rc, _, err = call(capsys, server, "--signup-callback", f"file://{f}")
    assert rc == 0, err
    assert server.json_body() == {"signupCallback": {"accessToken": "t2"}}


def test_phase2_shorthand_list_of_structures(env, server, capsys):
    server.responses.append((200, {}, {"linkedWhatsAppBusinessAccountId": "waba-" + "a" * 32, "statusCode": 200}))
    rc, out, err = call(
        capsys, server, "--setup-finalization",
        "associateInProgressToken=tok,phoneNumbers=[{id=a,twoFactorPin=123456},"
        "{id=b,twoFactorPin=654321,dataLocalizationRegion=DE,tags=[{key=k,value='v,1'}]}],"
        "waba={id=waba-1,eventDestinations=[{eventDestinationArn=arn:aws:sns:us-east-1:1:t}]}",
    )
    assert rc == 0, err
    assert server.json_body()["setupFinalization"] == {
        "associateInProgressToken": "tok",
        "phoneNumbers": [
            {"id": "a", "twoFactorPin": "123456"},
            {"id": "b", "twoFactorPin": "654321", "dataLocalizationRegion": "DE",
             "tags": [{"key": "k", "value": "v,1"}]},
        ],
        "waba": {"id": "waba-1", "eventDestinations": [{"eventDestinationArn": "arn:aws:sns:us-east-1:1:t"}]},
    }
    assert json.loads(out)["statusCode"] == 200


def test_list_of_structures_as_separate_argv_items(env, server, capsys):
    # tag-resource --tags key=a,value=1 key=b,value=2
    rc, _, err = call(capsys, server, "tag-resource", "--resource-arn", "arn:aws:x",
                      "--tags", "key=a,value=1", "key=b,value=2")
    assert rc == 0, err
    assert server.json_body() == {"resourceArn": "arn:aws:x",
                                  "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}


def test_list_of_strings_and_integer(env, server, capsys):
    server.responses.append((200, {}, {"statusCode": 200}))
    rc, _, err = call(capsys, server, "untag-resource", "--resource-arn", "arn:aws:x",
                      "--tag-keys", "a", "b")
    assert rc == 0, err
    assert server.json_body() == {"resourceArn": "arn:aws:x", "tagKeys": ["a", "b"]}
    rc, _, err = call(capsys, server, "list-linked-whatsapp-business-accounts", "--max-results", "5")
    assert rc == 0, err
    assert "maxResults=5" in server.requests[-1]["path"]


def test_fileb_blob_and_binary_format(env, server, capsys, tmp_path):
    # send-whatsapp-message has a blob member `message`.
    server.responses += [(200, {}, {"messageId": "m"})] * 3
    base = ["send-whatsapp-message", "--origination-phone-number-id", "phone-number-id-" + "b" * 32,
            "--meta-api-version", "v20.0"]
    rc, _, err = call(capsys, server, *base, "--message", base64.b64encode(b'{"x":1}').decode())
    assert rc == 0, err
    assert base64.b64decode(server.json_body()["message"]) == b'{"x":1}'
    rc, _, err = call(capsys, server, *base, "--message", '{"x":2}', "--cli-binary-format", "raw-in-base64-out")
    assert rc == 0, err
    assert base64.b64decode(server.json_body()["message"]) == b'{"x":2}'
    f = tmp_path / "m.bin"
    f.write_bytes(b"\x00\x01raw")
    rc, _, err = call(capsys, server, *base, "--message", f"fileb://{f}")
    assert rc == 0, err
    assert base64.b64decode(server.json_body()["message"]) == b"\x00\x01raw"
    rc, _, err = call(capsys, server, *base, "--message", "not base64!")
    assert rc == 252 and "Invalid base64" in err


def test_boolean_flags(env, server, capsys):
    server.responses += [(200, {}, {})] * 2
    base = ["delete-whatsapp-message-template", "--id", "waba-" + "a" * 32, "--template-name", "t"]
    rc, _, err = call(capsys, server, *base, "--delete-all-languages")
    assert rc == 0, err
    assert "deleteAllTemplates=true" in server.requests[-1]["path"]
    rc, _, err = call(capsys, server, *base, "--no-delete-all-languages")
    assert rc == 0, err
    assert "deleteAllTemplates=false" in server.requests[-1]["path"]


# -- cli-input-json / yaml ----------------------------------------------------------------

def test_cli_input_json_and_override(env, server, capsys, tmp_path):
    server.responses += [(200, {}, PHASE1)] * 3
    doc = {"signupCallback": {"accessToken": "from-json"}}
    rc, _, err = call(capsys, server, "--cli-input-json", json.dumps(doc))
    assert rc == 0, err
    assert server.json_body() == doc
    f = tmp_path / "in.json"
    f.write_text(json.dumps(doc))
    rc, _, err = call(capsys, server, "--cli-input-json", f"file://{f}",
                      "--signup-callback", "accessToken=from-cli")
    assert rc == 0, err
    assert server.json_body() == {"signupCallback": {"accessToken": "from-cli"}}
    y = tmp_path / "in.yaml"
    y.write_text("signupCallback:\n  accessToken: from-yaml\n")
    rc, _, err = call(capsys, server, "--cli-input-yaml", f"file://{y}")
    assert rc == 0, err
    assert server.json_body() == {"signupCallback": {"accessToken": "from-yaml"}}


def test_cli_input_json_and_yaml_exclusive(env, capsys):
    rc, _, err = run(capsys, OP, "--cli-input-json", "{}", "--cli-input-yaml", "{}")
    assert rc == 252
    assert "not allowed with argument --cli-input-json" in err


def test_yaml_skeleton_feeds_cli_input_yaml(env, capsys):
    import yaml

    rc, out, _ = run(capsys, OP, "--generate-cli-skeleton", "yaml-input")
    assert rc == 0
    assert "# [REQUIRED]" in out
    data = yaml.safe_load(out)
    assert data["setupFinalization"]["phoneNumbers"][0]["twoFactorPin"] == ""


# -- skeletons ----------------------------------------------------------------------------

def _aws_oracle(env_home: Path, *args) -> subprocess.CompletedProcess:
    aws = Path(sys.executable).parent / "aws"
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update(HOME=str(env_home), AWS_CONFIG_FILE=str(env_home / ".aws" / "config"),
             AWS_SHARED_CREDENTIALS_FILE=str(env_home / ".aws" / "credentials"),
             AWS_DEFAULT_REGION="us-east-1")
    return subprocess.run([str(aws), *args], capture_output=True, text=True, env=e, timeout=120)


@pytest.mark.parametrize("operation", [OP, "list-linked-whatsapp-business-accounts",
                                       "get-linked-whatsapp-business-account",
                                       "put-whatsapp-business-account-event-destinations"])
def test_input_skeleton_matches_awscli(env, capsys, operation):
    if not (Path(sys.executable).parent / "aws").exists():
        pytest.skip("awscli oracle not installed")
    oracle = _aws_oracle(env, "socialmessaging", operation, "--generate-cli-skeleton")
    assert oracle.returncode == 0, oracle.stderr
    rc, out, _ = run(capsys, operation, "--generate-cli-skeleton")
    assert rc == 0
    assert out == oracle.stdout
    rc, out2, _ = run(capsys, operation, "--generate-cli-skeleton", "input")
    assert out2 == oracle.stdout


def test_output_skeleton_matches_awscli(env, capsys):
    if not (Path(sys.executable).parent / "aws").exists():
        pytest.skip("awscli oracle not installed")
    oracle = _aws_oracle(env, "socialmessaging", OP, "--generate-cli-skeleton", "output")
    assert oracle.returncode == 0, oracle.stderr
    rc, out, err = run(capsys, OP, "--region", "us-east-1", "--generate-cli-skeleton", "output")
    assert rc == 0, err
    assert json.loads(out) == json.loads(oracle.stdout)


def test_output_skeleton_validates_inputs(env, server, capsys):
    rc, _, err = run(capsys, OP, "--region", "us-east-1", "--signup-callback", "callbackUrl=x",
                     "--generate-cli-skeleton", "output")
    assert rc == 252
    assert 'Missing required parameter in signupCallback: "accessToken"' in err
    assert server.requests == []


def test_output_skeleton_checks_required_arguments(env, server, capsys):
    # `input` skeletons need no arguments; `output` validates them like a real call.
    rc, out, _ = run(capsys, "get-linked-whatsapp-business-account", "--generate-cli-skeleton")
    assert rc == 0 and json.loads(out) == {"id": ""}
    rc, out, err = run(capsys, "get-linked-whatsapp-business-account", "--region", "us-east-1",
                       "--generate-cli-skeleton", "output")
    assert rc == 252 and out == ""
    assert "the following arguments are required: --id" in err
    rc, out, err = run(capsys, "get-linked-whatsapp-business-account", "--region", "us-east-1",
                       "--id", "waba-1", "--generate-cli-skeleton", "output")
    assert rc == 0, err
    assert json.loads(out)["account"]["id"] == "id"
    assert server.requests == []


def test_skeleton_invalid_choice(env, capsys):
    rc, _, err = run(capsys, OP, "--generate-cli-skeleton", "xml")
    assert rc == 252 and "Found invalid choice 'xml'" in err


# -- global options -------------------------------------------------------------------------

def test_output_and_query(env, server, capsys):
    server.responses += [(200, {}, PHASE1)] * 2
    rc, out, err = call(capsys, server, "--signup-callback", "accessToken=t", "--output", "text",
                        "--query", "signupCallbackResult.associateInProgressToken")
    assert rc == 0, err
    assert out == "aipt-SECRET-0123456789\n"
    rc, out, err = call(capsys, server, "--signup-callback", "accessToken=t", "--output", "table")
    assert rc == 0, err
    assert "AssociateWhatsAppBusinessAccount" in out


def test_output_from_env_and_config(env, server, capsys, monkeypatch):
    server.responses += [(200, {}, {"statusCode": 200})] * 2
    monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "text")
    rc, out, _ = call(capsys, server, "--signup-callback", "accessToken=t")
    assert out == "200\n"
    monkeypatch.delenv("AWS_DEFAULT_OUTPUT")
    (env / ".aws" / "config").write_text("[default]\noutput = yaml\n")
    rc, out, _ = call(capsys, server, "--signup-callback", "accessToken=t")
    assert out == "statusCode: 200\n"


def test_bad_output_and_query(env, capsys):
    rc, _, err = run(capsys, OP, "--output", "xml")
    assert rc == 252 and "argument --output: Found invalid choice 'xml'" in err
    rc, _, err = run(capsys, OP, "--signup-callback", "accessToken=t", "--region", "us-east-1",
                     "--query", "[[[")
    assert rc == 252 and "Bad value for --query" in err


def test_color_option(env, server, capsys):
    server.responses.append((200, {}, {"statusCode": 200}))
    rc, out, err = call(capsys, server, "--signup-callback", "accessToken=t", "--color", "off")
    assert rc == 0, err
    rc, _, err = run(capsys, OP, "--color", "rainbow")
    assert rc == 252


def test_profile_and_region_from_config(env, server, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    (env / ".aws" / "config").write_text("[profile p1]\nregion = eu-west-1\n")
    (env / ".aws" / "credentials").write_text("[p1]\naws_access_key_id = AKIDP1\naws_secret_access_key = s\n")
    server.responses.append((200, {}, {"statusCode": 200}))
    rc, _, err = run(capsys, OP, "--signup-callback", "accessToken=t", "--profile", "p1",
                     "--endpoint-url", server.url)
    assert rc == 0, err
    auth = server.requests[-1]["headers"]["Authorization"]
    assert "AKIDP1/" in auth and "/eu-west-1/social-messaging/" in auth
    rc, _, err = run(capsys, OP, "--signup-callback", "accessToken=t", "--profile", "nope")
    assert rc == 253 and "nope" in err


def test_any_region_with_endpoint_url(env, server, capsys):
    server.responses.append((200, {}, {"statusCode": 200}))
    rc, _, err = call(capsys, server, "--signup-callback", "accessToken=t", region="ap-southeast-3")
    assert rc == 0, err
    assert "/ap-southeast-3/social-messaging/" in server.requests[-1]["headers"]["Authorization"]


def test_no_sign_request(env, server, capsys):
    server.responses.append((200, {}, {"statusCode": 200}))
    rc, _, err = call(capsys, server, "--signup-callback", "accessToken=t", "--no-sign-request")
    assert rc == 0, err
    assert "Authorization" not in server.requests[-1]["headers"]


def test_version(env, capsys):
    rc, out, _ = run(capsys, "--version")
    assert rc == 0
    assert out.startswith("wabalink-cli/0.1.0 Python/") and " botocore/" in out


def test_timeouts_and_ssl_options_reach_botocore(env, capsys, monkeypatch):
    seen = {}
    real = command._make_client

    def spy(session, g, scoped):
        client = real(session, g, scoped)
        seen["config"] = client.meta.config
        seen["verify"] = client._endpoint.http_session._verify
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "_make_client", spy)
    rc, out, _ = run(capsys, OP, "--signup-callback", "accessToken=t", "--region", "us-east-1",
                     "--cli-read-timeout", "0", "--cli-connect-timeout", "7", "--no-verify-ssl")
    assert rc == 130 and out == "\n"
    assert seen["config"].read_timeout is None and seen["config"].connect_timeout == 7
    assert seen["verify"] is False
    bundle = env / "ca.pem"
    bundle.write_text("")
    rc, _, _ = run(capsys, OP, "--signup-callback", "accessToken=t", "--region", "us-east-1",
                   "--ca-bundle", str(bundle), "--cli-read-timeout", "5")
    assert seen["verify"] == str(bundle) and seen["config"].read_timeout == 5
    rc, _, err = run(capsys, OP, "--cli-read-timeout", "soon")
    assert rc == 252 and "invalid int value" in err


def test_no_verify_ssl_warns_on_https(env, capsys):
    # A TLS endpoint that is not listening: the call fails, but urllib3 warns first only
    # after a handshake; so check the setting is passed (above) and that the command
    # still reports the connection failure as a general error (255).
    rc, _, err = run(capsys, OP, "--signup-callback", "accessToken=t", "--region", "us-east-1",
                     "--endpoint-url", "https://127.0.0.1:9", "--no-verify-ssl",
                     "--cli-connect-timeout", "1")
    assert rc == 255
    assert "Could not connect to the endpoint URL" in err


def test_pager_used_only_with_terminal(env, server, capsys, monkeypatch):
    calls = []
    from contextlib import contextmanager

    import wabalink.cli.aws.pager as pager

    @contextmanager
    def fake_open(no_pager, cfg):
        calls.append((no_pager, cfg))
        yield sys.stdout

    monkeypatch.setattr(pager, "open_output", fake_open)
    monkeypatch.delenv("AWS_PAGER")
    (env / ".aws" / "config").write_text("[default]\ncli_pager = more\n")
    server.responses += [(200, {}, {"statusCode": 200})] * 2
    call(capsys, server, "--signup-callback", "accessToken=t")
    call(capsys, server, "--signup-callback", "accessToken=t", "--no-cli-pager")
    assert calls == [(False, "more"), (True, "more")]


def test_missing_pager_253(env, server, capsys, monkeypatch):
    import wabalink.cli.aws.pager as pager

    monkeypatch.setattr(pager, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("AWS_PAGER", "no-such-pager-wabalink")
    server.responses.append((200, {}, {"statusCode": 200}))
    rc, out, err = call(capsys, server, "--signup-callback", "accessToken=t")
    assert rc == 253 and out == ""
    assert err.startswith("\nwabalink: [ERROR]: An error occurred (Pager): Unable to redirect "
                          "output to pager. Received the following error when opening pager:\n")
    assert "no-such-pager-wabalink" in err


# -- errors and exit codes -------------------------------------------------------------------

def test_service_error_254(env, server, capsys):
    server.responses.append((400, {"x-amzn-ErrorType": "InvalidParametersException"},
                             {"message": "Exactly one of signupCallback and setupFinalization"}))
    rc, out, err = call(capsys, server)
    assert rc == 254
    assert out == ""
    assert err == ("\nwabalink: [ERROR]: An error occurred (InvalidParametersException) when calling "
                   "the AssociateWhatsAppBusinessAccount operation: Exactly one of signupCallback "
                   "and setupFinalization\n")


def test_no_region_253(env, capsys):
    rc, _, err = run(capsys, OP, "--signup-callback", "accessToken=t")
    assert rc == 253
    assert err == ('\nwabalink: [ERROR]: An error occurred (NoRegion): You must specify a region. '
                   'You can also configure your region by running "aws configure".\n')


def test_no_credentials_253(env, server, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    rc, _, err = call(capsys, server, "--signup-callback", "accessToken=t")
    assert rc == 253
    assert "(NoCredentials): Unable to locate credentials" in err
    assert server.requests == []


def test_param_validation_252(env, server, capsys):
    rc, _, err = call(capsys, server, "--signup-callback", "callbackUrl=https://x")
    assert rc == 252
    assert "(ParamValidation): Parameter validation failed:" in err
    assert 'Missing required parameter in signupCallback: "accessToken"' in err
    assert server.requests == []


def test_usage_errors_252(env, capsys):
    rc, _, err = run(capsys, OP, "--bogus", "1")
    assert rc == 252
    assert err.startswith("\nusage: wabalink [options] <command> <subcommand>")
    assert err.endswith("wabalink: [ERROR]: Unknown options: --bogus, 1\n")
    rc, _, err = run(capsys, "no-such-operation")
    assert rc == 252 and "Found invalid choice 'no-such-operation'" in err
    rc, _, err = run(capsys)
    assert rc == 252 and "the following arguments are required: operation" in err
    rc, _, err = run(capsys, OP, "--signup-callback")
    assert rc == 252 and "expected one argument" in err
    rc, _, err = run(capsys, "get-linked-whatsapp-business-account", "--region", "us-east-1")
    assert rc == 252 and "the following arguments are required: --id" in err


def test_shorthand_error_252(env, capsys):
    rc, _, err = run(capsys, OP, "--region", "us-east-1", "--setup-finalization", "associateInProgressToken")
    assert rc == 252
    assert ("wabalink: [ERROR]: An error occurred (ParamValidation): Error parsing parameter "
            "'--setup-finalization': Expected: '=', received: 'EOF' for input:\n"
            "associateInProgressToken\n                        ^\n") in err


def test_bad_json_and_missing_file_252(env, capsys):
    rc, _, err = run(capsys, OP, "--region", "us-east-1", "--signup-callback", '{"accessToken": ')
    assert rc == 252 and "Invalid JSON" in err
    rc, _, err = run(capsys, OP, "--region", "us-east-1", "--signup-callback", "file:///nonexistent/x.json")
    assert rc == 252 and "Unable to load paramfile file:///nonexistent/x.json" in err


def test_keyboard_interrupt_130(env, capsys, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "_call", boom)
    rc, out, _ = run(capsys, OP, "--signup-callback", "accessToken=t")
    assert rc == 130


def test_connection_error_255(env, capsys):
    rc, _, err = run(capsys, OP, "--signup-callback", "accessToken=t", "--region", "us-east-1",
                     "--endpoint-url", "http://127.0.0.1:9", "--cli-connect-timeout", "1")
    assert rc == 255
    assert 'wabalink: [ERROR]: Could not connect to the endpoint URL: "http://127.0.0.1:9/v1/whatsapp/signup"' in err


# -- debug and redaction ----------------------------------------------------------------------

def test_debug_redacts_sensitive_members(env, server, capsys):
    server.responses.append((200, {}, PHASE1))
    rc, out, err = call(capsys, server, "--debug", "--signup-callback", f"accessToken={SECRET_TOKEN}")
    assert rc == 0
    assert "aipt-SECRET-0123456789" in out  # the output itself is the user's
    assert "Response body" in err and "Making request" in err
    assert SECRET_TOKEN not in err
    assert "aipt-SECRET-0123456789" not in err
    assert "****" in err
    server.responses.append((200, {}, {"statusCode": 200}))
    rc, out, err = call(capsys, server, "--debug", "--setup-finalization", json.dumps({
        "associateInProgressToken": "aipt-SECRET-0123456789",
        "phoneNumbers": [{"id": "phone-number-id-" + "b" * 32, "twoFactorPin": SECRET_PIN}],
        "waba": {"id": "waba-" + "a" * 32}}))
    assert rc == 0, err
    assert SECRET_PIN not in err and "aipt-SECRET-0123456789" not in err
    assert "phone-number-id-" + "b" * 32 in err


@pytest.mark.parametrize("args", [
    ("--cli-input-yaml", f"signupCallback: {{accessToken: {SECRET_TOKEN}}}"),
    ("--cli-input-yaml", f"signupCallback:\n  accessToken: '{SECRET_TOKEN}'\n"),
    ("--signup-callback", f"accessToken = {SECRET_TOKEN}"),
    ("--setup-finalization", f"associateInProgressToken=aipt-SECRET-0123456789,"
                             f"phoneNumbers=[{{id=p1, twoFactorPin = {SECRET_PIN}}}]"),
])
def test_debug_redacts_the_logged_arguments(env, server, capsys, args):
    # The argument list is logged first; secrets in YAML input or in `key = value`
    # shorthand are redacted there too.
    server.responses.append((200, {}, PHASE1))
    rc, _, err = call(capsys, server, "--debug", *args)
    assert rc == 0, err
    assert "Arguments entered to CLI" in err
    assert SECRET_TOKEN not in err and SECRET_PIN not in err
    assert "aipt-SECRET-0123456789" not in err


def test_error_messages_do_not_leak_pin(env, server, capsys):
    rc, _, err = call(capsys, server, "--setup-finalization", json.dumps({
        "associateInProgressToken": "tok-abcdef", "phoneNumbers": [{"id": "p", "twoFactorPin": 918273}]}))
    assert rc == 252
    assert "918273" not in err


# -- pagination ---------------------------------------------------------------------------------

def _accounts(n0, n1):
    return [{"arn": f"arn:{i}", "id": f"waba-{i}", "wabaId": str(i), "registrationStatus": "COMPLETE",
             "linkDate": 1700000000, "wabaName": f"w{i}", "eventDestinations": []} for i in range(n0, n1)]


def _three_pages(server):
    server.responses += [
        (200, {}, {"linkedAccounts": _accounts(0, 2), "nextToken": "p2"}),
        (200, {}, {"linkedAccounts": _accounts(2, 4), "nextToken": "p3"}),
        (200, {}, {"linkedAccounts": _accounts(4, 5)}),
    ]


LIST = "list-linked-whatsapp-business-accounts"


def test_pagination_merges_pages(env, server, capsys):
    _three_pages(server)
    rc, out, err = call(capsys, server, LIST)
    assert rc == 0, err
    data = json.loads(out)
    assert [a["id"] for a in data["linkedAccounts"]] == [f"waba-{i}" for i in range(5)]
    assert "nextToken" not in data and "NextToken" not in data
    assert len(server.requests) == 3
    assert "nextToken=p2" in server.requests[1]["path"]
    # v2 timestamps: ISO 8601
    assert data["linkedAccounts"][0]["linkDate"] == "2023-11-14T22:13:20+00:00"


def test_pagination_max_items_and_starting_token(env, server, capsys):
    _three_pages(server)
    rc, out, err = call(capsys, server, LIST, "--max-items", "3", "--page-size", "2")
    assert rc == 0, err
    data = json.loads(out)
    assert [a["id"] for a in data["linkedAccounts"]] == ["waba-0", "waba-1", "waba-2"]
    assert "NextToken" in data
    assert "maxResults=2" in server.requests[0]["path"]
    token = data["NextToken"]
    server.responses.clear()
    server.requests.clear()
    server.responses += [(200, {}, {"linkedAccounts": _accounts(2, 4), "nextToken": "p3"}),
                         (200, {}, {"linkedAccounts": _accounts(4, 5)})]
    rc, out, err = call(capsys, server, LIST, "--starting-token", token)
    assert rc == 0, err
    assert [a["id"] for a in json.loads(out)["linkedAccounts"]] == ["waba-3", "waba-4"]


def test_no_paginate(env, server, capsys):
    _three_pages(server)
    rc, out, err = call(capsys, server, LIST, "--no-paginate")
    assert rc == 0, err
    data = json.loads(out)
    assert len(server.requests) == 1
    assert data["nextToken"] == "p2" and len(data["linkedAccounts"]) == 2
    rc, _, err = call(capsys, server, LIST, "--no-paginate", "--max-items", "1")
    assert rc == 252 and "Cannot specify --no-paginate along with pagination arguments: --max-items" in err


def test_manual_next_token_disables_pagination(env, server, capsys):
    _three_pages(server)
    rc, out, err = call(capsys, server, LIST, "--next-token", "p1")
    assert rc == 0, err
    assert len(server.requests) == 1 and "nextToken=p1" in server.requests[0]["path"]


def test_manual_paging_in_cli_input_disables_pagination(env, server, capsys):
    # As AWS CLI v2: paging members given through --cli-input-json/yaml mean manual paging.
    _three_pages(server)
    rc, out, err = call(capsys, server, LIST, "--cli-input-json", '{"maxResults": 2}')
    assert rc == 0, err
    data = json.loads(out)
    assert len(server.requests) == 1 and "maxResults=2" in server.requests[0]["path"]
    assert data["nextToken"] == "p2" and len(data["linkedAccounts"]) == 2
    server.requests.clear()
    rc, out, err = call(capsys, server, LIST, "--cli-input-yaml", "nextToken: p2")
    assert rc == 0, err
    assert len(server.requests) == 1 and "nextToken=p2" in server.requests[0]["path"]
    rc, _, err = call(capsys, server, LIST, "--cli-input-yaml", "nextToken: p2", "--max-items", "1")
    assert rc == 252 and "Cannot specify --no-paginate along with pagination arguments: --max-items" in err


def test_text_output_pages(env, server, capsys):
    _three_pages(server)
    rc, out, err = call(capsys, server, LIST, "--output", "text", "--query", "linkedAccounts[].id")
    assert rc == 0, err
    assert out.split() == [f"waba-{i}" for i in range(5)]


def test_timestamp_format_wire(env, server, capsys):
    (env / ".aws" / "config").write_text("[default]\ncli_timestamp_format = wire\n")
    server.responses.append((200, {}, {"linkedAccounts": _accounts(0, 1)}))
    rc, out, err = call(capsys, server, LIST)
    assert rc == 0, err
    assert json.loads(out)["linkedAccounts"][0]["linkDate"] == 1700000000


# -- help ------------------------------------------------------------------------------------------

def _unbolded(page: str) -> str:
    """A help page without groff's overstrike (bold and underline)."""
    import re

    return re.sub(r".\x08", "", page)


def test_operation_help_sections(env, capsys):
    rc, out, _ = run(capsys, OP, "help")
    out = _unbolded(out)
    assert rc == 0
    for section in ("DESCRIPTION", "SYNOPSIS", "OPTIONS", "GLOBAL OPTIONS", "OUTPUT"):
        assert f"\n{section}\n" in out
    assert "[--signup-callback <value>]" in out and "[--cli-input-json | --cli-input-yaml]" in out
    assert "Shorthand Syntax:" in out and "JSON Syntax:" in out
    assert "accessToken=string" in out
    assert '"twoFactorPin": "string"' in out
    assert "signupCallbackResult -> (structure)" in out
    assert "yaml-stream" in out and "raw-in-base64-out" in out


def test_service_help_lists_operations(env, capsys):
    rc, out, _ = run(capsys, "help")
    assert rc == 0
    assert "associate-whatsapp-business-account" in out
    assert "list-linked-whatsapp-business-accounts" in out


def test_paginated_help_has_paging_options(env, capsys):
    rc, out, _ = run(capsys, LIST, "help")
    assert "--starting-token" in out and "--max-items" in out and "--page-size" in out


def test_paginated_help_describes_pagination(env, capsys):
    # AWS CLI v2 adds a paragraph to the description of paginated operations only.
    rc, out, _ = run(capsys, LIST, "help")
    assert rc == 0
    # Justified and hyphenated by groff: compared without spaces and hyphens.
    text = "".join(_unbolded(out).split("\nSYNOPSIS\n")[0].split()).replace("-", "")
    assert "".join((f"{LIST} is a paginated operation. Multiple API calls may be issued in order to "
                    "retrieve the entire data set of results. You can disable pagination by providing "
                    "the --no-paginate argument.").split()).replace("-", "") in text
    assert text.endswith("mustextractdatafromtheresultsofthefollowingqueryexpressions:linkedAccounts")
    rc, out, _ = run(capsys, OP, "help")
    assert "paginated operation" not in out


# -- every operation is routed ----------------------------------------------------------------------

def test_every_operation_has_a_command(env, capsys):
    from wabalink.cli.aws import model

    names = model.operations_by_cli_name()
    assert len(names) == len(model.service_json()["operations"])
    assert OP in names and "get-linked-whatsapp-business-account" in names
    for name in names:
        rc, out, err = run(capsys, name, "--generate-cli-skeleton")
        assert rc == 0, (name, err)
        json.loads(out)
