"""Operations invariants of template.yaml: least-privilege IAM, alarms, dashboard and log groups."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.template import Resolver, load_template, parameter_values, resources_of_type

ROOT = Path(__file__).resolve().parent.parent
FUNCTION_TYPE = "AWS::Serverless::Function"
QUEUE_TYPE = "AWS::SQS::Queue"
ALARM_TYPE = "AWS::CloudWatch::Alarm"
DASHBOARD_TYPE = "AWS::CloudWatch::Dashboard"
EMF_NAMESPACE = "OutboundOrderHub"
PSEUDO_PARAMETERS = {"AWS::AccountId", "AWS::Partition", "AWS::Region", "AWS::StackName", "AWS::StackId", "AWS::URLSuffix"}

_ADD_METRIC_LITERAL = re.compile(r"""add_metric\(\s*name=["']([A-Za-z0-9_]+)["']""")
# The status poller emits its counters from a ("Name", total.<field>) loop.
_POLLER_COUNTER = re.compile(r"""\(\s*["']([A-Z][A-Za-z0-9]+)["'],\s*total\.""")
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = template["Resources"]
    return resources


@pytest.fixture(scope="module")
def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = resources_of_type(template, FUNCTION_TYPE)
    assert found
    return found


@pytest.fixture(scope="module")
def queues(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = resources_of_type(template, QUEUE_TYPE)
    assert found
    return found


@pytest.fixture(scope="module")
def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = resources_of_type(template, ALARM_TYPE)
    assert found
    return found


def _sources() -> Iterator[Path]:
    for folder in ("layers", "functions"):
        yield from (path for path in (ROOT / folder).rglob("*.py") if ".aws-sam" not in path.parts)


def _emitted_metric_names() -> set[str]:
    """Every fixed metric name the code emits through Powertools (literal names plus the worker's map)."""
    from functions.delivery_worker.app import _METRIC

    names = set(_METRIC.values())
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        names.update(_ADD_METRIC_LITERAL.findall(text))
        if "add_metric(name=name" in text:
            names.update(_POLLER_COUNTER.findall(text))
    return names


@pytest.fixture(scope="module")
def emitted() -> set[str]:
    names = _emitted_metric_names()
    # The scan itself works: names from literals, from the worker's map and from the poller loop.
    assert {"OrdersCreated", "DeliveryFailed", "OldestPendingDeliveryAgeSeconds", "PollOrdersSeen"} <= names
    return names


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _ref_target(value: Any) -> str | None:
    """The logical id X of ``!Ref X`` or ``!GetAtt X.Attribute``."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            argument = value["Fn::GetAtt"]
            return str(argument[0] if isinstance(argument, list) else str(argument).split(".", 1)[0])
    return None


# -- IAM ------------------------------------------------------------------------------------------


def _policy_statements(function: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in _as_list(function["Properties"].get("Policies") or []):
        if isinstance(policy, dict) and "Statement" in policy:
            yield from _as_list(policy["Statement"])


def test_every_function_has_an_explicit_policy(functions: dict[str, dict[str, Any]]) -> None:
    for logical_id, function in functions.items():
        assert function["Properties"].get("Policies"), logical_id


def test_function_policies_have_no_wildcard_actions_or_resources(functions: dict[str, dict[str, Any]]) -> None:
    problems: list[str] = []
    for logical_id, function in functions.items():
        for policy in _as_list(function["Properties"].get("Policies") or []):
            # A bare string is a managed policy (e.g. AWSLambdaBasicExecutionRole): none is allowed here.
            if isinstance(policy, str):
                problems.append(f"{logical_id}: managed policy {policy}")
        for statement in _policy_statements(function):
            where = f"{logical_id}.{statement.get('Sid', '?')}"
            assert statement.get("Effect") == "Allow", where
            assert "NotAction" not in statement and "NotResource" not in statement, where
            for action in _as_list(statement.get("Action")):
                if not isinstance(action, str) or "*" in action:
                    problems.append(f"{where}: action {action!r}")
            for resource in _as_list(statement.get("Resource")):
                if resource == "*" or resource is None:
                    problems.append(f"{where}: resource {resource!r}")
    assert not problems, problems


# -- alarms ---------------------------------------------------------------------------------------


HTTP_API_METRICS = {"Count", "4xx", "5xx", "Latency", "IntegrationLatency", "DataProcessed"}
"""The AWS/ApiGateway metrics of an HTTP API (a REST API's are 4XXError, 5XXError, ..., by ApiName)."""


def _alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm reads, as {"Namespace", "MetricName", "Dimensions"}."""
    properties = alarm["Properties"]
    if "MetricName" in properties:
        return [{key: properties.get(key) for key in ("Namespace", "MetricName", "Dimensions")}]
    metrics = [query["MetricStat"]["Metric"] for query in properties.get("Metrics") or [] if "MetricStat" in query]
    assert metrics, "an alarm reads at least one metric"
    return metrics


def test_every_alarm_metric_exists(
    alarms: dict[str, dict[str, Any]], resources: dict[str, Any], emitted: set[str], template: dict[str, Any]
) -> None:
    service = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    for logical_id, alarm in alarms.items():
        for metric in _alarm_metrics(alarm):
            where = f"{logical_id}: {metric['Namespace']}/{metric['MetricName']}"
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}
            if metric["Namespace"] == EMF_NAMESPACE:
                assert metric["MetricName"] in emitted, f"{where} is not emitted by the code"
                assert dimensions == {"service": service}, where
                continue
            assert str(metric["Namespace"]).startswith("AWS/"), where
            assert dimensions, f"{where} has no dimension naming a resource"
            if metric["Namespace"] == "AWS/ApiGateway":  # an HTTP API's metrics: by ApiId, lower-case 4xx/5xx
                assert dimensions == {"ApiId": {"Ref": "HubHttpApi"}}, where
                assert metric["MetricName"] in HTTP_API_METRICS, where
                continue
            for name, value in dimensions.items():
                target = _ref_target(value)
                assert target in resources, f"{where}: dimension {name} does not refer to a resource"


def test_alarm_metric_math_has_one_result(alarms: dict[str, dict[str, Any]]) -> None:
    for logical_id, alarm in alarms.items():
        queries = alarm["Properties"].get("Metrics")
        if queries is None:
            continue
        ids = {query["Id"] for query in queries}
        returned = [query for query in queries if query.get("ReturnData", True)]
        assert len(returned) == 1 and "Expression" in returned[0], logical_id
        referenced = set(re.findall(r"\b([a-z][A-Za-z0-9_]*)\b", returned[0]["Expression"]))
        assert referenced, logical_id
        assert referenced <= ids, f"{logical_id}: unknown ids {sorted(referenced - ids)} in the expression"


def test_every_alarm_notifies_the_alarm_topic(alarms: dict[str, dict[str, Any]], resources: dict[str, Any]) -> None:
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    for logical_id, alarm in alarms.items():
        properties = alarm["Properties"]
        for key in ("AlarmActions", "OKActions"):
            assert {"Ref": "AlarmTopic"} in properties.get(key, []), f"{logical_id}.{key}"


def test_the_expected_alarms_exist(alarms: dict[str, dict[str, Any]], queues: dict[str, dict[str, Any]]) -> None:
    dlqs = {
        queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for queue in queues.values()
        if "RedrivePolicy" in queue["Properties"]
    } | {"DispatchFailuresQueue"}
    watched = {
        _ref_target(metric["Dimensions"][0]["Value"])
        for alarm in alarms.values()
        for metric in _alarm_metrics(alarm)
        if metric["MetricName"] == "ApproximateNumberOfMessagesVisible"
    }
    assert dlqs <= watched
    poller = alarms["StatusPollerNotRunningAlarm"]["Properties"]
    assert poller["TreatMissingData"] == "breaching"
    assert poller["ComparisonOperator"] == "LessThanThreshold"
    assert alarms["DeliveryFailureRateAlarm"]["Properties"]["TreatMissingData"] == "notBreaching"


def test_the_alarm_email_subscription_is_conditional(template: dict[str, Any], resources: dict[str, Any]) -> None:
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    subscriptions = resources_of_type(template, "AWS::SNS::Subscription")
    assert subscriptions
    for subscription in subscriptions.values():
        assert subscription["Condition"] in template["Conditions"]
        assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


# -- dashboard ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard_body(template: dict[str, Any]) -> str:
    dashboards = resources_of_type(template, DASHBOARD_TYPE)
    assert len(dashboards) == 1
    (dashboard,) = dashboards.values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(body, str)
    return body


def test_dashboard_body_is_json_and_every_placeholder_resolves(
    dashboard_body: str, template: dict[str, Any], resources: dict[str, Any]
) -> None:
    for variable in _SUB_VARIABLE.findall(dashboard_body):
        logical_id = variable.split(".", 1)[0]
        assert variable in PSEUDO_PARAMETERS or variable in template["Parameters"] or logical_id in resources, variable
    document = json.loads(_SUB_VARIABLE.sub("dummy", dashboard_body))
    assert document["widgets"]
    for widget in document["widgets"]:
        assert {"type", "x", "y", "width", "height", "properties"} <= set(widget)
        assert widget["x"] + widget["width"] <= 24


def test_dashboard_shows_every_function_and_queue(
    dashboard_body: str, functions: dict[str, dict[str, Any]], queues: dict[str, dict[str, Any]]
) -> None:
    for logical_id in functions:
        assert f'"FunctionName", "${{{logical_id}}}"' in dashboard_body, logical_id
    for logical_id in queues:
        assert f'"QueueName", "${{{logical_id}.QueueName}}"' in dashboard_body, logical_id


def test_dashboard_emf_metrics_are_emitted(dashboard_body: str, emitted: set[str]) -> None:
    document = json.loads(_SUB_VARIABLE.sub("dummy", dashboard_body))
    shown = {
        row[1]
        for widget in document["widgets"]
        for row in widget["properties"].get("metrics", [])
        if isinstance(row[0], str) and row[0] == EMF_NAMESPACE
    }
    assert {"DeliverySucceeded", "DeliveryAttempts", "OrdersCreated"} <= shown
    assert shown <= emitted, shown - emitted


# -- logs -----------------------------------------------------------------------------------------


def test_every_function_has_a_log_group_with_retention(template: dict[str, Any], functions: dict[str, dict[str, Any]]) -> None:
    groups = resources_of_type(template, "AWS::Logs::LogGroup")
    by_name = {str(group["Properties"]["LogGroupName"].get("Fn::Sub")): group for group in groups.values()}
    for logical_id in functions:
        group = by_name.get(f"/aws/lambda/${{{logical_id}}}")
        assert group is not None, f"{logical_id} has no log group"
        assert group["Properties"].get("RetentionInDays"), logical_id


def test_the_dashboard_reads_the_http_api_metrics_by_api_id(resources: dict[str, Any]) -> None:
    body = resources["OpsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    rows = re.findall(r'\["AWS/ApiGateway", "([^"]+)", "([^"]+)", "([^"]+)"', body)
    assert {metric for metric, _, _ in rows} == {"Count", "4xx", "5xx", "Latency", "IntegrationLatency"}
    assert all((dimension, value) == ("ApiId", "${HubHttpApi}") for _, dimension, value in rows), rows
    assert "ApiName" not in body and "XXError" not in body


def test_the_api_writes_json_access_logs_to_a_log_group_with_retention(resources: dict[str, Any]) -> None:
    assert resources["HubHttpApi"]["Type"] == "AWS::Serverless::HttpApi"
    setting = resources["HubHttpApi"]["Properties"]["AccessLogSettings"]
    group = _ref_target(setting["DestinationArn"])
    assert group is not None
    assert resources[group]["Type"] == "AWS::Logs::LogGroup"
    assert resources[group]["Properties"].get("RetentionInDays")
    fields = json.loads(setting["Format"])  # one JSON object per request, every value a $context variable
    assert {"requestId", "lambdaRequestId", "routeKey", "path", "status", "latencyMs", "integrationError"} <= set(fields)
    assert fields["routeKey"] == "$context.routeKey"
    assert fields["lambdaRequestId"] == "$context.integration.requestId"
    assert fields["integrationError"] == "$context.integrationErrorMessage"
    assert fields["status"] == "$context.status"
    assert fields["latencyMs"] == "$context.responseLatency"
    assert all(str(value).startswith("$context.") for value in fields.values()), fields


# -- data protection (checkov's findings, fixed or skipped with a reason in place) ----------------


def _resolver(template: dict[str, Any], overrides: dict[str, str] | None = None) -> Resolver:
    return Resolver(template, parameter_values(template, overrides))


def test_every_table_has_point_in_time_recovery_and_encryption(template: dict[str, Any]) -> None:
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    assert len(tables) == 3
    for logical_id, table in tables.items():
        properties = table["Properties"]
        assert properties.get("PointInTimeRecoverySpecification") == {"PointInTimeRecoveryEnabled": True}, logical_id
        assert properties.get("SSESpecification", {}).get("SSEEnabled") is True, logical_id
        assert table.get("DeletionPolicy") == "Retain", logical_id


def test_every_queue_and_the_alarm_topic_are_encrypted(
    queues: dict[str, dict[str, Any]], template: dict[str, Any], resources: dict[str, Any]
) -> None:
    for logical_id, queue in queues.items():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties, logical_id
    topics = resources_of_type(template, "AWS::SNS::Topic")
    assert topics
    for logical_id, topic in topics.items():
        key = _ref_target(topic["Properties"].get("KmsMasterKeyId"))
        assert key is not None, f"{logical_id} is not encrypted with a key of this stack"
        assert resources[key]["Type"] == "AWS::KMS::Key"
        assert resources[key]["Properties"]["EnableKeyRotation"] is True
        # CloudWatch alarms can publish to the encrypted topic only if the key lets CloudWatch use it.
        cloudwatch = [
            statement
            for statement in resources[key]["Properties"]["KeyPolicy"]["Statement"]
            if statement.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        ]
        assert len(cloudwatch) == 1, key
        assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


SQS_WORKERS = {"WmsForwarderFunction": "WmsForwarderConcurrency", "DeliveryWorkerFunction": "DeliveryWorkerConcurrency"}


def test_reserved_concurrency_comes_from_the_parameters_and_can_be_switched_off(
    template: dict[str, Any], functions: dict[str, dict[str, Any]]
) -> None:
    defaults = parameter_values(template)
    expected = {
        "OrdersApiFunction": int(defaults["OrdersApiConcurrency"]),
        "AdminApiFunction": int(defaults["AdminApiConcurrency"]),
        "PortalFunction": int(defaults["PortalConcurrency"]),
        "WebhookIngestFunction": int(defaults["WebhookIngestConcurrency"]),
        "DispatcherFunction": int(defaults["DispatcherConcurrency"]),
        "WmsForwarderFunction": int(defaults["WmsForwarderConcurrency"]),
        "DeliveryWorkerFunction": int(defaults["DeliveryWorkerConcurrency"]),
        "StatusPollerFunction": 1,  # one poll at a time
    }
    assert set(expected) == set(functions)
    on, off = _resolver(template), _resolver(template, {"ReserveConcurrency": "false"})
    for logical_id, function in functions.items():
        properties = function["Properties"]
        assert int(on.resolve(properties["ReservedConcurrentExecutions"])) == expected[logical_id], logical_id
        assert off.resolve({"value": properties["ReservedConcurrentExecutions"]}) == {}, logical_id
    # A queue's event source never runs more pollers than its function may run: otherwise throttled
    # batches go back to the queue and count as receives towards the dead-letter queue.
    changed = _resolver(template, dict.fromkeys(SQS_WORKERS.values(), "7"))
    for logical_id in SQS_WORKERS:
        properties = functions[logical_id]["Properties"]
        (event,) = properties["Events"].values()
        assert event["Type"] == "SQS"
        for resolver in (on, changed):
            reserved = int(resolver.resolve(properties["ReservedConcurrentExecutions"]))
            assert int(resolver.resolve(event["Properties"]["ScalingConfig"]["MaximumConcurrency"])) == reserved
        assert int(changed.resolve(properties["ReservedConcurrentExecutions"])) == 7
    poller = functions["StatusPollerFunction"]["Properties"]["EventInvokeConfig"]
    assert poller == {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 0}


@pytest.mark.parametrize(("tracing", "mode", "disabled"), [("Disabled", "PassThrough", "true"), ("Enabled", "Active", "false")])
def test_the_tracing_parameter_switches_the_functions_and_their_tracer(
    template: dict[str, Any], resources: dict[str, Any], tracing: str, mode: str, disabled: str
) -> None:
    resolver = _resolver(template, {"Tracing": tracing})
    function_globals = template["Globals"]["Function"]
    assert resolver.resolve(function_globals["Tracing"]) == mode
    assert resolver.resolve(function_globals["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"]) == disabled
    assert "TracingEnabled" not in resources["HubHttpApi"]["Properties"]  # HTTP APIs have no X-Ray tracing of their own
    assert parameter_values(template)["Tracing"] == "Disabled"


_CHECKOV_SKIP = re.compile(r"#\s*checkov:skip=(\S*)")


def test_every_checkov_skip_names_a_check_and_gives_a_reason() -> None:
    lines = [line.strip() for line in (ROOT / "template.yaml").read_text(encoding="utf-8").splitlines() if "checkov:skip" in line]
    assert lines
    for line in lines:
        assert re.fullmatch(r"# checkov:skip=CKV_AWS_\d+: \S.{20,}", line), line
