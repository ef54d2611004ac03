"""Functions share the local stack's process, but not their request state: each invocation has its
own Lambda context, logger keys and current event, even when two functions run at the same time.
Also: the API socket's listen backlog and malformed HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from local_stack.apigw import ApiGateway
from local_stack.template import ApiRoute, FunctionSpec
from order_hub.observability import logger
from tests.logcapture import logger_output

ORDERS, WEBHOOKS = "OrdersLikeFunction", "WebhooksLikeFunction"


def _function(logical_id: str, path: str) -> FunctionSpec:
    return FunctionSpec(
        logical_id=logical_id,
        module=f"tests.{logical_id}",
        handler="handler",
        code_uri=".",
        environment={},
        timeout=10,
        routes=[ApiRoute(event_id="Api", method="POST", path=path, payload_format_version="1.0")],
    )


def _resolver(tenant: str) -> Any:
    """A Powertools resolver + the hub's shared logger, as the hub's API handlers use them; each
    request sleeps in the middle so that requests of both functions overlap."""
    app = APIGatewayRestResolver()

    @app.post("/<kind>/<tenant_id>/<item>")
    def route(kind: str, tenant_id: str, item: str) -> dict[str, Any]:
        logger.append_keys(tenant_id=tenant_id, item=item)
        logger.info("before the pause")
        time.sleep(0.02)
        logger.info("after the pause")
        return {
            "path": app.current_event.path,
            "function_name": app.lambda_context.function_name,
            "keys": {key: logger.get_current_keys().get(key) for key in ("function_name", "tenant_id", "item")},
        }

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    del tenant
    return handler


@pytest.fixture
def gateway() -> Iterator[ApiGateway]:
    specs = [_function(ORDERS, "/{kind}/{tenant_id}/{item}"), _function(WEBHOOKS, "/webhooks/{tenant_id}/{item}")]
    specs[0].routes[0] = ApiRoute(event_id="Api", method="POST", path="/orders/{tenant_id}/{item}", payload_format_version="1.0")
    gateway = ApiGateway(specs, handlers={ORDERS: _resolver("orders"), WEBHOOKS: _resolver("webhooks")})
    gateway.start()
    yield gateway
    gateway.stop()


def test_concurrent_requests_to_two_functions_keep_their_own_state(gateway: ApiGateway) -> None:
    def call(index: int) -> tuple[str, str, dict[str, Any]]:
        kind, tenant = ("orders", "acme") if index % 2 else ("webhooks", "rival")
        path = f"/{kind}/{tenant}/item-{index}"
        function = f"hub-local-{ORDERS if kind == 'orders' else WEBHOOKS}"
        response = requests.post(gateway.url + path, json={}, timeout=30)
        assert response.status_code == 200, response.text
        return path, function, response.json()

    with logger_output() as output, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(40)))

    for path, function, body in results:
        assert body["path"] == path
        assert body["function_name"] == function
        assert body["keys"] == {"function_name": function, "tenant_id": path.split("/")[2], "item": path.split("/")[3]}
    lines = [json.loads(line) for line in output.getvalue().splitlines() if line.startswith("{")]
    by_item = {path.split("/")[3]: (path, function) for path, function, _ in results}
    assert len(lines) == 80
    for line in lines:
        path, function = by_item[line["item"]]
        assert line["function_name"] == function, line
        assert line["tenant_id"] == path.split("/")[2], line


def test_listen_backlog_takes_many_simultaneous_connections(gateway: ApiGateway) -> None:
    assert gateway.server.request_queue_size >= 128
    barrier = threading.Barrier(60)

    def call(index: int) -> int:
        barrier.wait(10)
        return requests.post(f"{gateway.url}/orders/acme/burst-{index}", json={}, timeout=60).status_code

    with ThreadPoolExecutor(60) as pool:
        assert set(pool.map(call, range(60))) == {200}


@pytest.mark.parametrize(
    "head",
    [
        b"POST /orders/acme/x HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n",
        b"POST /orders/acme/x HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n",
        b"POST /orders/acme/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_malformed_http_gets_a_400(gateway: ApiGateway, head: bytes) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as connection:
        connection.sendall(head)
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400"), answer
