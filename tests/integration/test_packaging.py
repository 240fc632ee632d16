"""The package people install: sdist and wheel built as `make dist` builds them, the wheel installed
into a new virtual environment (dependencies resolved by pip from the configured package index),
where `wabalink serve`, `wabalink socialmessaging` and `wabalink.testing` work, outside this
repository."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

import wabalink
from tests.support import REPO_ROOT
from tests.support.servers import free_port

# Costly module-scoped set-up: under pytest-xdist (`make test`, --dist loadgroup) the whole module
# runs on one worker, so it runs once. A module mark, so the group is there when xdist reads it.
pytestmark = pytest.mark.xdist_group("test_packaging")

CONSOLE_DATA = [("templates", "*.html"), ("static", "*")]

USE_THE_INSTALLED_KIT = """
import boto3, sys, wabalink
from wabalink.testing import wabalink_server, mock_socialmessaging

assert "site-packages" in wabalink.__file__, wabalink.__file__
endpoint = sys.argv[1]
client = boto3.client("socialmessaging", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="123456789012", aws_secret_access_key="x")
print(client.list_linked_whatsapp_business_accounts()["linkedAccounts"])
with wabalink_server() as server:
    print(server.link(name="From the wheel").name)
with mock_socialmessaging():
    print(len(boto3.client("socialmessaging").list_linked_whatsapp_business_accounts()["linkedAccounts"]))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO_ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_the_version_lives_in_one_place(built: dict[str, Path]) -> None:
    assert built["wheel"].name == f"wabalink-{wabalink.__version__}-py3-none-any.whl"
    assert built["sdist"].name == f"wabalink-{wabalink.__version__}.tar.gz"
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and "\nversion =" not in pyproject.split("[tool.setuptools.dynamic]")[0]


def test_the_wheel_holds_every_module_the_console_files_and_the_plugin(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        [entry_points] = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        registered = wheel.read(entry_points).decode()
    sources = {str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "wabalink").rglob("*.py")}
    assert sources - names == set()
    console = REPO_ROOT / "wabalink" / "console"
    data = {str(path.relative_to(REPO_ROOT)) for folder, pattern in CONSOLE_DATA
            for path in (console / folder).glob(pattern) if path.is_file()}
    assert data - names == set()  # empty until the console lands; then its pages and assets
    assert "wabalink = wabalink.testing.pytest_plugin" in registered
    assert "wabalink = wabalink.cli.main:main" in registered


@pytest.mark.timeout(900)
def test_the_installed_wheel_serves_and_answers(built: dict[str, Path], tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_ = venv / "bin"
    started = time.perf_counter()
    installed = subprocess.run([str(bin_ / "python"), "-m", "pip", "install", "--quiet", str(built["wheel"])],
                               capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    print(f"\nwheel installed with its dependencies in {time.perf_counter() - started:.1f} s")
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(AWS_ACCESS_KEY_ID="123456789012", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1",
               TMPDIR=str(tmp_path), PAGER="cat")

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(bin_ / "wabalink"), "serve", "--ephemeral", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        _wait_for_health(endpoint, server)
        kit = subprocess.run([str(bin_ / "python"), "-c", USE_THE_INSTALLED_KIT, endpoint],
                             capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
        assert kit.returncode == 0, kit.stderr[-3000:]
        assert kit.stdout.splitlines() == ["[]", "From the wheel", "0"]

        listed = subprocess.run([str(bin_ / "wabalink"), "socialmessaging", "list-linked-whatsapp-business-accounts",
                                 "--endpoint-url", endpoint], capture_output=True, text=True, timeout=120, env=env,
                                cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout)["linkedAccounts"] == []
        helped = subprocess.run([str(bin_ / "wabalink"), "socialmessaging", "send-whatsapp-message", "help"],
                                capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
        assert helped.returncode == 0, helped.stderr
        assert "--origination-phone-number-id" in helped.stdout
        reset = subprocess.run([str(bin_ / "wabalink"), "meta", "reset", "--endpoint", endpoint],
                               capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
        assert reset.returncode == 0 and json.loads(reset.stdout)["reset"] is True, reset.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert list(tmp_path.glob("wabalink-ephemeral-*")) == []


def _wait_for_health(endpoint: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the installed wabalink serve exited: {server.stderr.read()[-3000:]}")
        try:
            with urllib.request.urlopen(endpoint + "/_wabalink/health", timeout=1) as answer:
                assert json.load(answer) == {"status": "ok"}
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the installed wabalink serve did not answer its health check")
