"""End-to-end fixtures: the local stack (``python -m local_stack``) as a real subprocess.

Every test in this directory is marked ``e2e``. The session-scoped ``stack`` fixture yields the
parsed ``stack.json`` of a stack started once per session, with its event pumps running and
every schedule firing every ``SESSION_SCHEDULE_SECONDS`` (``--poll-seconds``);
``launch_stack`` starts extra stacks (for lifecycle tests) and always stops them afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
OUTPUT_TAIL_LINES = 200
SESSION_SCHEDULE_SECONDS = 2.0  # the WMS status poll (and any other schedule) fires this often


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the stack's own server does
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


class StackStartError(RuntimeError):
    pass


@dataclass
class StackProcess:
    process: subprocess.Popen[bytes]
    port: int
    state_dir: Path
    log_path: Path

    @property
    def state_file(self) -> Path:
        return self.state_dir / "stack.json"

    def iam_report(self) -> dict[str, Any]:
        """What the stack's IAM check saw (``iam.json``, written when the stack stops)."""
        report: dict[str, Any] = json.loads((self.state_dir / "iam.json").read_text(encoding="utf-8"))
        return report

    def output(self, tail: int | None = OUTPUT_TAIL_LINES) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-tail:] if tail else lines)

    def wait_for_output(self, text: str, timeout: float = 15.0) -> str:
        """Wait until a line of the stack's output contains ``text``; return that line."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.output(tail=None).splitlines():
                if text in line:
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the stack's output within {timeout:.0f} s:\n{self.output()}")
            if self.process.poll() is not None:
                raise AssertionError(f"the stack exited with {self.process.returncode}:\n{self.output()}")
            time.sleep(0.1)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        """Wait until stack.json exists and the API port accepts connections; return stack.json."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackStartError(f"local stack exited with {self.process.returncode} during startup:\n{self.output()}")
            if self.state_file.exists() and port_accepts(self.port):
                info: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
                return info
            time.sleep(0.1)
        raise StackStartError(f"local stack not ready within {timeout:.0f} s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send ``sig`` and wait; kill after ``timeout``. Returns the exit code (negative if killed)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode


def start_stack_process(
    workdir: Path,
    port: int | None = None,
    extra_args: tuple[str, ...] = (),
    schedule_seconds: float | None = None,
) -> StackProcess:
    """Start ``python -m local_stack`` in the background (does not wait for it to be ready).

    ``schedule_seconds`` passes ``--poll-seconds`` (None: the template's own schedule rates).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = port if port is not None else free_port()
    state_dir = workdir / "state"
    log_path = workdir / "stack.log"
    environment = {
        key: value for key, value in os.environ.items() if key not in ("HUB_PORT", "AWS_ENDPOINT_URL", "HUB_SCHEDULE_SECONDS")
    }
    environment["PYTHONUNBUFFERED"] = "1"
    command = [
        sys.executable,
        "-m",
        "local_stack",
        "--port",
        str(port),
        "--state-dir",
        str(state_dir),
        "--param",
        "AuthCacheTtlSeconds=0",
        "--param",
        "WmsRetryBackoffSeconds=1,1,2",
        "--param",
        "WmsTimeoutSeconds=2",
        "--param",
        "DeliveryRetrySchedule=1,1,2",
        "--param",
        "CallbackTimeoutSeconds=5",
        "--wms-clock-ms",
        "0",
        *(("--poll-seconds", str(schedule_seconds)) if schedule_seconds is not None else ()),
        *extra_args,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment)
    return StackProcess(process=process, port=port, state_dir=state_dir, log_path=log_path)


# -- marking and reporting ----------------------------------------------------------------------

_E2E_DIR = Path(__file__).resolve().parent
_session_stack: list[StackProcess] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _E2E_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and _session_stack and "stack" in getattr(item, "fixturenames", ()):
        report.sections.append(("local stack output (tail)", _session_stack[0].output()))
    return report


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def stack_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    started = start_stack_process(tmp_path_factory.mktemp("local-stack"), schedule_seconds=SESSION_SCHEDULE_SECONDS)
    try:
        started.wait_ready()
    except StackStartError as error:
        started.stop()
        print(started.output(tail=None), file=sys.stderr)
        pytest.fail(str(error), pytrace=False)
    _session_stack.append(started)
    yield started
    _session_stack.clear()
    code = started.stop()
    if code != 0:
        print(started.output(tail=None), file=sys.stderr)
        pytest.fail(f"local stack exited with {code} on SIGTERM (output above)", pytrace=False)
    denials = started.iam_report()["denials"]
    if denials:
        pytest.fail("IAM: the session's local stack denied " + "; ".join(denials), pytrace=False)


@pytest.fixture(scope="session")
def stack(stack_process: StackProcess) -> dict[str, Any]:
    """The parsed stack.json of the session's local stack."""
    info: dict[str, Any] = json.loads(stack_process.state_file.read_text(encoding="utf-8"))
    return info


LaunchStack = Callable[..., StackProcess]


@pytest.fixture
def launch_stack(tmp_path: Path) -> Iterator[LaunchStack]:
    """Factory for extra stacks: ``launch_stack(port=None, extra_args=(), schedule_seconds=None)``;
    all are stopped at teardown."""
    launched: list[StackProcess] = []

    def launch(port: int | None = None, extra_args: tuple[str, ...] = (), schedule_seconds: float | None = None) -> StackProcess:
        started = start_stack_process(
            tmp_path / f"stack-{len(launched)}", port=port, extra_args=extra_args, schedule_seconds=schedule_seconds
        )
        launched.append(started)
        return started

    yield launch
    for started in launched:
        with contextlib.suppress(Exception):
            started.stop()
