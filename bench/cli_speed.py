"""Command-line start-up: `wabalink socialmessaging` against the `aws` command (awscli) on the seed's
command, side by side in one run.

Two commands, each timed as whole processes, interleaved run by run so both see the same machine:
  1. `associate-whatsapp-business-account --generate-cli-skeleton` (no network);
  2. a real phase-1 call (`--signup-callback accessToken=...`) against a local `wabalink serve`.
Target: wabalink's median wall time at most 0.6 of aws's, for each.

Both programs run from the same virtual environment with compiled bytecode (`compileall` first, as a
wheel install would have), the same credentials, region and config files.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from servers import REPO_ROOT, wabalink_server

TARGET_RATIO = 0.6
SEED_COMMAND = ["socialmessaging", "associate-whatsapp-business-account"]


def tool_paths() -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    tools = {"wabalink": str(bin_dir / "wabalink"), "aws": str(bin_dir / "aws")}
    for name, path in tools.items():
        if not Path(path).exists():
            raise RuntimeError(f"bench: `{name}` is not installed in this environment ({path}); run `make bench`")
    return tools


def clean_environment(home: Path) -> dict[str, str]:
    (home / "config").write_text("[default]\nregion = us-east-1\noutput = json\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({"HOME": str(home), "AWS_CONFIG_FILE": str(home / "config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"), "AWS_ACCESS_KEY_ID": "123456789012",
                "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_PAGER": ""})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def wall_time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"bench: {' '.join(command[:3])} ... failed: {completed.stderr.decode()[-500:]}")
    return elapsed


def compare(name: str, commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {tool: [] for tool in commands}
    for command in commands.values():
        wall_time(command, env)  # warm the page cache once
    for _ in range(runs):
        for tool, command in commands.items():
            times[tool].append(wall_time(command, env))
    medians = {tool: statistics.median(values) for tool, values in times.items()}
    ratio = medians["wabalink"] / medians["aws"]
    return {"name": name, "runs": runs, "median_s": {t: round(m, 4) for t, m in medians.items()},
            "ratio": round(ratio, 3), "target": TARGET_RATIO, "met": ratio <= TARGET_RATIO}


def measure(runs: int = 10) -> list[dict[str, Any]]:
    compileall.compile_dir(str(REPO_ROOT / "wabalink"), quiet=1)
    tools = tool_paths()
    results = []
    with tempfile.TemporaryDirectory(prefix="wabalink-cli-bench-") as folder:
        workdir = Path(folder)
        env = clean_environment(workdir)
        skeleton = {tool: [path, *SEED_COMMAND, "--generate-cli-skeleton"] for tool, path in tools.items()}
        results.append(compare("--generate-cli-skeleton", skeleton, env, runs))
        server = wabalink_server(workdir, "cli-bench", []).start()
        try:
            import json
            import urllib.request

            from servers import SANDBOX_TOKEN

            request = urllib.request.Request(server.endpoint + "/meta/sandbox/wabas", method="POST",
                                             data=json.dumps({"name": "CLI bench", "phoneNumbers": 1}).encode(),
                                             headers={"content-type": "application/json",
                                                      "authorization": f"Bearer {SANDBOX_TOKEN}"})
            token = json.loads(urllib.request.urlopen(request, timeout=30).read())["accessToken"]
            # Phase 1 may be repeated with the same Meta token: the same link comes back each time.
            phase_one = {tool: [path, *SEED_COMMAND, "--signup-callback", f"accessToken={token}",
                                "--endpoint-url", server.endpoint] for tool, path in tools.items()}
            results.append(compare("phase-1 call (signupCallback) to a local server", phase_one, env, runs))
        finally:
            server.stop()
    return results


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    results = measure(runs)
    for result in results:
        print(f"{result['name']:<50} wabalink {result['median_s']['wabalink'] * 1000:7.0f} ms   "
              f"aws {result['median_s']['aws'] * 1000:7.0f} ms   ratio {result['ratio']:.2f} "
              f"(target <= {TARGET_RATIO}) {'MET' if result['met'] else 'MISSED'}")
    return 0 if all(r["met"] for r in results) else 3


if __name__ == "__main__":
    sys.exit(main())
