"""local_stack.template: CloudFormation-aware YAML loading and what the local stack derives from it."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.stack import merge_environments
from local_stack.template import (
    NO_VALUE,
    ApiRoute,
    FunctionSpec,
    Resolver,
    TemplateError,
    api_stage_name,
    create_tables,
    function_specs,
    load_template,
    loads_template,
    local_table_names,
    parameter_values,
    table_create_kwargs,
    table_ttl_attribute,
)

TABLES = {"OrdersTable": "hub-local-OrdersTable", "TenantsTable": "hub-local-TenantsTable"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


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
    statement = orders["Policies"][0]["Statement"][0]

    assert template["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == {
        "Fn::If": ["IsProd", "INFO", "DEBUG"]
    }
    assert statement["Resource"] == [
        {"Fn::GetAtt": ["OrdersTable", "Arn"]},
        {"Fn::Sub": "${OrdersTable.Arn}/index/*"},
    ]
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
    assert parameter_values(template) == {"Stage": "dev", "LogRetentionDays": "30", "AuthCacheTtlSeconds": "60"}
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

    projection = {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["warehouse_id", "order_type", "so_status", "in_wms", "list_view"],
    }
    assert kwargs == {
        "TableName": "hub-local-OrdersTable",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
        ],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_created",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": projection,
            },
            {
                "IndexName": "by_updated",
                "KeySchema": [
                    {"AttributeName": "gsi2pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
                ],
                "Projection": projection,
            },
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    }


def test_tenants_table_has_no_stream_and_unsupported_properties_are_dropped(template: dict[str, Any]) -> None:
    kwargs = table_create_kwargs(template, "TenantsTable", "t")

    assert set(kwargs) == {"TableName", "BillingMode", "AttributeDefinitions", "KeySchema"}


def test_ttl_attribute_comes_from_time_to_live_specification(template: dict[str, Any]) -> None:
    assert table_ttl_attribute(template, "OrdersTable") == "expires_at"
    assert table_ttl_attribute(template, "TenantsTable") is None


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

    assert names == {"OrdersTable": "t-OrdersTable", "TenantsTable": "t-TenantsTable"}
    assert names == local_table_names(template, "t")
    created = [kwargs["TableName"] for name, kwargs in client.calls if name == "create_table"]
    assert created == ["t-OrdersTable", "t-TenantsTable"]
    assert (
        "update_time_to_live",
        {
            "TableName": "t-OrdersTable",
            "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "expires_at"},
        },
    ) in client.calls
    assert [kwargs["TableName"] for name, kwargs in client.calls if name == "update_time_to_live"] == ["t-OrdersTable"]


# -- functions --------------------------------------------------------------------------------------


def test_orders_api_function_spec(template: dict[str, Any]) -> None:
    (spec,) = function_specs(template, TABLES, {"AuthCacheTtlSeconds": "0"})

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
        "ORDERS_TABLE_NAME": "hub-local-OrdersTable",
        "TENANTS_TABLE_NAME": "hub-local-TenantsTable",
        "AUTH_CACHE_TTL_SECONDS": "0",
    }
    assert ApiRoute("ListOrders", "GET", "/v3/fulfillment/outbounds/{outbound_type}", "HubApi") in spec.routes
    assert {(route.method, route.path) for route in spec.routes} == {
        ("POST", "/v3/fulfillment/outbound/oms"),
        ("PUT", "/v3/fulfillment/outbound/oms"),
        ("PATCH", "/v3/fulfillment/outbound/oms/cancel"),
        ("GET", "/v3/fulfillment/outbounds/{outbound_type}"),
        ("GET", "/v3/fulfillment/warehouse/{warehouse_id}/outbound/oms/{order_no}"),
        ("GET", "/v3/fulfillment/warehouse/{warehouse_id}/outbound/wms/{order_no}"),
    }
    assert spec.other_events == []


def test_the_stage_parameter_drives_conditions(template: dict[str, Any]) -> None:
    (spec,) = function_specs(template, TABLES, {"Stage": "prod"})

    assert spec.environment["HUB_ENV"] == "prod"
    assert spec.environment["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert spec.environment["POWERTOOLS_LOGGER_SAMPLE_RATE"] == "0.01"
    assert spec.environment["AUTH_CACHE_TTL_SECONDS"] == "60"
    assert api_stage_name(template, {"Stage": "prod"}) == "prod"
    assert api_stage_name(template) == "dev"


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
        Any: {Type: Api, Properties: {Path: "/things/{proxy+}", Method: any}}
        Stream: {Type: DynamoDB, Properties: {Stream: "arn:x", StartingPosition: LATEST}}
        Nightly: {Type: ScheduleV2, Properties: {ScheduleExpression: "rate(1 day)"}}
"""


def test_globals_merge_with_the_function_and_other_events_are_kept() -> None:
    (spec,) = function_specs(loads_template(SMALL), {})

    assert spec.module == "functions.shared_code.pkg.worker"
    assert spec.handler == "handle"
    assert spec.code_uri == "functions/shared_code/"
    assert spec.timeout == 5
    assert spec.memory_size is None
    assert spec.environment == {"A": "global", "B": "own", "FLAG": "true", "N": "3", "C": "dev-c"}
    assert spec.routes == [ApiRoute("Any", "ANY", "/things/{proxy+}", None)]
    assert [(event.event_id, event.type) for event in spec.other_events] == [
        ("Stream", "DynamoDB"),
        ("Nightly", "ScheduleV2"),
    ]


def test_merged_environment_keeps_the_first_value_on_conflict(caplog: pytest.LogCaptureFixture) -> None:
    def spec(logical_id: str, environment: dict[str, str]) -> FunctionSpec:
        return FunctionSpec(logical_id, "m", "h", "c/", environment)

    with caplog.at_level("WARNING", logger="local_stack.stack"):
        merged = merge_environments([spec("B", {"X": "2", "Y": "y"}), spec("A", {"X": "1", "Z": "z"})])

    assert merged == {"X": "1", "Y": "y", "Z": "z"}
    assert "X='2' in B conflicts with '1' from A" in caplog.text
