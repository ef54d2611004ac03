"""Ctrl-C in `make run` under load: the stack gets the signal twice (make forwards it to its process
group) while clients keep creating orders and the pumps are busy; it stops, saved, within 5 s
(issue 12, "State survives a restart")."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from typing import Any

import pytest
import requests

from tests.e2e.client import OMS
from tests.e2e.conftest import LaunchStack
from tests.payloads import order_body

CLIENTS = 8
LOAD_SECONDS = 8.0
STOP_WITHIN_S = 5.0


def _hammer(info: dict[str, Any], stop: threading.Event, answers: list[int]) -> None:
    session = requests.Session()
    while not stop.is_set():
        body = order_body(so_number=f"STOP-{uuid.uuid4().hex[:10].upper()}")
        try:
            response = session.post(info["api_url"] + OMS, json=body, headers={"x-api-key": info["api_key"]}, timeout=10)
        except requests.RequestException:
            continue  # the stack is going away under us: that is the point
        answers.append(response.status_code)


def test_two_signals_under_load_stop_the_stack_within_5_s(launch_stack: LaunchStack) -> None:
    """SIGINT twice is Ctrl-C under make; SIGTERM then SIGINT re-enters the other handler as well.
    One stack for both: the second pair is not needed once the first has stopped it."""
    running = launch_stack(schedule_seconds=0.5)
    info = running.wait_ready()
    stop = threading.Event()
    answers: list[int] = []
    clients = [threading.Thread(target=_hammer, args=(info, stop, answers), daemon=True) for _ in range(CLIENTS)]
    for client in clients:
        client.start()
    try:
        deadline = time.monotonic() + 60
        while len(answers) < 40 and time.monotonic() < deadline:  # orders flow through the pumps
            time.sleep(0.2)
        time.sleep(LOAD_SECONDS / 2)
        assert answers and set(answers) == {200}, f"answers before the stop: {sorted(set(answers))}"

        started = time.monotonic()
        running.process.send_signal(signal.SIGINT)
        time.sleep(0.05)
        running.process.send_signal(signal.SIGINT)  # make's copy of the same Ctrl-C
        time.sleep(0.05)
        running.process.send_signal(signal.SIGTERM)  # and an impatient `kill` on top
        try:
            code = running.process.wait(timeout=STOP_WITHIN_S * 3)
        except Exception:
            pytest.fail(f"still running {STOP_WITHIN_S * 3:.0f} s after two Ctrl-Cs and a SIGTERM:\n{running.output()}")
        took = time.monotonic() - started
    finally:
        stop.set()
        for client in clients:
            client.join(15)

    assert code == 0, running.output()
    assert took < STOP_WITHIN_S, f"stopping took {took:.1f} s:\n{running.output()}"
    assert "local_stack: stopped; state saved" in running.output()
    assert (running.state_dir / "state.json.gz").exists()
    assert not running.state_file.exists()
