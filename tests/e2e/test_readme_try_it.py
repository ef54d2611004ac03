"""The README's "Try it" section works as written: every fenced shell command of it runs, in order and in
one shell like a user's, against a live local stack, from a folder whose ``.local/stack.json`` is that
stack's (the commands read every URL and key from there). ``make run`` itself is the fixture's stack.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from tests.e2e.conftest import LaunchStack

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
STARTS_THE_STACK = re.compile(r"^make run\s*(#.*)?$")


def try_it_commands() -> tuple[list[str], list[str]]:
    """(the commands to run, the ``make run`` lines the fixture stands for) of the "Try it" section."""
    text = README.read_text()
    section = text[text.index("\n## Try it\n") :]
    section = section[: section.index("\n## ", 1)]
    commands: list[str] = []
    skipped: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            (skipped if STARTS_THE_STACK.match(line.strip()) else commands).append(line)
    return commands, skipped


def test_the_commands_take_every_url_from_the_stack_file_and_need_no_dns() -> None:
    commands, skipped = try_it_commands()
    script = "\n".join(commands)
    assert len(skipped) >= 1 and script.count("curl") >= 8 and "hub-admin" in script
    assert "make invoke" in script and "make events" in script
    assert ".local/stack.json" in script
    assert not re.search(r"127\.0\.0\.1|localhost|:8750\b|example\.(com|org)", script), "hard-coded address or DNS name"


def test_every_try_it_command_runs_against_a_live_stack(launch_stack: LaunchStack, tmp_path: Path) -> None:
    process = launch_stack()
    process.wait_ready()
    user = tmp_path / "checkout"  # what the user's checkout looks like, with this stack's stack.json
    (user / ".local").mkdir(parents=True)
    (user / ".local" / "stack.json").symlink_to(process.state_file)
    for name in ("Makefile", "pyproject.toml", "requirements.lock", ".venv"):
        (user / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "events", user / "events")  # `make events` rewrites them
    commands, _ = try_it_commands()
    script = "set -euo pipefail\n" + "\n".join(commands) + "\n"
    environment = {k: v for k, v in os.environ.items() if k not in ("HUB_PORT", "AWS_ENDPOINT_URL", "MAKEFLAGS", "MAKELEVEL")}
    result = subprocess.run(
        ["bash", "-c", script], cwd=user, capture_output=True, text=True, timeout=300, env=environment, check=False
    )
    output = result.stdout
    assert result.returncode == 0, f"exit {result.returncode}\n{output[-4000:]}\n{result.stderr[-4000:]}"
    assert not re.search(r'"http_status_code":\s*5\d\d', output), output[-4000:]
    assert re.search(r'"order_no":\s*"SO-2026-0001"', output), output[-4000:]  # created, then listed
    assert "200 text/html" in output  # /docs
    assert '"endpoint_id": "my-erp"' in output or '"endpoint_id":"my-erp"' in output
    invoked = [{"statusCode": int(code)} for code in re.findall(r'\{"statusCode": (\d+)', output)]  # curl adds no newline
    # make invoke: the create again (an idempotent replay), a PGI on a private stack (unknown order: kept, 202)
    assert [answer["statusCode"] for answer in invoked] == [200, 202], output[-4000:]
    refreshed = json.loads((user / "events" / "webhook_ingest" / "pgi.json").read_text())
    assert abs(int(refreshed["headers"]["x-hub-timestamp"]) - time.time()) < 300  # make events
    assert (user / "events" / "env.json").is_file()
    gateway_5xx = [line for line in process.log_path.read_text().splitlines() if re.search(r" -> 5\d\d ", line)]
    assert gateway_5xx == []
