"""``make events`` makes events/ fit the running stack: the webhook events it rewrites are accepted by
that stack (fresh timestamp and signature), API events carry its key, and env.json has every function."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import requests

from local_stack.invoke import EVENTS_DIR, function_targets
from local_stack.sam_events import declared_variables, main
from tests.e2e.conftest import StackProcess


def test_make_events_refreshes_events_for_the_running_stack(stack_process: StackProcess, tmp_path: Path) -> None:
    stack: dict[str, Any] = json.loads(stack_process.state_file.read_text())
    events = tmp_path / "events"
    shutil.copytree(EVENTS_DIR, events)
    assert main(["--stack", str(stack_process.state_file), "--events-dir", str(events)]) == 0

    env = json.loads((events / "env.json").read_text())
    assert set(env) == {target.logical_id for target in function_targets()}
    for logical_id, names in declared_variables().items():
        assert set(names) <= set(env[logical_id]), logical_id
        assert env[logical_id]["AWS_ENDPOINT_URL"] == stack["aws_endpoint_url"]
    assert env["OrdersApiFunction"]["ORDERS_TABLE_NAME"] == stack["env"]["ORDERS_TABLE_NAME"]

    register = json.loads(json.loads((events / "admin_api" / "register_endpoint.json").read_text())["body"])
    assert register["url"] == f"{stack['demo_receiver']['url']}/{register['format']}/{register['endpoint_id']}"  # no DNS
    listed = json.loads((events / "orders_api" / "list_orders.json").read_text())
    assert listed["headers"]["x-api-key"] == stack["api_key"]
    for name in ("order_confirmation", "pgi", "logistics_created", "logistics_tracking"):
        event = json.loads((events / "webhook_ingest" / f"{name}.json").read_text())
        if "x-hub-timestamp" in event["headers"]:
            assert abs(int(event["headers"]["x-hub-timestamp"]) - time.time()) < 120
        headers = {k: v for k, v in event["headers"].items() if k.lower().startswith("x-hub-") or k.lower() == "content-type"}
        answer = requests.post(stack["api_url"] + event["path"], data=event["body"].encode(), headers=headers, timeout=30)
        assert answer.status_code in (200, 202), f"{name}: {answer.status_code} {answer.text}"
    committed = json.loads((EVENTS_DIR / "webhook_ingest" / "pgi.json").read_text())
    assert (
        committed["headers"]["x-hub-timestamp"]
        != json.loads((events / "webhook_ingest" / "pgi.json").read_text())["headers"]["x-hub-timestamp"]
    )
