"""``local_stack.invoke``: every event under ``events/`` runs against one embedded local stack.

The events tell one order's story (``SO-2026-0001`` of the demo tenant), so they run in that order:
create it, read and update it, dispatch its ``order.created`` event, forward it to the WMS
simulator, deliver its callback to the demo receiver, manage endpoints and deliveries, take the
WMS webhooks, poll. Once shipped, the order cannot be cancelled any more, so ``cancel_order`` runs
as a second tenant (same warehouses) that has just created its own ``SO-2026-0001``. Events named
``*_invalid`` are deliberate negative examples (a 4xx is their success); any other event file must
succeed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_stack.harness import seed_tenant
from local_stack.invoke import EVENTS_DIR, REPO_ROOT, Invocation, InvokeError, invoke
from local_stack.lambdas import FunctionRuntime
from local_stack.stack import LocalStack, StackOptions

# The story's order; event files not listed here run afterwards, in name order.
SEQUENCE = [
    "orders_api/create_order",
    "orders_api/create_order_invalid",
    "orders_api/list_orders",
    "orders_api/detail_oms",
    "orders_api/update_order",
    "admin_api/register_endpoint",
    "dispatcher/order_created",
    "wms_forwarder/forward_order",
    "orders_api/detail_wms",
    "delivery_worker/deliver",
    "admin_api/list_endpoints",
    "admin_api/show_endpoint",
    "admin_api/disable_endpoint",
    "admin_api/list_deliveries",
    "admin_api/show_delivery",
    "admin_api/replay_delivery",
    "admin_api/replay_endpoint",
    "webhook_ingest/order_confirmation",
    "webhook_ingest/pgi",
    "orders_api/cancel_order",
    "status_poller/scheduled",
]


def all_events() -> list[str]:
    found = sorted(f"{path.parent.name}/{path.stem}" for path in EVENTS_DIR.glob("*/*.json"))
    return [name for name in SEQUENCE if name in found] + [name for name in found if name not in SEQUENCE]


@dataclass
class Stack:
    info: dict[str, Any]
    runtimes: dict[str, FunctionRuntime]
    state_file: Path
    second_tenant: dict[str, Any]  # ``info`` with the API key of a second tenant


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One embedded stack: pumps off (the test plays every event source), demo tenant, WMS simulator
    (clock stopped) and demo receiver, all on 127.0.0.1; the process environment is restored after."""
    from order_hub import wiring
    from order_hub.adapters import net_guard

    def resolve(host: str, port: int) -> list[str]:  # register_endpoint's erp.example.com, without DNS
        if host.endswith(".example.com"):
            return ["93.184.216.34"]
        if host in ("127.0.0.1", "localhost"):
            return ["127.0.0.1"]
        raise OSError(f"{host} does not resolve in tests")

    saved = dict(os.environ)
    state_dir = tmp_path_factory.mktemp("invoke-stack")
    local = LocalStack(StackOptions(port=0, state_dir=state_dir, pumps=False, wms_clock_ms=0))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(net_guard, "resolve", resolve)
        try:
            info = local.start()
            second_key = seed_tenant("demo-two", list(info["warehouse_ids"]))
            yield Stack(
                info=info, runtimes=local.runtimes, state_file=local.state_file, second_tenant={**info, "api_key": second_key}
            )
        finally:
            local.stop()
            os.environ.clear()
            os.environ.update(saved)
            wiring.reset()


def _body(result: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(result["body"])
    return body


def check(name: str, invocation: Invocation) -> None:
    result = invocation.result
    if "httpMethod" in invocation.event:  # API Gateway proxy event
        status = result["statusCode"]
        if name.endswith("_invalid"):
            assert 400 <= status < 500, (name, result)
        else:
            assert 200 <= status < 300, (name, result)
    elif "Records" in invocation.event:  # SQS / DynamoDB stream batch
        assert result == {"batchItemFailures": []}, (name, result)
    else:  # schedule
        assert isinstance(result, dict), (name, result)


def test_every_function_and_api_route_has_an_event() -> None:
    from local_stack.invoke import function_targets

    for target in function_targets():
        assert list((EVENTS_DIR / target.directory).glob("*.json")), f"no event for {target.directory}"
        routes = {("*", "$default") if route.is_default else (route.method.upper(), route.path) for route in target.spec.routes}
        covered = set()
        for path in (EVENTS_DIR / target.directory).glob("*.json"):
            event = json.loads(path.read_text())
            method = "*" if event.get("resource") == "$default" else event.get("httpMethod", "").upper()
            covered.add((method, event.get("resource", "")))
        assert routes <= covered, f"{target.directory}: no event for {sorted(routes - covered)}"


@pytest.mark.parametrize("name", all_events())
def test_event_succeeds(stack: Stack, name: str) -> None:
    function, event = name.split("/")
    info = stack.info
    if name == "orders_api/cancel_order":  # the demo tenant's order has shipped: cancel a fresh one
        info = stack.second_tenant
        check("orders_api/create_order", invoke("orders_api", "create_order", info, runtimes=stack.runtimes))
    invocation = invoke(function, event, info, runtimes=stack.runtimes)
    check(name, invocation)
    if name == "webhook_ingest/pgi":
        assert _body(invocation.result)["data"]["outcome"] == "applied", invocation.result
    if name == "orders_api/detail_wms":  # the forwarder really reached the simulator
        assert _body(invocation.result)["data"], invocation.result
    if name == "admin_api/show_delivery":  # the delivery worker really delivered the callback
        assert _body(invocation.result)["data"]["status"] == "delivered", invocation.result


def test_stack_specific_events(stack: Stack) -> None:
    api = invoke("OrdersApiFunction", "list_orders", stack.info, runtimes=stack.runtimes)
    assert api.event["headers"]["x-api-key"] == stack.info["api_key"]
    assert api.event["multiValueHeaders"]["x-api-key"] == [stack.info["api_key"]]
    hook = EVENTS_DIR / "webhook_ingest" / "order_confirmation.json"
    event = json.loads(hook.read_text())
    event["pathParameters"] = {"tenant_id": "someone-else"}
    event["path"] = "/webhooks/wms/someone-else/order-confirmation"
    signed = invoke("webhook_ingest", event, stack.info, runtimes=stack.runtimes)
    assert signed.event["pathParameters"]["tenant_id"] == stack.info["tenant_id"]
    assert signed.event["path"] == f"/webhooks/wms/{stack.info['tenant_id']}/order-confirmation"
    assert signed.event["headers"]["x-hub-signature"] != event["headers"]["x-hub-signature"]
    assert 200 <= signed.result["statusCode"] < 300, signed.result


def test_unknown_function_and_event_are_clear_errors(stack: Stack) -> None:
    with pytest.raises(InvokeError, match=r"unknown function 'nope'.*orders_api \(OrdersApiFunction\)"):
        invoke("nope", "create_order", stack.info)
    with pytest.raises(InvokeError, match=r"unknown event 'nope' for orders_api.*create_order"):
        invoke("orders_api", "nope", stack.info)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local_stack.invoke", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_invokes_against_the_stack_file(stack: Stack) -> None:
    done = _cli("orders_api", "detail_oms", "--stack", str(stack.state_file))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # only the return value on stdout; the handler's logs went to stderr
    assert result["statusCode"] == 200
    assert _body(result)["data"]["outbound"]["order_no"] == "SO-2026-0001"
    assert "invoking OrdersApiFunction (functions.orders_api.app.lambda_handler)" in done.stderr


def test_cli_usage_errors_exit_2(stack: Stack, tmp_path: Path) -> None:
    unknown = _cli("NoSuchFunction", "create_order", "--stack", str(stack.state_file))
    assert unknown.returncode == 2
    assert "unknown function 'NoSuchFunction'" in unknown.stderr
    assert unknown.stdout == ""
    missing = _cli("orders_api", "create_order", "--stack", str(tmp_path / "stack.json"))
    assert missing.returncode == 2
    assert "no local stack file" in missing.stderr
