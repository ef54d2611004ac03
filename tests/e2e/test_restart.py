"""The local stack keeps its state across a clean stop: tenants, keys, endpoints, orders, deliveries and
secrets come back; --fresh starts from nothing; a second stack on the same folder is refused.

The stack runs in its own session and is stopped the way ``make run`` gets Ctrl-C: the signal goes to
the whole process group, twice."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.conftest import REPO_ROOT, free_port, port_accepts
from tests.payloads import order_body

TIMEOUT = 30
OMS = "/v3/fulfillment/outbound/oms"
DETAIL = "/v3/fulfillment/warehouse/WH-TGR04/outbound/oms"


class Stack:
    def __init__(self, state_dir: Path, log: Path, *extra: str) -> None:
        self.state_dir, self.log, self.port = state_dir, log, free_port()
        environment = {k: v for k, v in os.environ.items() if k not in ("HUB_PORT", "AWS_ENDPOINT_URL", "HUB_SCHEDULE_SECONDS")}
        environment["PYTHONUNBUFFERED"] = "1"
        command = [sys.executable, "-m", "local_stack", "--port", str(self.port), "--state-dir", str(state_dir)]
        command += ["--wms-clock-ms", "0", "--param", "AuthCacheTtlSeconds=0", *extra]
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                command, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT, env=environment, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self) -> dict[str, Any]:
        deadline = time.monotonic() + 90
        state_file = self.state_dir / "stack.json"
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the stack exited with {self.process.returncode}:\n{self.output()}"
            if state_file.exists() and port_accepts(self.port) and "Ctrl-C to stop." in self.output():
                info: dict[str, Any] = json.loads(state_file.read_text())
                if info.get("pid") == self.process.pid:
                    return info
            time.sleep(0.2)
        raise AssertionError(f"not ready in 90 s:\n{self.output()}")

    def stop_like_make(self) -> float:
        """SIGTERM to the process group twice, as make forwards Ctrl-C; seconds until the stack is gone."""
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGTERM)
        time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the stack did not stop within 15 s of two SIGTERMs:\n{self.output()}")
        return time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def stacks() -> Iterator[list[Stack]]:
    started: list[Stack] = []
    yield started
    for stack in started:
        stack.kill()


def _api(info: dict[str, Any], method: str, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
    headers = {"x-api-key": key or info["api_key"]}
    return requests.request(method, info["api_url"] + path, headers=headers, timeout=TIMEOUT, **kwargs)


def _secret(info: dict[str, Any], name: str) -> str:
    client = boto3.client("secretsmanager", endpoint_url=info["aws_endpoint_url"], region_name=info["region"])
    return str(client.get_secret_value(SecretId=name)["SecretString"])


def _sim_order(info: dict[str, Any], so_number: str) -> Any:
    """The WMS simulator's order (None if it has none)."""
    response = requests.get(f"{info['wms_simulator']['url']}/_sim/orders/WH-TGR04/{so_number}", timeout=TIMEOUT)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()["order"]


def test_state_survives_a_restart_and_fresh_starts_from_nothing(tmp_path: Path, stacks: list[Stack]) -> None:
    state_dir = tmp_path / "state"
    first = Stack(state_dir, tmp_path / "first.log")
    stacks.append(first)
    info = first.ready()
    assert "restored nothing (no saved state)" in first.output()

    # What a user creates: an order (its deliveries follow), an endpoint with a generated secret.
    created = _api(info, "POST", OMS, json=order_body(so_number="SO-RESTART-1"))
    assert created.status_code == 200, created.text
    endpoint = _api(
        info,
        "POST",
        "/hub/v1/endpoints",
        json={"endpoint_id": "erp-restart", "format": "standard", "url": info["demo_receiver"]["endpoints"]["demo-standard"]},
    )
    assert endpoint.status_code in (200, 201), endpoint.text
    webhook_secret = _secret(info, "hub/demo/wms-webhook")
    deadline = time.monotonic() + 30
    while "SO-RESTART-1" not in requests.get(info["demo_receiver"]["url"] + "/_demo/received", timeout=TIMEOUT).text:
        assert time.monotonic() < deadline, "the order's callbacks were not delivered before the stop"
        time.sleep(0.3)
    while (warehouse_order := _sim_order(info, "SO-RESTART-1")) is None:  # forwarded: the warehouse has it
        assert time.monotonic() < deadline, "the order was not forwarded to the WMS simulator before the stop"
        time.sleep(0.3)

    # A second stack on the same folder is refused, and leaves the first one's files alone.
    stack_json = (state_dir / "stack.json").read_text()
    second = Stack(state_dir, tmp_path / "second.log")
    stacks.append(second)
    assert second.process.wait(timeout=60) != 0
    assert f"another local stack (pid {first.process.pid})" in second.output()
    assert (state_dir / "stack.json").read_text() == stack_json
    assert first.process.poll() is None

    assert first.stop_like_make() < 5
    assert first.process.returncode == 0, first.output()
    assert "Traceback" not in first.output()
    assert not (state_dir / "stack.json").exists()
    assert (state_dir / "state.json.gz").exists()

    # Back again: same key, order, endpoint, deliveries and secrets; the banner says what came back.
    third = Stack(state_dir, tmp_path / "third.log")
    stacks.append(third)
    again = third.ready()
    assert again["api_key"] == info["api_key"]
    restored = again["state"]["restored"]
    counts = {
        label: int(number) for number, label in re.findall(r"(\d+) (order items|tenant items|deliveries|secrets)", restored)
    }
    assert len(counts) == 4 and all(counts.values()), restored
    assert f"restored {restored}" in third.output()
    detail = _api(again, "GET", "/v3/fulfillment/warehouse/WH-TGR04/outbound/oms/SO-RESTART-1")
    assert detail.status_code == 200, detail.text
    assert detail.json()["data"]["outbound"]["order_no"] == "SO-RESTART-1"
    endpoints = _api(again, "GET", "/hub/v1/endpoints").json()["data"]["endpoints"]
    assert {"erp-restart", "demo-standard"} <= {e["endpoint_id"] for e in endpoints}
    assert _secret(again, "hub/demo/wms-webhook") == webhook_secret
    assert again["demo_receiver"]["url"] == info["demo_receiver"]["url"]  # stored endpoint URLs stay valid
    # The warehouse still knows the forwarded order: shipped there, the hub records the shipment.
    assert again["wms_simulator"]["url"] == info["wms_simulator"]["url"]
    assert (_sim_order(again, "SO-RESTART-1") or {}).get("wms_order_no") == warehouse_order["wms_order_no"]
    shipped = requests.post(
        again["wms_simulator"]["url"] + "/_sim/orders/WH-TGR04/SO-RESTART-1/advance", json={"to": "SHIPPED"}, timeout=TIMEOUT
    )
    assert shipped.status_code == 200, shipped.text
    deadline = time.monotonic() + 30
    while not (outbound := _api(again, "GET", f"{DETAIL}/SO-RESTART-1").json()["data"]["outbound"])["shipments"]:
        assert time.monotonic() < deadline, f"the shipment was not recorded after the restart: {outbound}"
        time.sleep(0.3)
    assert outbound["so_status"] == "CLOSED", outbound
    assert third.stop_like_make() < 5 and third.process.returncode == 0

    # --fresh: nothing of it.
    fourth = Stack(state_dir, tmp_path / "fourth.log", "--fresh")
    stacks.append(fourth)
    fresh = fourth.ready()
    assert "restored nothing (--fresh)" in fourth.output()
    assert _api(fresh, "GET", "/v3/fulfillment/warehouse/WH-TGR04/outbound/oms/SO-RESTART-1").status_code == 404
    assert _api(fresh, "GET", "/v3/fulfillment/outbounds/OMS", key=info["api_key"]).status_code == 401
    assert fourth.stop_like_make() < 5 and fourth.process.returncode == 0
