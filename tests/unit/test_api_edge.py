"""The API edge after the move to an HTTP API, which has no gateway responses.

What template.yaml declares (the HTTP API, its $default route and its throttling), what the
functions answer where the REST API's gateway responses used to (Shipper's envelope with
x-request-id), and what local_stack.apigw answers where HTTP API's own bare bodies cannot be shaped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_stack.apigw import INTERNAL_SERVER_ERROR, NOT_FOUND, REQUEST_TOO_LARGE, gateway_answer
from local_stack.template import load_template, parameter_values
from order_hub.edge import MAX_BODY_BYTES
from order_hub.errors import PayloadTooLarge
from order_hub.http_api import check_body_size, http_status_of, is_default_route, no_route_response

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _events(template: dict[str, Any], function: str) -> dict[str, Any]:
    events: dict[str, Any] = template["Resources"][function]["Properties"]["Events"]
    return events


# -- template.yaml ---------------------------------------------------------------------------------


def test_the_api_is_an_http_api_on_its_default_stage_with_nothing_rest_only(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    apis = {name: r for name, r in resources.items() if r["Type"].startswith(("AWS::Serverless::Api", "AWS::ApiGateway::"))}
    assert apis == {}
    properties = resources["HubHttpApi"]["Properties"]
    assert resources["HubHttpApi"]["Type"] == "AWS::Serverless::HttpApi"
    assert "StageName" not in properties  # $default: no stage prefix in the paths
    for rest_only in ("GatewayResponses", "MethodSettings", "TracingEnabled", "AccessLogSetting"):
        assert rest_only not in properties
    assert "ApiGatewayLogsRole" not in template["Parameters"]
    assert resources_output(template) == {"Fn::GetAtt": ["HubHttpApi", "ApiEndpoint"]}


def resources_output(template: dict[str, Any]) -> Any:
    return template["Outputs"]["ApiUrl"]["Value"]


def test_every_api_event_is_an_http_api_route_with_payload_format_1_0(template: dict[str, Any]) -> None:
    count = 0
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            assert event["Type"] != "Api"
            if event["Type"] == "HttpApi":
                count += 1
                assert event["Properties"]["ApiId"] == {"Ref": "HubHttpApi"}
                assert event["Properties"]["PayloadFormatVersion"] == "1.0"  # APIGatewayRestResolver's event shape
    assert count == 24  # 7 order routes, 9 admin routes, 4 webhooks, 3 portal routes, and $default


def test_the_default_route_goes_to_the_orders_function(template: dict[str, Any]) -> None:
    defaults = [
        (function, name)
        for function, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        for name, event in (resource["Properties"].get("Events") or {}).items()
        if event["Type"] == "HttpApi" and "Path" not in event["Properties"] and "Method" not in event["Properties"]
    ]
    assert defaults == [("OrdersApiFunction", "NoRoute")]


def test_webhooks_are_throttled_apart_from_client_traffic(template: dict[str, Any]) -> None:
    properties = template["Resources"]["HubHttpApi"]["Properties"]
    route_settings = properties["RouteSettings"]
    webhooks = {
        f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}"
        for event in _events(template, "WebhookIngestFunction").values()
    }
    assert len(webhooks) == 4
    assert set(route_settings) == webhooks
    defaults = parameter_values(template)
    client_rate = int(defaults[properties["DefaultRouteSettings"]["ThrottlingRateLimit"]["Ref"]])
    for key in webhooks:
        rate = int(defaults[route_settings[key]["ThrottlingRateLimit"]["Ref"]])
        burst = int(defaults[route_settings[key]["ThrottlingBurstLimit"]["Ref"]])
        assert 0 < rate < client_rate, key
        assert burst >= rate, key


def test_client_routes_are_throttled_above_the_tenant_limit_so_the_tenant_sees_the_envelope(
    template: dict[str, Any],
) -> None:
    properties = template["Resources"]["HubHttpApi"]["Properties"]["DefaultRouteSettings"]
    defaults = parameter_values(template)
    rate = int(defaults[properties["ThrottlingRateLimit"]["Ref"]])
    burst = int(defaults[properties["ThrottlingBurstLimit"]["Ref"]])
    tenant = int(defaults["TenantRateLimitPerSecond"])
    assert 0 < tenant < rate <= burst


# -- what the functions answer in the gateway's place ---------------------------------------------------


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"version": "1.0", "resource": "/x", "path": "/x", "httpMethod": "GET", "body": None}
    event.update(changes)
    return event


def test_a_request_no_route_takes_gets_the_shipper_404() -> None:
    event = _event(resource="$default", path="/v3/nope", requestContext={"resourceId": "$default"})

    assert is_default_route(event)
    response = no_route_response(event)

    assert response["statusCode"] == 404
    metadata = json.loads(response["body"])["metadata"]
    assert metadata["path"] == "/v3/nope" and metadata["http_status_code"] == 404
    assert metadata["errors"] == [{"code": 810, "message": "No resource at this path and method"}]
    assert not is_default_route(_event(requestContext={"resourceId": "GET /x"}))


def test_a_body_over_the_hub_limit_is_a_413_well_below_what_http_api_and_lambda_take() -> None:
    assert MAX_BODY_BYTES * 5 < 6 * 1024 * 1024  # Lambda's invocation payload, itself under HTTP API's 10 MB
    check_body_size(_event(body="x" * MAX_BODY_BYTES))
    with pytest.raises(PayloadTooLarge) as refused:
        check_body_size(_event(body="x" * (MAX_BODY_BYTES + 1)))
    assert http_status_of(refused.value) == 413 and refused.value.code == 810 and refused.value.field == "body"
    with pytest.raises(PayloadTooLarge):
        check_body_size(_event(body="QUFB" * (MAX_BODY_BYTES // 3 + 1), isBase64Encoded=True))


# -- what HTTP API answers itself (emulated; routing over HTTP in tests/e2e/test_local_stack.py) ----------


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        (NOT_FOUND, 404, "Not Found"),
        (REQUEST_TOO_LARGE, 413, "Request Entity Too Large"),
        (INTERNAL_SERVER_ERROR, 500, "Internal Server Error"),
    ],
)
def test_http_apis_own_answers_are_bare_messages(answer: tuple[int, str], status: int, message: str) -> None:
    response = gateway_answer(answer, "abcdefghijklmno=")

    assert response.status == status
    assert json.loads(response.body) == {"message": message}
    assert dict(response.headers)["apigw-requestid"] == "abcdefghijklmno="


def test_the_local_access_log_never_shows_a_portal_links_one_time_token() -> None:
    from local_stack.apigw import loggable_path

    assert loggable_path("/portal/login?token=demo.s3cr3t") == "/portal/login?token=<redacted>"
    assert loggable_path("/portal/orders?status=OPEN&token=x&page=2") == "/portal/orders?status=OPEN&token=<redacted>&page=2"
    assert loggable_path("/hub/v1/orders?page=2") == "/hub/v1/orders?page=2"
