"""Real headless Chromium (Debian's `chromium` and `chromium-driver`) driven by Selenium.

The browser is installed with apt-get when missing and this runs as root; where that cannot be
done the browser tests are skipped with the reason, except under CI (`WABALINK_REQUIRE_BROWSER=1`,
set by `.ci/run`), where they fail. One browser serves the whole session."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REQUIRE_BROWSER = os.environ.get("WABALINK_REQUIRE_BROWSER") == "1"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1200,860"]


def _install() -> str | None:
    """None when chromium and its driver are there (installed now if needed), else why not."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return None
    if shutil.which("apt-get") is None:
        return "chromium is not installed and there is no apt-get to install it"
    if os.geteuid() != 0:
        return "chromium is not installed and installing it needs root (apt-get install chromium chromium-driver)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", "chromium", "chromium-driver"]
    done = subprocess.run(command, env=env, capture_output=True, timeout=900)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
        done = subprocess.run(command, env=env, capture_output=True, timeout=900)
    if done.returncode != 0 or not Path(CHROMEDRIVER).exists():
        return f"apt-get could not install chromium: {done.stderr.decode(errors='replace')[-300:]}"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    missing = _install()
    if missing is not None:
        if REQUIRE_BROWSER:
            pytest.fail(missing)
        pytest.skip(missing)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if REQUIRE_BROWSER:
            raise
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="wabalink-chromium-")
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def fresh_browser(browser: Any) -> Any:
    """The session's browser with no cookies (each test is its own user)."""
    browser.delete_all_cookies()
    return browser


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One browser per session: under pytest-xdist (--dist loadgroup) the browser tests share a worker."""
    for item in items:
        if "e2e/browser" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("browser"))
