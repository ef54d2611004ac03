"""The local stack end to end (a real ``python -m local_stack`` process driven over HTTP),
plus the API Gateway emulation in-process with stand-in handlers."""

from __future__ import annotations

import base64
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from local_stack.apigw import ApiGateway
from local_stack.template import ApiRoute, FunctionSpec

from .conftest import HOST, LaunchStack, port_is_free

TIMEOUT = 10


# -- the real stack -------------------------------------------------------------------------------


def test_unknown_route_is_missing_authentication_token(stack: dict[str, Any]) -> None:
    response = requests.get(f"{stack['api_url']}/v3/nope", timeout=TIMEOUT)

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_unknown_method_on_a_known_path_is_missing_authentication_token(stack: dict[str, Any]) -> None:
    response = requests.delete(
        f"{stack['api_url']}/v3/fulfillment/outbounds/OMS", headers={"x-api-key": stack["api_key"]}, timeout=TIMEOUT
    )

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_list_orders_with_the_demo_key(stack: dict[str, Any]) -> None:
    response = requests.get(
        f"{stack['api_url']}/v3/fulfillment/outbounds/OMS", headers={"x-api-key": stack["api_key"]}, timeout=TIMEOUT
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["metadata"], dict)
    assert body["metadata"]["http_status_code"] == 200
    assert response.headers["content-type"].startswith("application/json")


def test_a_request_without_an_api_key_is_refused_by_the_handler(stack: dict[str, Any]) -> None:
    response = requests.get(f"{stack['api_url']}/v3/fulfillment/outbounds/OMS", timeout=TIMEOUT)

    assert response.status_code == 401, response.text
    assert response.json()["metadata"]["http_status_code"] == 401


def test_stack_json_describes_the_running_stack(stack: dict[str, Any]) -> None:
    assert stack["api_url"].startswith(f"http://{HOST}:")
    assert stack["aws_endpoint_url"].startswith(f"http://{HOST}:")
    assert stack["tenant_id"] == "demo"
    assert stack["warehouse_ids"] == ["WH-TGR04", "WH-CGK09"]
    assert set(stack["tables"]) == {"OrdersTable", "TenantsTable"}
    assert stack["env"]["TENANTS_TABLE_NAME"] == stack["tables"]["TenantsTable"]
    assert stack["env"]["ORDERS_TABLE_NAME"] == stack["tables"]["OrdersTable"]
    assert stack["env"]["AUTH_CACHE_TTL_SECONDS"] == "0"  # the fixture's --param
    assert stack["env"]["HUB_ENV"] == "local"
    assert isinstance(stack["pid"], int)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_stack_cleanly(launch_stack: LaunchStack, sig: signal.Signals) -> None:
    running = launch_stack()
    info = running.wait_ready()
    assert requests.get(f"{info['api_url']}/anything", timeout=TIMEOUT).status_code == 403

    running.process.send_signal(sig)
    try:
        code = running.process.wait(timeout=10)
    except Exception:
        pytest.fail(f"the stack did not exit within 10 s of {sig.name}:\n{running.output()}")

    assert code == 0, running.output()
    assert port_is_free(running.port)
    assert not running.state_file.exists()
    assert "Traceback" not in running.output()


def test_a_busy_port_fails_fast_with_exit_code_2(launch_stack: LaunchStack) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        running = launch_stack(port=port)
        code = running.process.wait(timeout=30)

    output = running.output()
    assert code == 2, output
    assert f"port {port}" in output
    assert "already in use" in output
    assert "Traceback" not in output
    assert not running.state_file.exists()


# -- API Gateway emulation, in-process ----------------------------------------------------------------

Event = dict[str, Any]


def spec(logical_id: str, *routes: tuple[str, str]) -> FunctionSpec:
    return FunctionSpec(
        logical_id=logical_id,
        module="not.imported",
        handler="handler",
        code_uri="unused/",
        environment={},
        memory_size=256,
        timeout=5,
        routes=[ApiRoute(f"E{index}", method, path) for index, (method, path) in enumerate(routes)],
    )


def echo(event: Event, context: Any) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {
                "event": event,
                "context": {
                    "function_name": context.function_name,
                    "function_version": context.function_version,
                    "invoked_function_arn": context.invoked_function_arn,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "aws_request_id": context.aws_request_id,
                    "log_group_name": context.log_group_name,
                    "remaining": context.get_remaining_time_in_millis(),
                },
            }
        ),
    }


@pytest.fixture
def gateway_factory() -> Iterator[Any]:
    started: list[ApiGateway] = []

    def start(specs: list[FunctionSpec], handlers: dict[str, Any]) -> ApiGateway:
        gateway = ApiGateway(specs, stage="dev", port=0, handlers=handlers)
        gateway.start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


def test_literal_segments_win_over_path_parameters(gateway_factory: Any) -> None:
    def named(name: str) -> Any:
        return lambda event, context: {"statusCode": 200, "body": json.dumps({"by": name, "event": event})}

    gateway = gateway_factory(
        [
            spec("Literal", ("GET", "/orders/special")),
            spec("Param", ("GET", "/orders/{order_no}")),
            spec("Greedy", ("ANY", "/orders/{proxy+}")),
        ],
        {"Literal": named("Literal"), "Param": named("Param"), "Greedy": named("Greedy")},
    )

    def who(method: str, path: str) -> str:
        response = requests.request(method, f"{gateway.url}{path}", timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        return str(response.json()["by"])

    assert who("GET", "/orders/special") == "Literal"
    assert who("GET", "/orders/special/") == "Literal"
    assert who("GET", "/orders/A-1") == "Param"
    assert who("GET", "/orders/a/b") == "Greedy"
    assert requests.get(f"{gateway.url}/orders", timeout=TIMEOUT).status_code == 403


def test_the_proxy_event_and_context_look_like_api_gateway_and_lambda(gateway_factory: Any) -> None:
    gateway = gateway_factory([spec("Echo", ("POST", "/items/{item_id}"))], {"Echo": echo})

    response = requests.post(
        f"{gateway.url}/items/a%20b?x=1&x=2&y=",
        headers={"x-api-key": "k", "X-Trace": "t"},
        data=b'{"hello": "world"}',
        timeout=TIMEOUT,
    )

    assert response.status_code == 200, response.text
    event, context = response.json()["event"], response.json()["context"]
    assert event["resource"] == "/items/{item_id}"
    assert event["path"] == "/items/a b"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"item_id": "a b"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["headers"]["x-api-key"] == "k"
    assert event["multiValueHeaders"]["X-Trace"] == ["t"]
    assert event["stageVariables"] is None
    assert event["body"] == '{"hello": "world"}'
    assert event["isBase64Encoded"] is False
    request_context = event["requestContext"]
    assert request_context["resourcePath"] == "/items/{item_id}"
    assert request_context["path"] == "/dev/items/a b"
    assert request_context["stage"] == "dev"
    assert request_context["httpMethod"] == "POST"
    assert request_context["accountId"] == "123456789012"
    assert request_context["apiId"] == "local"
    assert request_context["identity"]["sourceIp"] == HOST
    assert abs(request_context["requestTimeEpoch"] - time.time() * 1000) < 60_000
    assert context["function_version"] == "$LATEST"
    assert context["memory_limit_in_mb"] == 256
    assert context["invoked_function_arn"].endswith(f":function:{context['function_name']}")
    assert 0 < context["remaining"] <= 5000


def test_a_get_without_body_or_query_has_nulls(gateway_factory: Any) -> None:
    gateway = gateway_factory([spec("Echo", ("GET", "/"))], {"Echo": echo})

    event = requests.get(f"{gateway.url}/", timeout=TIMEOUT).json()["event"]

    assert event["body"] is None
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None


def test_response_headers_are_merged_and_base64_bodies_decoded(gateway_factory: Any) -> None:
    def binary(event: Event, context: Any) -> dict[str, Any]:
        return {
            "statusCode": 201,
            "headers": {"Content-Type": "application/octet-stream", "X-Single": "s", "X-Both": "single"},
            "multiValueHeaders": {"X-Both": ["m1", "m2"]},
            "body": base64.b64encode(b"\x00\xffbin").decode(),
            "isBase64Encoded": True,
        }

    gateway = gateway_factory([spec("Binary", ("GET", "/bin"))], {"Binary": binary})

    response = requests.get(f"{gateway.url}/bin", timeout=TIMEOUT)

    assert response.status_code == 201
    assert response.content == b"\x00\xffbin"
    assert response.headers["X-Single"] == "s"
    assert response.headers["X-Both"] == "m1, m2"
    assert response.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    "result",
    [None, {"body": "no status"}, {"statusCode": "abc"}, {"statusCode": 200, "body": {"not": "a string"}}],
    ids=["none", "no-status", "bad-status", "non-string-body"],
)
def test_a_malformed_proxy_response_is_a_502(gateway_factory: Any, result: Any) -> None:
    gateway = gateway_factory([spec("Bad", ("GET", "/bad"))], {"Bad": lambda event, context: result})

    response = requests.get(f"{gateway.url}/bad", timeout=TIMEOUT)

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_a_handler_exception_is_a_502_and_is_logged(gateway_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    def boom(event: Event, context: Any) -> dict[str, Any]:
        raise RuntimeError("kaboom")

    gateway = gateway_factory([spec("Boom", ("GET", "/boom"))], {"Boom": boom})

    with caplog.at_level("ERROR", logger="local_stack.apigw"):
        response = requests.get(f"{gateway.url}/boom", timeout=TIMEOUT)

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    assert any(record.exc_info and "kaboom" in str(record.exc_info[1]) for record in caplog.records)


def test_invocations_of_one_function_are_serialized(gateway_factory: Any) -> None:
    active = 0
    peak = 0
    guard = threading.Lock()

    def slow(event: Event, context: Any) -> dict[str, Any]:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with guard:
            active -= 1
        return {"statusCode": 204}

    gateway = gateway_factory([spec("Slow", ("GET", "/slow"))], {"Slow": slow})

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: requests.get(f"{gateway.url}/slow", timeout=TIMEOUT).status_code, range(6)))

    assert statuses == [204] * 6
    assert peak == 1
