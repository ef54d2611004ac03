"""local_stack.template: CloudFormation-aware YAML loading and what the local stack derives from it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from local_stack import template as template_module
from local_stack.stack import merge_environments
from local_stack.template import (
    NO_VALUE,
    ApiRoute,
    DynamoStreamEvent,
    FunctionSpec,
    LocalResources,
    QueueInfo,
    Resolver,
    ScheduleEvent,
    SqsEvent,
    TemplateError,
    api_stage_name,
    api_types,
    create_queues,
    create_tables,
    function_specs,
    load_template,
    loads_template,
    local_queue_names,
    local_table_names,
    parameter_values,
    queue_create_attributes,
    queue_creation_order,
    table_create_kwargs,
    table_stream_arns,
    table_ttl_attribute,
)

TABLES = {
    "OrdersTable": "hub-local-OrdersTable",
    "TenantsTable": "hub-local-TenantsTable",
    "DeliveriesTable": "hub-local-DeliveriesTable",
}
SQS_URL = "http://127.0.0.1:5000/123456789012"
SQS_ARN = "arn:aws:sqs:us-east-1:123456789012"
QUEUES = {
    logical_id: QueueInfo(f"{SQS_URL}/hub-local-{logical_id}", f"{SQS_ARN}:hub-local-{logical_id}", f"hub-local-{logical_id}")
    for logical_id in ("WmsForwardQueue", "WmsForwardDLQ", "DeliveryQueue", "DeliveryDLQ", "DispatchFailuresQueue")
}
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/hub-local-OrdersTable/stream/2026-01-01T00:00:00.000"
RESOURCES = LocalResources(tables=TABLES, stream_arns={"OrdersTable": STREAM_ARN}, queues=QUEUES)


def _specs(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, FunctionSpec]:
    specs = function_specs(template, RESOURCES.refs(), overrides, attributes=RESOURCES.attributes())
    return {spec.logical_id: spec for spec in specs}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_the_default_template_is_parsed_once_and_every_caller_gets_its_own_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_template()
    first["Resources"]["OrdersTable"]["Properties"]["TableName"] = "changed by a caller"
    del first["Resources"]["TenantsTable"]
    parses: list[Any] = []
    monkeypatch.setattr(template_module, "_parse_template_file", lambda source: parses.append(source))

    second = load_template()

    assert parses == []  # served from the cache, not parsed again
    assert "TenantsTable" in second["Resources"]
    assert second["Resources"]["OrdersTable"]["Properties"].get("TableName") != "changed by a caller"
    assert second is not load_template()


def test_a_template_at_another_path_is_parsed_each_time(tmp_path: Any) -> None:
    source = tmp_path / "template.yaml"
    source.write_text("Resources:\n  A: {Type: AWS::SQS::Queue}\n")
    assert list(load_template(source)["Resources"]) == ["A"]
    source.write_text("Resources:\n  B: {Type: AWS::SQS::Queue}\n")
    assert list(load_template(source)["Resources"]) == ["B"]


def _walk(value: Any) -> list[str]:
    """Every string (keys and values) in a nested structure."""
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [str(key), *_walk(item)]]
    if isinstance(value, list):
        return [s for item in value for s in _walk(item)]
    return [value] if isinstance(value, str) else []


# -- loading --------------------------------------------------------------------------------------


def test_the_repository_template_loads_with_intrinsics_in_long_form(template: dict[str, Any]) -> None:
    orders = template["Resources"]["OrdersApiFunction"]["Properties"]
    statement = orders["Policies"][0]["Statement"][1]

    assert template["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == {
        "Fn::If": ["IsProd", "INFO", "DEBUG"]
    }
    assert statement["Resource"] == [{"Fn::GetAtt": ["OrdersTable", "Arn"]}, {"Fn::Sub": "${OrdersTable.Arn}/index/*"}]
    assert orders["Policies"][0]["Statement"][0]["Resource"] == {"Fn::GetAtt": ["OrdersTable", "Arn"]}
    assert template["Outputs"]["OrdersTableStreamArn"]["Value"] == {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    assert not [text for text in _walk(template) if text.startswith("!")]


def test_short_forms_become_long_forms() -> None:
    document = loads_template(
        """
        a: !Ref Thing
        b: !GetAtt Db.Endpoint.Address
        c: !GetAtt [Table, Arn]
        d: !Sub "arn:${AWS::Partition}:s3:::${Bucket}"
        e: !Sub ["${Name}-x", {Name: !Ref Stage}]
        f: !Join ["-", [a, !Ref Stage]]
        g: !Select [1, !Split [",", "x,y,z"]]
        h: !If [IsProd, !Ref AWS::NoValue, 3]
        i: !Not [!Equals [!Ref Stage, prod]]
        j: !Condition IsProd
        k: !FindInMap [Map, Top, Second]
        l: !Base64 hello
        """
    )

    assert document == {
        "a": {"Ref": "Thing"},
        "b": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
        "c": {"Fn::GetAtt": ["Table", "Arn"]},
        "d": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}"},
        "e": {"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "Stage"}}]},
        "f": {"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]},
        "g": {"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]},
        "h": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, 3]},
        "i": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Stage"}, "prod"]}]},
        "j": {"Condition": "IsProd"},
        "k": {"Fn::FindInMap": ["Map", "Top", "Second"]},
        "l": {"Fn::Base64": "hello"},
    }


def test_unknown_python_tags_are_still_refused() -> None:
    """The loader stays safe: only the "!" short tags are added, nothing that builds Python objects."""
    with pytest.raises(Exception, match="python/object"):
        loads_template("a: !!python/object:os.system echo")


# -- parameters and intrinsics ----------------------------------------------------------------------


def test_parameter_values_use_defaults_and_overrides(template: dict[str, Any]) -> None:
    assert parameter_values(template) == {
        "Stage": "dev",
        "LogRetentionDays": "30",
        "PollSchedule": "rate(1 minute)",
        "WmsTimeoutSeconds": "10",
        "WmsRetryBackoffSeconds": "5,30,120,300,900,1800,3600,7200,14400",
        "AuthCacheTtlSeconds": "60",
        "TenantRateLimitPerSecond": "50",
        "DeliveryRetrySchedule": "5,300,1800,7200,18000,36000,36000",
        "CallbackTimeoutSeconds": "15",
        "AlarmEmail": "",
        "Tracing": "Disabled",
        "ReserveConcurrency": "true",
        "OrdersApiConcurrency": "100",
        "AdminApiConcurrency": "10",
        "PortalConcurrency": "5",
        "WebhookIngestConcurrency": "50",
        "DispatcherConcurrency": "20",
        "WmsForwarderConcurrency": "10",
        "DeliveryWorkerConcurrency": "20",
        "ApiRouteRateLimit": "2000",
        "ApiRouteBurstLimit": "4000",
        "WebhookRouteRateLimit": "1000",
        "WebhookRouteBurstLimit": "2000",
    }
    assert parameter_values(template, {"AuthCacheTtlSeconds": "0", "Stage": "prod"})["AuthCacheTtlSeconds"] == "0"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Nope": "1"}, "unknown parameter"),
        ({"Stage": "qa"}, "not one of"),
        ({"AuthCacheTtlSeconds": "901"}, "MaxValue"),
        ({"AuthCacheTtlSeconds": "-1"}, "MinValue"),
        ({"AuthCacheTtlSeconds": "soon"}, "not a number"),
    ],
)
def test_parameter_overrides_are_validated(template: dict[str, Any], overrides: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        parameter_values(template, overrides)


def test_a_parameter_without_default_must_be_given() -> None:
    template = loads_template("Parameters: {Secret: {Type: String}}\nResources: {}")

    with pytest.raises(TemplateError, match="--param Secret="):
        parameter_values(template)
    assert parameter_values(template, {"Secret": "x"}) == {"Secret": "x"}


def _resolver(stage: str = "dev") -> Resolver:
    template = loads_template(
        """
        Parameters: {Stage: {Type: String, Default: dev}}
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
          IsDev: !Not [!Condition IsProd]
          Both: !And [!Condition IsDev, !Equals ["a", "a"]]
          Either: !Or [!Condition IsProd, !Equals [1, "1"]]
        Mappings: {Sizes: {dev: {Memory: 256}, prod: {Memory: 1024}}}
        Resources: {Queue: {Type: AWS::SQS::Queue}, Table: {Type: AWS::DynamoDB::Table}}
        """
    )
    return Resolver(
        template,
        parameter_values(template, {"Stage": stage}),
        refs={"Table": "local-table"},
        attributes={("Table", "Arn"): "arn:aws:dynamodb:us-east-1:123456789012:table/local-table"},
    )


def test_resolver_evaluates_conditions_and_intrinsics() -> None:
    dev, prod = _resolver("dev"), _resolver("prod")

    assert dev.resolve({"Fn::If": ["IsProd", "INFO", "DEBUG"]}) == "DEBUG"
    assert prod.resolve({"Fn::If": ["IsProd", "INFO", "DEBUG"]}) == "INFO"
    assert dev.condition("IsDev") and dev.condition("Both") and dev.condition("Either")
    assert dev.resolve({"Ref": "Table"}) == "local-table"
    assert dev.resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert dev.resolve({"Fn::Join": ["-", ["hub", {"Ref": "Stage"}, 1]]}) == "hub-dev-1"
    assert dev.resolve({"Fn::Select": [2, {"Fn::Split": [",", "x,y,z"]}]}) == "z"
    assert prod.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}) == 1024
    assert dev.resolve({"Fn::GetAtt": ["Table", "Arn"]}).endswith(":table/local-table")
    assert dev.resolve({"Fn::Base64": "hi"}) == "aGk="


def test_sub_handles_parameters_pseudo_parameters_attributes_variables_and_literals() -> None:
    resolver = _resolver()

    assert resolver.resolve({"Fn::Sub": "/aws/${AWS::Region}/${Stage}/${Table}"}) == "/aws/us-east-1/dev/local-table"
    assert resolver.resolve({"Fn::Sub": "${Table.Arn}/index/*"}).endswith(":table/local-table/index/*")
    assert resolver.resolve({"Fn::Sub": ["${Name}-${Stage}", {"Name": {"Ref": "Table"}}]}) == "local-table-dev"
    assert resolver.resolve({"Fn::Sub": "${!NotResolved}"}) == "${NotResolved}"


def test_no_value_removes_the_property_or_list_item() -> None:
    resolver = _resolver()

    resolved = resolver.resolve(
        {"Keep": 1, "Drop": {"Fn::If": ["IsDev", {"Ref": "AWS::NoValue"}, 2]}, "List": [1, {"Ref": "AWS::NoValue"}]}
    )

    assert resolved == {"Keep": 1, "List": [1]}
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Queue"}, "no local counterpart"),
        ({"Ref": "Missing"}, "no such parameter or resource"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "no value for this attribute"),
        ({"Fn::ImportValue": "x"}, "not supported"),
        ({"Fn::If": ["Unknown", 1, 2]}, "unknown condition"),
        ({"Fn::Select": [5, ["a"]]}, "out of range"),
    ],
)
def test_what_cannot_be_resolved_is_an_error_not_a_guess(value: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        _resolver().resolve(value)


# -- tables -------------------------------------------------------------------------------------------


def test_orders_table_becomes_create_table_arguments(template: dict[str, Any]) -> None:
    kwargs = table_create_kwargs(template, "OrdersTable", "hub-local-OrdersTable")

    by_created = {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["warehouse_id", "order_type", "so_status", "in_wms"]}
    by_updated = {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["warehouse_id", "order_type"]}
    assert kwargs == {
        "TableName": "hub-local-OrdersTable",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk")
        ],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_created",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": by_created,
            },
            {
                "IndexName": "by_updated",
                "KeySchema": [
                    {"AttributeName": "gsi2pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": by_updated,
            },
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    }


def test_tenants_table_has_no_stream_and_unsupported_properties_are_dropped(template: dict[str, Any]) -> None:
    kwargs = table_create_kwargs(template, "TenantsTable", "t")

    assert set(kwargs) == {"TableName", "BillingMode", "AttributeDefinitions", "KeySchema"}


def test_ttl_attribute_comes_from_time_to_live_specification(template: dict[str, Any]) -> None:
    assert table_ttl_attribute(template, "OrdersTable") == "expires_at"
    assert table_ttl_attribute(template, "TenantsTable") == "expires_at"
    without = copy.deepcopy(template)
    del without["Resources"]["TenantsTable"]["Properties"]["TimeToLiveSpecification"]
    assert table_ttl_attribute(without, "TenantsTable") is None


def test_only_table_resources_are_tables(template: dict[str, Any]) -> None:
    with pytest.raises(TemplateError, match="not an AWS::DynamoDB::Table"):
        table_create_kwargs(template, "OrdersApiFunction", "x")


class RecordingDynamoDB:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_table(self, **kwargs: Any) -> None:
        self.calls.append(("create_table", kwargs))

    def update_time_to_live(self, **kwargs: Any) -> None:
        self.calls.append(("update_time_to_live", kwargs))

    def get_waiter(self, name: str) -> Any:
        calls = self.calls

        class Waiter:
            def wait(self, **kwargs: Any) -> None:
                calls.append((f"wait:{name}", kwargs))

        return Waiter()


def test_create_tables_creates_every_table_and_enables_ttl(template: dict[str, Any]) -> None:
    client = RecordingDynamoDB()

    names = create_tables(client, template, name_prefix="t")  # type: ignore[arg-type]

    assert names == {"OrdersTable": "t-OrdersTable", "TenantsTable": "t-TenantsTable", "DeliveriesTable": "t-DeliveriesTable"}
    assert names == local_table_names(template, "t")
    created = [kwargs["TableName"] for name, kwargs in client.calls if name == "create_table"]
    assert created == ["t-OrdersTable", "t-TenantsTable", "t-DeliveriesTable"]
    assert (
        "update_time_to_live",
        {
            "TableName": "t-OrdersTable",
            "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "expires_at"},
        },
    ) in client.calls
    ttl_tables = [kwargs["TableName"] for name, kwargs in client.calls if name == "update_time_to_live"]
    assert ttl_tables == ["t-OrdersTable", "t-TenantsTable", "t-DeliveriesTable"]


# -- functions --------------------------------------------------------------------------------------


def test_orders_api_function_spec(template: dict[str, Any]) -> None:
    spec = _specs(template, {"AuthCacheTtlSeconds": "0"})["OrdersApiFunction"]

    assert spec.logical_id == "OrdersApiFunction"
    assert spec.module == "functions.orders_api.app"
    assert spec.handler == "lambda_handler"
    assert spec.memory_size == 512
    assert spec.timeout == 10
    assert spec.environment == {
        "HUB_ENV": "dev",
        "POWERTOOLS_SERVICE_NAME": "outbound-order-hub",
        "POWERTOOLS_METRICS_NAMESPACE": "OutboundOrderHub",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "POWERTOOLS_LOGGER_SAMPLE_RATE": "0",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "ORDERS_TABLE_NAME": "hub-local-OrdersTable",
        "TENANTS_TABLE_NAME": "hub-local-TenantsTable",
        "AUTH_CACHE_TTL_SECONDS": "0",
        "TENANT_RATE_LIMIT_PER_SECOND": "50",
        "WMS_FORWARD_QUEUE_URL": f"{SQS_URL}/hub-local-WmsForwardQueue",
        "WMS_TIMEOUT_SECONDS": "10",
        "WMS_RETRY_BACKOFF_SECONDS": "5,30,120,300,900,1800,3600,7200,14400",
        "DELIVERIES_TABLE_NAME": "hub-local-DeliveriesTable",
        "DELIVERY_QUEUE_URL": f"{SQS_URL}/hub-local-DeliveryQueue",
        "DELIVERY_DLQ_URL": f"{SQS_URL}/hub-local-DeliveryDLQ",
        "DELIVERY_RETRY_SCHEDULE": "5,300,1800,7200,18000,36000,36000",
        "CALLBACK_TIMEOUT_SECONDS": "15",
    }
    assert ApiRoute("ListOrders", "GET", "/v3/fulfillment/outbounds/{outbound_type}", "HubHttpApi", "1.0") in spec.routes
    assert ApiRoute("NoRoute", "$default", "$default", "HubHttpApi", "1.0") in spec.routes
    assert {route.payload_format_version for route in spec.routes} == {"1.0"}
    assert {(route.method, route.path) for route in spec.routes if not route.is_default} == {
        ("POST", "/v3/fulfillment/outbound/oms"),
        ("PUT", "/v3/fulfillment/outbound/oms"),
        ("PATCH", "/v3/fulfillment/outbound/oms/cancel"),
        ("GET", "/v3/fulfillment/outbounds/{outbound_type}"),
        ("GET", "/v3/fulfillment/warehouse/{warehouse_id}/outbound/oms/{order_no}"),
        ("GET", "/v3/fulfillment/warehouse/{warehouse_id}/outbound/wms/{order_no}"),
        ("POST", "/v3/fulfillment/pricing/domestic"),
    }
    assert spec.other_events == [] and spec.stream_events == [] and spec.sqs_events == []


def test_every_function_of_the_template_is_described(template: dict[str, Any]) -> None:
    specs = _specs(template)

    assert {logical_id: spec.module for logical_id, spec in specs.items()} == {
        "OrdersApiFunction": "functions.orders_api.app",
        "DispatcherFunction": "functions.dispatcher.app",
        "WmsForwarderFunction": "functions.wms_forwarder.app",
        "WebhookIngestFunction": "functions.webhook_ingest.app",
        "StatusPollerFunction": "functions.status_poller.app",
        "DeliveryWorkerFunction": "functions.delivery_worker.app",
        "AdminApiFunction": "functions.admin_api.app",
        "PortalFunction": "functions.portal.app",
    }
    assert {(route.method, route.path) for route in specs["AdminApiFunction"].routes} == {
        ("POST", "/hub/v1/endpoints"),
        ("GET", "/hub/v1/endpoints"),
        ("GET", "/hub/v1/endpoints/{endpoint_id}"),
        ("PATCH", "/hub/v1/endpoints/{endpoint_id}"),
        ("POST", "/hub/v1/endpoints/{endpoint_id}/replay"),
        ("GET", "/hub/v1/deliveries"),
        ("GET", "/hub/v1/deliveries/{delivery_id}"),
        ("POST", "/hub/v1/deliveries/{delivery_id}/replay"),
        ("POST", "/hub/v1/portal/sessions"),
    }
    assert {(route.method, route.path) for route in specs["PortalFunction"].routes} == {
        ("GET", "/portal"),
        ("GET", "/portal/{proxy+}"),
        ("POST", "/portal/{proxy+}"),
    }
    assert {(route.method, route.path) for route in specs["WebhookIngestFunction"].routes} == {
        ("POST", "/webhooks/wms/{tenant_id}/order-confirmation"),
        ("POST", "/webhooks/wms/{tenant_id}/pgi"),
        ("POST", "/webhooks/logistics/{tenant_id}/created"),
        ("POST", "/webhooks/logistics/{tenant_id}/tracking"),
    }
    assert specs["StatusPollerFunction"].timeout == 300
    assert all(spec.other_events == [] for spec in specs.values())  # every event is emulated


def test_the_dispatchers_stream_event_is_parsed(template: dict[str, Any]) -> None:
    (stream,) = _specs(template)["DispatcherFunction"].stream_events

    assert stream == DynamoStreamEvent(
        event_id="OrderEvents",
        table="OrdersTable",
        starting_position="TRIM_HORIZON",
        batch_size=100,
        filter_patterns=({"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"entity": {"S": ["order"]}}}},),
        maximum_retry_attempts=10,
        report_batch_item_failures=True,
        bisect_batch_on_function_error=True,
        on_failure_queue="DispatchFailuresQueue",
    )


def test_the_forwarders_queue_event_is_parsed(template: dict[str, Any]) -> None:
    (queue,) = _specs(template)["WmsForwarderFunction"].sqs_events

    assert queue == SqsEvent(
        event_id="Forward", queue="WmsForwardQueue", batch_size=10, report_batch_item_failures=True, maximum_concurrency=10
    )
    overridden = _specs(template, {"WmsForwarderConcurrency": "3"})["WmsForwarderFunction"].sqs_events[0]
    assert overridden.maximum_concurrency == 3  # ScalingConfig.MaximumConcurrency: !Ref WmsForwarderConcurrency


def test_the_pollers_schedule_is_parsed_with_its_parameter_and_input(template: dict[str, Any]) -> None:
    (schedule,) = _specs(template)["StatusPollerFunction"].schedule_events
    (overridden,) = _specs(template, {"PollSchedule": "rate(5 minutes)"})["StatusPollerFunction"].schedule_events

    assert schedule == ScheduleEvent("Poll", "rate(1 minute)", '{"source": "schedule", "job": "poll-wms"}')
    assert schedule.event() == {"source": "schedule", "job": "poll-wms"}
    assert schedule.event() is not schedule.event()  # a fresh copy per firing
    assert overridden.expression == "rate(5 minutes)"


def test_the_environment_can_wait_for_the_resources(template: dict[str, Any]) -> None:
    """Before moto runs there are no queue URLs; code and events are known all the same."""
    specs = {spec.logical_id: spec for spec in function_specs(template, TABLES, resolve_environment=False)}

    assert all(spec.environment == {} for spec in specs.values())
    assert specs["DispatcherFunction"].stream_events[0].table == "OrdersTable"
    with pytest.raises(TemplateError, match="environment variable WMS_FORWARD_QUEUE_URL: !Ref WmsForwardQueue"):
        function_specs(template, TABLES)


def test_the_stage_parameter_drives_conditions(template: dict[str, Any]) -> None:
    spec = _specs(template, {"Stage": "prod"})["OrdersApiFunction"]

    assert spec.environment["HUB_ENV"] == "prod"
    assert spec.environment["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert spec.environment["POWERTOOLS_LOGGER_SAMPLE_RATE"] == "0.01"
    assert spec.environment["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert spec.environment["AUTH_CACHE_TTL_SECONDS"] == "60"
    assert api_types(template) == {"AWS::Serverless::HttpApi"}  # the cost model prices requests by it
    assert api_stage_name(template, {"Stage": "prod"}) == "$default"  # the HTTP API serves $default whatever the stage
    assert api_stage_name(template) == "$default"


def test_an_unresolvable_environment_variable_names_function_and_variable(template: dict[str, Any]) -> None:
    with pytest.raises(TemplateError, match="OrdersApiFunction: environment variable TENANTS_TABLE_NAME"):
        function_specs(template, {"OrdersTable": "o"})


SMALL = """
Parameters: {Stage: {Type: String, Default: dev}}
Globals:
  Function:
    CodeUri: functions/shared_code/
    Timeout: 5
    Environment: {Variables: {A: global, B: global, FLAG: true, N: 3}}
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: pkg/worker.handle
      Environment: {Variables: {B: own, C: !Sub "${Stage}-c", GONE: !Ref AWS::NoValue}}
      Events:
        Any: {Type: HttpApi, Properties: {Path: "/things/{proxy+}", Method: any}}
        Rest: {Type: HttpApi}
        Stream: {Type: DynamoDB, Properties: {Stream: "arn:x", StartingPosition: LATEST}}
        Nightly: {Type: ScheduleV2, Properties: {ScheduleExpression: "rate(1 day)"}}
"""


def test_globals_merge_with_the_function_and_unemulated_events_are_kept_with_a_reason() -> None:
    (spec,) = function_specs(loads_template(SMALL), {})

    assert spec.module == "functions.shared_code.pkg.worker"
    assert spec.handler == "handle"
    assert spec.code_uri == "functions/shared_code/"
    assert spec.timeout == 5
    assert spec.memory_size is None
    assert spec.environment == {"A": "global", "B": "own", "FLAG": "true", "N": "3", "C": "dev-c"}
    assert spec.routes == [ApiRoute("Any", "ANY", "/things/{proxy+}", None, "2.0"), ApiRoute("Rest", "$default", "$default")]
    assert [route.route_key for route in spec.routes] == ["ANY /things/{proxy+}", "$default"]
    assert [(event.event_id, event.type, event.reason) for event in spec.other_events] == [
        ("Stream", "DynamoDB", "Stream is not !GetAtt <table>.StreamArn of a table in this template"),
    ]
    assert spec.schedule_events == [ScheduleEvent("Nightly", "rate(1 day)", None)]
    assert spec.schedule_events[0].event() == {}


EVENTS = """
Parameters: {Batch: {Type: Number, Default: 7}}
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Queue:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: app.handler
      Environment:
        Variables:
          QUEUE_URL: !Ref Queue
          QUEUE_NAME: !GetAtt Queue.QueueName
          QUEUE_ARN: !GetAtt Queue.Arn
          STREAM: !GetAtt Table.StreamArn
      Events:
{events}
"""


def _worker(events: str) -> FunctionSpec:
    template = loads_template(EVENTS.replace("{events}", events))
    resources = LocalResources(
        tables={"Table": "t"},
        stream_arns={"Table": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/label"},
        queues={"Queue": QueueInfo("http://q/123456789012/q", "arn:aws:sqs:us-east-1:123456789012:q", "q")},
    )
    (spec,) = function_specs(template, resources.refs(), attributes=resources.attributes())
    return spec


def test_queue_and_stream_intrinsics_resolve_to_the_created_resources() -> None:
    spec = _worker("        {}")

    assert spec.environment == {
        "QUEUE_URL": "http://q/123456789012/q",
        "QUEUE_NAME": "q",
        "QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "STREAM": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/label",
    }


def test_event_defaults_and_parameters() -> None:
    spec = _worker(
        """
        S: {Type: DynamoDB, Properties: {Stream: !GetAtt Table.StreamArn, StartingPosition: LATEST}}
        Q: {Type: SQS, Properties: {Queue: !GetAtt Queue.Arn, BatchSize: !Ref Batch}}
        R: {Type: Schedule, Properties: {Schedule: "cron(0 * * * ? *)", Input: {"a": 1}}}
        """
    )

    assert spec.stream_events == [DynamoStreamEvent("S", "Table", "LATEST")]
    assert spec.stream_events[0].batch_size == 100
    assert spec.stream_events[0].maximum_retry_attempts == -1  # Lambda's default: until the record expires
    assert spec.sqs_events == [SqsEvent("Q", "Queue", batch_size=7)]
    assert spec.schedule_events == [ScheduleEvent("R", "cron(0 * * * ? *)", '{"a": 1}', type="Schedule")]


def test_disabled_and_unknown_events_are_not_emulated() -> None:
    spec = _worker(
        """
        Stopped: {Type: SQS, Properties: {Queue: !GetAtt Queue.Arn, Enabled: false}}
        Paused: {Type: ScheduleV2, Properties: {ScheduleExpression: "rate(1 minute)", State: DISABLED}}
        Topic: {Type: SNS, Properties: {Topic: arn:aws:sns:us-east-1:123456789012:t}}
        Outside: {Type: SQS, Properties: {Queue: arn:aws:sqs:us-east-1:123456789012:elsewhere}}
        """
    )

    assert [(event.event_id, event.reason) for event in spec.other_events] == [
        ("Stopped", "disabled in the template"),
        ("Paused", "disabled in the template"),
        ("Topic", "not emulated locally"),
        ("Outside", "Queue is not !GetAtt <queue>.Arn of a queue in this template"),
    ]
    assert spec.sqs_events == [] and spec.schedule_events == []


def test_an_on_failure_destination_that_is_not_a_template_queue_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="local_stack.template"):
        spec = _worker(
            """
            S:
              Type: DynamoDB
              Properties:
                Stream: !GetAtt Table.StreamArn
                StartingPosition: TRIM_HORIZON
                DestinationConfig: {OnFailure: {Type: SNS, Destination: arn:aws:sns:us-east-1:123456789012:t}}
            """
        )

    assert spec.stream_events[0].on_failure_queue is None
    assert "only an SQS queue of this template is emulated as OnFailure destination" in caplog.text


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (
            "        S: {Type: DynamoDB, Properties: {Stream: !GetAtt Table.StreamArn}}",
            "Worker.Events.S: StartingPosition must be TRIM_HORIZON or LATEST",
        ),
        (
            "        Q: {Type: SQS, Properties: {Queue: !GetAtt Queue.Arn, FilterCriteria: {Filters: [{Pattern: '{'}]}}}",
            r"Worker.Events.Q: FilterCriteria.Filters\[0\]: filter pattern is not JSON",
        ),
        (
            "        Q: {Type: SQS, Properties: {Queue: !GetAtt Queue.Arn, "
            'FilterCriteria: {Filters: [{Pattern: \'{"a": "x"}\'}]}}}',
            "match values must be in a list",
        ),
        (
            "        P: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(1 minute), Input: 'not json'}}",
            "Worker.Events.P: Input is not JSON",
        ),
        ("        P: {Type: ScheduleV2, Properties: {Input: '{}'}}", "needs ScheduleExpression"),
        (
            "        Q: {Type: SQS, Properties: {Queue: !GetAtt Queue.Arn, BatchSize: many}}",
            "BatchSize is not an integer",
        ),
    ],
    ids=["no-starting-position", "pattern-not-json", "pattern-invalid", "input-not-json", "no-expression", "batch"],
)
def test_invalid_events_are_template_errors(events: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        _worker(events)


# -- queues -------------------------------------------------------------------------------------------


def test_queue_properties_become_create_queue_attributes() -> None:
    attributes = queue_create_attributes(
        {
            "VisibilityTimeout": 180,
            "MessageRetentionPeriod": 1209600,
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {"deadLetterTargetArn": "arn:dlq", "maxReceiveCount": 10},
            "QueueName": "ignored",
            "Tags": [{"Key": "a", "Value": "b"}],
        }
    )

    assert attributes == {
        "VisibilityTimeout": "180",
        "MessageRetentionPeriod": "1209600",
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": '{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":10}',
    }


def test_dead_letter_queues_are_created_first(template: dict[str, Any]) -> None:
    order = queue_creation_order(template)

    assert sorted(order) == ["DeliveryDLQ", "DeliveryQueue", "DispatchFailuresQueue", "WmsForwardDLQ", "WmsForwardQueue"]
    assert order.index("WmsForwardDLQ") < order.index("WmsForwardQueue")
    assert order.index("DeliveryDLQ") < order.index("DeliveryQueue")


def test_a_queue_cycle_is_a_template_error() -> None:
    template = loads_template(
        """
        Resources:
          A: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt B.Arn}}}
          B: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !Sub "${A.Arn}"}}}
        """
    )

    with pytest.raises(TemplateError, match="cycle: A, B"):
        queue_creation_order(template)


def test_fifo_queues_get_the_fifo_suffix() -> None:
    template = loads_template(
        """
        Parameters: {Fifo: {Type: String, Default: "true"}}
        Resources:
          Plain: {Type: AWS::SQS::Queue}
          Ordered: {Type: AWS::SQS::Queue, Properties: {FifoQueue: !Ref Fifo}}
        """
    )

    assert local_queue_names(template, "p") == {"Plain": "p-Plain", "Ordered": "p-Ordered.fifo"}


class RecordingSqs:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def create_queue(self, **kwargs: Any) -> dict[str, Any]:
        self.created.append(kwargs)
        return {"QueueUrl": f"{SQS_URL}/{kwargs['QueueName']}"}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": f"{SQS_ARN}:{QueueUrl.rsplit('/', 1)[1]}"}}


def test_create_queues_resolves_the_redrive_policy_to_the_dead_letter_queues_arn(template: dict[str, Any]) -> None:
    client = RecordingSqs()

    queues = create_queues(client, template, name_prefix="hub-local")  # type: ignore[arg-type]

    assert queues == QUEUES
    # template order
    assert list(queues) == ["WmsForwardQueue", "WmsForwardDLQ", "DeliveryQueue", "DeliveryDLQ", "DispatchFailuresQueue"]
    created = {call["QueueName"]: call["Attributes"] for call in client.created}
    assert [call["QueueName"] for call in client.created].index("hub-local-WmsForwardDLQ") < [
        call["QueueName"] for call in client.created
    ].index("hub-local-WmsForwardQueue")
    forward = created["hub-local-WmsForwardQueue"]
    assert forward["VisibilityTimeout"] == "180"
    assert forward["MessageRetentionPeriod"] == "1209600"
    assert json.loads(forward["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"{SQS_ARN}:hub-local-WmsForwardDLQ",
        "maxReceiveCount": 10,
    }
    assert "RedrivePolicy" not in created["hub-local-DispatchFailuresQueue"]


def test_stream_arns_are_read_back_from_the_tables() -> None:
    class Described:
        def describe_table(self, TableName: str) -> dict[str, Any]:
            stream = {"LatestStreamArn": f"arn:{TableName}/stream/x"} if TableName == "o" else {}
            return {"Table": {"TableName": TableName, **stream}}

    arns = table_stream_arns(Described(), {"OrdersTable": "o", "TenantsTable": "t"})  # type: ignore[arg-type]

    assert arns == {"OrdersTable": "arn:o/stream/x"}


def test_merged_environment_keeps_the_first_value_on_conflict(caplog: pytest.LogCaptureFixture) -> None:
    def spec(logical_id: str, environment: dict[str, str]) -> FunctionSpec:
        return FunctionSpec(logical_id, "m", "h", "c/", environment)

    with caplog.at_level("WARNING", logger="local_stack.stack"):
        merged = merge_environments([spec("B", {"X": "2", "Y": "y"}), spec("A", {"X": "1", "Z": "z"})])

    assert merged == {"X": "1", "Y": "y", "Z": "z"}
    assert "X='2' in B conflicts with '1' from A" in caplog.text
