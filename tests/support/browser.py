"""Screenshots the browser tests take (the README's pictures when asked to rewrite them)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from tests.support import REPO_ROOT

# The README's pictures are rewritten only on request (WABALINK_UPDATE_SCREENSHOTS=1), so a test run
# leaves the tree clean; otherwise they go to a temporary folder and are still checked.
SCREENSHOTS = (REPO_ROOT / "docs" / "screenshots"
               if os.environ.get("WABALINK_UPDATE_SCREENSHOTS") == "1"
               else Path(tempfile.gettempdir()) / "wabalink-screenshots")

def screenshot(driver: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size < 300 * 1024, f"{path} is larger than 300 KB"
    return path
