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
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from local_stack.apigw import ApiGateway
from local_stack.template import ApiRoute, FunctionSpec

from .conftest import HOST, SESSION_SCHEDULE_SECONDS, LaunchStack, StackProcess, port_is_free

TIMEOUT = 10
REPO_EVENTS = Path(__file__).resolve().parents[2] / "events"


# -- the real stack -------------------------------------------------------------------------------


def _envelope_error(response: requests.Response, path: str, status: int, code: int) -> None:
    """A function's answer in Shipper's envelope with x-request-id."""
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"]
    metadata = response.json()["metadata"]
    assert metadata["path"] == path and metadata["http_status_code"] == status
    assert [error["code"] for error in metadata["errors"]] == [code]


def _bare(response: requests.Response, status: int, message: str) -> None:
    """One of HTTP API's own answers: it has no gateway responses, so no envelope can shape them."""
    assert response.status_code == status, response.text
    assert response.json() == {"message": message}
    assert response.headers["apigw-requestid"]


def test_an_unknown_route_reaches_default_and_answers_the_shipper_404_without_a_key(stack: dict[str, Any]) -> None:
    response = requests.get(f"{stack['api_url']}/v3/nope", timeout=TIMEOUT)

    _envelope_error(response, "/v3/nope", 404, 810)
    assert response.json()["metadata"]["errors"][0]["message"] == "No resource at this path and method"


def test_an_unknown_method_on_a_known_path_reaches_default_and_answers_the_shipper_404(stack: dict[str, Any]) -> None:
    response = requests.delete(
        f"{stack['api_url']}/v3/fulfillment/outbounds/OMS", headers={"x-api-key": stack["api_key"]}, timeout=TIMEOUT
    )

    _envelope_error(response, "/v3/fulfillment/outbounds/OMS", 404, 810)


def test_a_body_over_the_hub_limit_answers_the_shipper_413(stack: dict[str, Any]) -> None:
    response = requests.post(
        f"{stack['api_url']}/v3/fulfillment/outbound/oms",
        headers={"x-api-key": stack["api_key"], "Content-Type": "application/json"},
        data=b'{"x": "' + b"a" * (1024 * 1024) + b'"}',
        timeout=TIMEOUT,
    )

    _envelope_error(response, "/v3/fulfillment/outbound/oms", 413, 810)


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
    assert set(stack["tables"]) == {"OrdersTable", "TenantsTable", "DeliveriesTable"}
    assert stack["env"]["TENANTS_TABLE_NAME"] == stack["tables"]["TenantsTable"]
    assert stack["env"]["ORDERS_TABLE_NAME"] == stack["tables"]["OrdersTable"]
    assert stack["env"]["AUTH_CACHE_TTL_SECONDS"] == "0"  # the fixture's --param
    assert stack["env"]["HUB_ENV"] == "local"
    assert isinstance(stack["pid"], int)


def test_stack_json_describes_the_queues_streams_and_pumps(stack: dict[str, Any]) -> None:
    endpoint = stack["aws_endpoint_url"]
    assert set(stack["queues"]) == {"WmsForwardQueue", "WmsForwardDLQ", "DeliveryQueue", "DeliveryDLQ", "DispatchFailuresQueue"}
    for logical_id, queue in stack["queues"].items():
        assert queue["url"] == f"{endpoint}/123456789012/hub-local-{logical_id}"
        assert queue["arn"] == f"arn:aws:sqs:{stack['region']}:123456789012:hub-local-{logical_id}"
    assert stack["env"]["WMS_FORWARD_QUEUE_URL"] == stack["queues"]["WmsForwardQueue"]["url"]
    assert stack["env"]["DELIVERY_QUEUE_URL"] == stack["queues"]["DeliveryQueue"]["url"]
    assert stack["env"]["DELIVERY_DLQ_URL"] == stack["queues"]["DeliveryDLQ"]["url"]
    assert stack["streams"]["OrdersTable"].startswith(
        f"arn:aws:dynamodb:{stack['region']}:123456789012:table/{stack['tables']['OrdersTable']}/stream/"
    )
    assert stack["pumps_enabled"] is True
    assert stack["schedule_seconds"] == SESSION_SCHEDULE_SECONDS
    assert stack["pumps"] == [
        "stream OrdersTable -> DispatcherFunction",
        "queue WmsForwardQueue (up to 10 batches at once) -> WmsForwarderFunction",
        "queue DeliveryQueue (up to 20 batches at once) -> DeliveryWorkerFunction",
        f"schedule Poll rate(1 minute) (every {SESSION_SCHEDULE_SECONDS:g} s) -> StatusPollerFunction",
    ]


def test_the_forward_queue_redrives_to_its_dead_letter_queue(stack: dict[str, Any]) -> None:
    sqs = boto3.client("sqs", endpoint_url=stack["aws_endpoint_url"], region_name=stack["region"])

    attributes = sqs.get_queue_attributes(QueueUrl=stack["queues"]["WmsForwardQueue"]["url"], AttributeNames=["All"])[
        "Attributes"
    ]

    assert attributes["VisibilityTimeout"] == "180"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack["queues"]["WmsForwardDLQ"]["arn"],
        "maxReceiveCount": 10,
    }


def test_the_banner_lists_the_running_pumps(stack_process: StackProcess) -> None:
    line = stack_process.wait_for_output("  pumps ")

    assert "stream OrdersTable -> DispatcherFunction" in line
    assert "queue WmsForwardQueue (up to 10 batches at once) -> WmsForwarderFunction" in line
    assert "-> StatusPollerFunction" in line


def _create_demo_order(info: dict[str, Any], so_number: str) -> None:
    body = json.loads(json.loads((REPO_EVENTS / "orders_api" / "create_order.json").read_text())["body"])
    body["so_number"] = so_number
    response = requests.post(
        f"{info['api_url']}/v3/fulfillment/outbound/oms",
        headers={"x-api-key": info["api_key"], "content-type": "application/json"},
        data=json.dumps(body),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text


def _wait_for_stream_record(info: dict[str, Any], so_number: str, timeout: float = 15.0) -> None:
    """Wait until the orders table's stream (in the stack's moto) holds a record about ``so_number``."""
    from botocore.config import Config

    streams = boto3.client(
        "dynamodbstreams",
        endpoint_url=info["aws_endpoint_url"],
        region_name=info["region"],
        config=Config(account_id_endpoint_mode="disabled"),
    )
    arn = info["streams"]["OrdersTable"]
    deadline = time.monotonic() + timeout
    while True:
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"].get("Shards", []):
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
            records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
            if any(so_number in json.dumps(record.get("dynamodb", {}), default=str) for record in records):
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"no stream record for {so_number} after {timeout} s")
        time.sleep(0.1)


def test_every_event_source_reaches_its_function_and_sigterm_still_stops_at_once(launch_stack: LaunchStack) -> None:
    """A stack of its own: it gets a raw message on the forward queue the session stack must not see."""
    running = launch_stack(schedule_seconds=0.5)
    info = running.wait_ready()

    _create_demo_order(info, "SO-PUMPS-1")  # the order's outbox event goes down the table's stream
    running.wait_for_output("DispatcherFunction <- stream OrdersTable")
    sqs = boto3.client("sqs", endpoint_url=info["aws_endpoint_url"], region_name=info["region"])
    sqs.send_message(QueueUrl=info["queues"]["WmsForwardQueue"]["url"], MessageBody='{"from": "e2e"}')
    running.wait_for_output("WmsForwarderFunction <- queue WmsForwardQueue")
    running.wait_for_output("StatusPollerFunction <- schedule Poll")

    started = time.monotonic()
    code = running.stop(signal.SIGTERM)

    assert code == 0, running.output()
    assert time.monotonic() - started < 5
    assert not running.state_file.exists()
    assert "local_stack: stopped" in running.output()


def test_no_pumps_serves_only_the_api(launch_stack: LaunchStack) -> None:
    running = launch_stack(extra_args=("--no-pumps",), schedule_seconds=0.2)
    info = running.wait_ready()

    _create_demo_order(info, "SO-NO-PUMPS-1")
    _wait_for_stream_record(info, "SO-NO-PUMPS-1")  # the change a stream pump would carry is there

    assert info["pumps"] == [] and info["pumps_enabled"] is False  # and there is no pump to carry it
    assert "pumps        off (--no-pumps)" in running.output(tail=None)
    assert " <- " not in running.output(tail=None)  # no function was invoked by a pump
    assert running.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_stack_cleanly(launch_stack: LaunchStack, sig: signal.Signals) -> None:
    running = launch_stack()
    info = running.wait_ready()
    assert requests.get(f"{info['api_url']}/anything", timeout=TIMEOUT).status_code == 404

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
        routes=[ApiRoute(f"E{index}", method, path, payload_format_version="1.0") for index, (method, path) in enumerate(routes)],
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
        gateway = ApiGateway(specs, port=0, handlers=handlers)
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
    assert who("POST", "/orders/A-1") == "Greedy"  # HTTP API: the next route that takes the method
    _bare(requests.get(f"{gateway.url}/orders", timeout=TIMEOUT), 404, "Not Found")


def test_what_no_route_takes_goes_to_default_and_only_then_is_not_found(gateway_factory: Any) -> None:
    without_default = gateway_factory([spec("Echo", ("GET", "/things/{id}"))], {"Echo": echo})
    with_default = gateway_factory(
        [spec("Echo", ("GET", "/things/{id}")), spec("Rest", ("$default", "$default"))], {"Echo": echo, "Rest": echo}
    )

    _bare(requests.delete(f"{without_default.url}/things/1", timeout=TIMEOUT), 404, "Not Found")
    for method, path in (("DELETE", "/things/1"), ("GET", "/"), ("PATCH", "/a/b/c")):
        event = requests.request(method, f"{with_default.url}{path}", timeout=TIMEOUT).json()["event"]
        assert (event["resource"], event["path"], event["httpMethod"]) == ("$default", path, method)
        context = event["requestContext"]
        assert (context["resourceId"], context["resourcePath"], context["stage"]) == ("$default", "$default", "$default")
        assert event["pathParameters"] is None


def test_a_body_over_10_mb_is_http_apis_bare_413(gateway_factory: Any) -> None:
    gateway = gateway_factory([spec("Echo", ("POST", "/big"))], {"Echo": echo})

    _bare(requests.post(f"{gateway.url}/big", data=b"x" * (10 * 1024 * 1024 + 1), timeout=30), 413, "Request Entity Too Large")


def test_an_event_over_lambdas_6_mb_payload_is_http_apis_bare_500(gateway_factory: Any) -> None:
    gateway = gateway_factory([spec("Echo", ("POST", "/big"))], {"Echo": echo})

    _bare(requests.post(f"{gateway.url}/big", data=b"x" * (6 * 1024 * 1024 + 1), timeout=30), 500, "Internal Server Error")


def test_the_event_is_http_api_payload_1_0_and_the_context_looks_like_lambda(gateway_factory: Any) -> None:
    gateway = gateway_factory([spec("Echo", ("POST", "/items/{item_id}"))], {"Echo": echo})

    response = requests.post(
        f"{gateway.url}/items/a%20b?x=1&x=2&y=",
        headers={"x-api-key": "k", "X-Trace": "t"},
        data=b'{"hello": "world"}',
        timeout=TIMEOUT,
    )

    assert response.status_code == 200, response.text
    event, context = response.json()["event"], response.json()["context"]
    assert event["version"] == "1.0"
    assert event["resource"] == "/items/{item_id}"
    assert event["path"] == "/items/a b"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"item_id": "a b"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["headers"]["x-api-key"] == "k"
    assert event["multiValueHeaders"]["X-Trace"] == ["t"]
    assert event["headers"]["X-Forwarded-Proto"] == "https" and event["headers"]["X-Forwarded-For"] == HOST
    assert event["headers"]["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert event["stageVariables"] is None
    assert event["body"] == '{"hello": "world"}'
    assert event["isBase64Encoded"] is False
    request_context = event["requestContext"]
    assert request_context["resourcePath"] == "/items/{item_id}"
    assert request_context["resourceId"] == "POST /items/{item_id}"  # payload 1.0 carries the route key here
    assert "routeKey" not in request_context
    assert request_context["path"] == "/items/a b"  # the $default stage adds no prefix
    assert request_context["stage"] == "$default"
    assert request_context["requestId"] == request_context["extendedRequestId"]
    assert response.headers["apigw-requestid"] == request_context["requestId"]
    assert request_context["authorizer"] == {"claims": None, "scopes": None}
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
def test_a_malformed_proxy_response_is_http_apis_bare_500(gateway_factory: Any, result: Any) -> None:
    gateway = gateway_factory([spec("Bad", ("GET", "/bad"))], {"Bad": lambda event, context: result})

    response = requests.get(f"{gateway.url}/bad", timeout=TIMEOUT)

    _bare(response, 500, "Internal Server Error")


def test_a_handler_exception_is_http_apis_bare_500_and_is_logged(gateway_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    def boom(event: Event, context: Any) -> dict[str, Any]:
        raise RuntimeError("kaboom")

    gateway = gateway_factory([spec("Boom", ("GET", "/boom"))], {"Boom": boom})

    with caplog.at_level("ERROR", logger="local_stack.apigw"):
        response = requests.get(f"{gateway.url}/boom", timeout=TIMEOUT)

    _bare(response, 500, "Internal Server Error")
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


def test_a_payload_2_0_route_gets_the_2_0_event_and_may_return_a_bare_object(gateway_factory: Any) -> None:
    seen: list[Event] = []

    def bare(event: Event, context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"hello": "world"}  # no statusCode: HTTP API infers a 200 with this JSON body

    function = spec("V2")
    function.routes.append(ApiRoute("V2", "POST", "/v2/{id}", payload_format_version="2.0"))
    gateway = gateway_factory([function], {"V2": bare})

    response = requests.post(
        f"{gateway.url}/v2/a?x=1&x=2",
        headers={"X-Trace": "t", "Cookie": "a=1; b=2"},
        data=b"{}",
        timeout=TIMEOUT,
    )

    assert response.status_code == 200 and response.json() == {"hello": "world"}
    [event] = seen
    assert (event["version"], event["routeKey"], event["rawPath"], event["rawQueryString"]) == (
        "2.0",
        "POST /v2/{id}",
        "/v2/a",
        "x=1&x=2",
    )
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["headers"]["x-trace"] == "t" and "cookie" not in event["headers"]
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["pathParameters"] == {"id": "a"}
    assert event["requestContext"]["http"]["method"] == "POST" and event["requestContext"]["stage"] == "$default"
