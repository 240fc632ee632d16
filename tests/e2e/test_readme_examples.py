"""The README's walkthrough and boto3 example, run as written (only the port differs) against a
fresh server, so the first ten minutes of a new user cannot drift from what the code does."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"
VENV_BIN = Path(sys.executable).parent


def readme_block(section: str, language: str, index: int = 0) -> str:
    text = README.read_text()
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    blocks = re.findall(rf"```{language}\n(.*?)```", text[start:end if end != -1 else None], re.S)
    return blocks[index]


def as_written(block: str, endpoint: str) -> str:
    return block.replace("http://127.0.0.1:4599", endpoint).replace(".venv/bin/", f"{VENV_BIN}/")


WALKTHROUGH = "## Link a WhatsApp Business Account, end to end"


def test_the_walkthrough_and_its_messages_run_as_written(start_server: Any) -> None:
    """Both shell blocks, in one shell as a reader pastes them; the outputs the README shows."""
    server = start_server()
    script = "\n".join(as_written(readme_block(WALKTHROUGH, "sh", index), server.endpoint) for index in (0, 1))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=README.parent)
    assert done.returncode == 0, done.stderr + done.stdout
    lines = done.stdout.strip().splitlines()
    phase_two = lines.index("{")
    assert lines[phase_two + 1] == '    "statusCode": 200,'
    assert lines[phase_two + 2].startswith('    "linkedWhatsAppBusinessAccountId": "waba-')
    assert lines[phase_two + 4].split() == ["Acme", "COMPLETE"]
    assert lines[phase_two + 5].startswith("wamid.")  # the customer's inbound message
    assert lines[-1].split() == ["handover_succeeded", "status_sent", "status_delivered", "status_read"]


def test_the_boto3_example_runs_as_written(start_server: Any) -> None:
    server = start_server()
    program = as_written(readme_block("## Link a WhatsApp Business Account, end to end", "python"), server.endpoint)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "COMPLETE"
