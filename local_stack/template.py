"""Reading template.yaml the way CloudFormation/SAM would, as far as the local stack needs it.

- ``load_template`` parses the YAML with the CloudFormation short-form tags (``!Ref``, ``!GetAtt``,
  ``!Sub`` ...) turned into their long form (``{"Ref": x}``, ``{"Fn::GetAtt": [a, b]}``, ...).
- ``table_create_kwargs`` / ``create_tables`` turn ``AWS::DynamoDB::Table`` resources into
  ``create_table`` calls (plus ``update_time_to_live``); ``table_stream_arns`` reads back their
  stream ARNs.
- ``queue_create_attributes`` / ``create_queues`` turn ``AWS::SQS::Queue`` resources into
  ``create_queue`` calls, dead-letter queues first.
- ``LocalResources`` holds what was created, as ``!Ref`` / ``!GetAtt`` see it.
- ``function_specs`` describes every ``AWS::Serverless::Function``: importable module, handler
  attribute, environment with intrinsics resolved, and its event sources: API routes, DynamoDB
  streams, SQS queues and schedules as typed specs, anything else kept as ``EventSource``.

Only the intrinsics a template like ours uses in the places we read are resolved; anything else
raises ``TemplateError`` naming the construct, rather than silently producing a wrong value.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from local_stack.event_filter import FilterPatternError, parse_pattern

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
STACK_NAME = "outbound-order-hub-local"

TABLE_TYPE = "AWS::DynamoDB::Table"
FUNCTION_TYPE = "AWS::Serverless::Function"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
QUEUE_TYPE = "AWS::SQS::Queue"

_SHORT_TAGS_WITHOUT_FN = {"Ref", "Condition"}

# create_table accepts these top-level properties as they are written in CloudFormation.
_PASS_THROUGH_TABLE_PROPERTIES = (
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "Tags",
    "TableClass",
    "DeletionProtectionEnabled",
    "OnDemandThroughput",
    "WarmThroughput",
)
# Index properties create_table accepts (CloudFormation also allows e.g. ContributorInsightsSpecification).
_INDEX_PROPERTIES = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")


class TemplateError(ValueError):
    """The template uses something the local stack cannot evaluate, or is inconsistent."""


# --------------------------------------------------------------------------------------------
# YAML loading
# --------------------------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation short-form intrinsic tags."""


def _construct_intrinsic(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix
    key = name if name in _SHORT_TAGS_WITHOUT_FN else f"Fn::{name}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{name}", node.start_mark)
    if name == "GetAtt" and isinstance(value, str):
        # "Resource.Attribute" (the attribute itself may contain dots, e.g. Endpoint.Address).
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {key: value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path | None = None) -> dict[str, Any]:
    """Parse template.yaml (default: the one at the repository root) into plain Python data.

    The default template is parsed once per process (again only if the file changes); every
    caller gets its own deep copy, so no caller can change what the next one reads.
    """
    if path is None or Path(path).resolve() == DEFAULT_TEMPLATE.resolve():
        stat = DEFAULT_TEMPLATE.stat()
        return copy.deepcopy(_parsed_default_template(stat.st_mtime_ns, stat.st_size))
    return _parse_template_file(Path(path))


@functools.lru_cache(maxsize=1)
def _parsed_default_template(mtime_ns: int, size: int) -> dict[str, Any]:
    """The default template, parsed; keyed by the file's modification time and size."""
    return _parse_template_file(DEFAULT_TEMPLATE)


def _parse_template_file(source: Path) -> dict[str, Any]:
    with source.open(encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=CfnLoader)  # CfnLoader is a SafeLoader
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{source} is not a CloudFormation template (no Resources mapping)")
    return document


def loads_template(text: str) -> dict[str, Any]:
    """Like ``load_template`` for a YAML string (tests, tools)."""
    document = yaml.load(text, Loader=CfnLoader)  # CfnLoader is a SafeLoader
    if not isinstance(document, dict):
        raise TemplateError("template is not a mapping")
    return document


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if isinstance(resource, dict) and resource.get("Type") == resource_type
    }


# --------------------------------------------------------------------------------------------
# Parameters, conditions and intrinsic functions
# --------------------------------------------------------------------------------------------


def _scalar_string(value: Any) -> str:
    """CloudFormation's string form of a scalar (booleans become lower-case words)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise TemplateError(f"expected a scalar, got {value!r}")


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every template parameter's value: the override, else its Default; validated like CloudFormation."""
    declared: dict[str, Any] = template.get("Parameters") or {}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"unknown parameter(s) {', '.join(unknown)}; the template declares {', '.join(declared)}")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        spec = spec or {}
        if name in overrides:
            value = str(overrides[name])
        elif "Default" in spec:
            value = _scalar_string(spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no Default; pass --param {name}=VALUE")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [_scalar_string(item) for item in allowed]:
            raise TemplateError(f"parameter {name}={value} is not one of {[_scalar_string(a) for a in allowed]}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                raise TemplateError(f"parameter {name}={value} is not a number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise TemplateError(f"parameter {name}={value} is below MinValue {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise TemplateError(f"parameter {name}={value} is above MaxValue {spec['MaxValue']}")
        values[name] = value
    return values


class _NoValue:
    """``AWS::NoValue``: the property it is assigned to disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")


class Resolver:
    """Evaluates intrinsic functions against parameter values and known resource references.

    ``refs`` maps a logical id to what ``!Ref`` returns locally (e.g. a table's local name);
    ``attributes`` maps ``(logical_id, attribute)`` to what ``!GetAtt`` returns.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        refs: Mapping[str, str] | None = None,
        attributes: Mapping[tuple[str, str], str] | None = None,
        region: str = DEFAULT_REGION,
    ) -> None:
        self.template = template
        self.parameters = dict(parameters)
        self.refs = dict(refs or {})
        self.attributes = dict(attributes or {})
        self.pseudo: dict[str, str] = {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
        }
        self._conditions: dict[str, bool] = {}
        self._handlers: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::If": self._if,
            "Fn::Equals": self._equals,
            "Fn::Not": self._not,
            "Fn::And": self._and,
            "Fn::Or": self._or,
            "Condition": lambda name: self.condition(str(name)),
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::Sub": self._sub,
            "Fn::GetAtt": self._get_att,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": self._base64,
        }

    # -- public ------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside ``value`` (dicts and lists are walked)."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key in self._handlers:
                    return self._handlers[key](argument)
                if key.startswith("Fn::"):
                    raise TemplateError(f"intrinsic {key} is not supported by the local stack")
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(element) for element in value) if item is not NO_VALUE]
        return value

    def resolve_string(self, value: Any) -> str:
        return _scalar_string(self.resolve(value))

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = self._truth(conditions[name])
        return self._conditions[name]

    # -- intrinsics --------------------------------------------------------------------------
    def _truth(self, value: Any) -> bool:
        result = self.resolve(value)
        if isinstance(result, bool):
            return result
        if isinstance(result, str) and result.lower() in ("true", "false"):
            return result.lower() == "true"
        raise TemplateError(f"condition does not evaluate to a boolean: {value!r}")

    def _ref(self, name: Any) -> Any:
        name = str(name)
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        if name in (self.template.get("Resources") or {}):
            raise TemplateError(f"!Ref {name}: the local stack has no local counterpart for this resource")
        raise TemplateError(f"!Ref {name}: no such parameter or resource")

    def _if(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise TemplateError(f"Fn::If takes [condition, value_if_true, value_if_false], got {argument!r}")
        name, if_true, if_false = argument
        return self.resolve(if_true if self.condition(str(name)) else if_false)

    def _equals(self, argument: Any) -> bool:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(f"Fn::Equals takes two values, got {argument!r}")
        left, right = (self.resolve_string(item) for item in argument)
        return left == right

    def _not(self, argument: Any) -> bool:
        if not isinstance(argument, list) or len(argument) != 1:
            raise TemplateError(f"Fn::Not takes one condition, got {argument!r}")
        return not self._truth(argument[0])

    def _and(self, argument: Any) -> bool:
        return all(self._truth(item) for item in argument)

    def _or(self, argument: Any) -> bool:
        return any(self._truth(item) for item in argument)

    def _join(self, argument: Any) -> str:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(f"Fn::Join takes [delimiter, [values]], got {argument!r}")
        delimiter, items = argument
        resolved = self.resolve(items)
        if not isinstance(resolved, list):
            raise TemplateError(f"Fn::Join needs a list of values, got {resolved!r}")
        return str(delimiter).join(_scalar_string(item) for item in resolved)

    def _select(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(f"Fn::Select takes [index, [values]], got {argument!r}")
        index = int(self.resolve_string(argument[0]))
        items = self.resolve(argument[1])
        if not isinstance(items, list) or not 0 <= index < len(items):
            raise TemplateError(f"Fn::Select index {index} is out of range for {items!r}")
        return items[index]

    def _split(self, argument: Any) -> list[str]:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(f"Fn::Split takes [delimiter, string], got {argument!r}")
        return self.resolve_string(argument[1]).split(str(argument[0]))

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
            text, variables = str(argument[0]), {key: self.resolve_string(item) for key, item in argument[1].items()}
        else:
            raise TemplateError(f"Fn::Sub takes a string or [string, {{variables}}], got {argument!r}")

        def substitute(match: re.Match[str]) -> str:
            literal, name = match.group(1), match.group(2).strip()
            if literal:  # ${!Literal} renders as ${Literal}
                return "${" + match.group(2) + "}"
            if name in variables:
                return variables[name]
            if "." in name and name.split(".", 1)[0] not in self.parameters:
                resource, attribute = name.split(".", 1)
                return _scalar_string(self._get_att([resource, attribute]))
            return _scalar_string(self._ref(name))

        return _SUB_VARIABLE.sub(substitute, text)

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(f"Fn::GetAtt takes [resource, attribute], got {argument!r}")
        resource, attribute = str(argument[0]), self.resolve_string(argument[1])
        if (resource, attribute) in self.attributes:
            return self.attributes[(resource, attribute)]
        raise TemplateError(f"!GetAtt {resource}.{attribute}: the local stack has no value for this attribute")

    def _find_in_map(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise TemplateError(f"Fn::FindInMap takes [map, top_key, second_key], got {argument!r}")
        map_name, top, second = (self.resolve_string(item) for item in argument)
        try:
            return self.resolve(self.template["Mappings"][map_name][top][second])
        except (KeyError, TypeError):
            raise TemplateError(f"Fn::FindInMap: {map_name}/{top}/{second} is not in Mappings") from None

    def _base64(self, argument: Any) -> str:
        return base64.b64encode(self.resolve_string(argument).encode("utf-8")).decode("ascii")


def table_attributes(
    table_names: Mapping[str, str],
    region: str = DEFAULT_REGION,
    stream_arns: Mapping[str, str] | None = None,
) -> dict[tuple[str, str], str]:
    """``!GetAtt`` values of locally created tables (ARNs in the shape DynamoDB uses).

    ``stream_arns`` (logical id -> the table's real ``LatestStreamArn``) replaces the placeholder
    ``<table arn>/stream/local`` used when nothing was created (pure tests, tools).
    """
    attributes: dict[tuple[str, str], str] = {}
    for logical_id, name in table_names.items():
        arn = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"
        attributes[(logical_id, "Arn")] = arn
        attributes[(logical_id, "StreamArn")] = (stream_arns or {}).get(logical_id, f"{arn}/stream/local")
    return attributes


# --------------------------------------------------------------------------------------------
# DynamoDB tables
# --------------------------------------------------------------------------------------------


def _table_properties(
    template: Mapping[str, Any], logical_id: str, parameter_overrides: Mapping[str, str] | None = None
) -> dict[str, Any]:
    resource = (template.get("Resources") or {}).get(logical_id)
    if not isinstance(resource, dict) or resource.get("Type") != TABLE_TYPE:
        raise TemplateError(f"{logical_id} is not an {TABLE_TYPE} resource")
    resolver = Resolver(template, parameter_values(template, parameter_overrides))
    properties = resolver.resolve(resource.get("Properties") or {})
    if not isinstance(properties, dict):
        raise TemplateError(f"{logical_id}: Properties is not a mapping")
    return properties


def _index(index: Mapping[str, Any]) -> dict[str, Any]:
    return {key: index[key] for key in _INDEX_PROPERTIES if key in index}


def table_create_kwargs(
    template: Mapping[str, Any],
    logical_id: str,
    table_name: str,
    parameter_overrides: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``create_table(**kwargs)`` arguments for the table resource ``logical_id``.

    Properties create_table does not take (TTL, point-in-time recovery, SSE, Kinesis streaming,
    contributor insights ...) are dropped; see ``table_ttl_attribute`` for the TTL.
    """
    properties = _table_properties(template, logical_id, parameter_overrides)
    kwargs: dict[str, Any] = {"TableName": table_name}
    for key in _PASS_THROUGH_TABLE_PROPERTIES:
        if key in properties:
            kwargs[key] = properties[key]
    kwargs.setdefault("BillingMode", "PROVISIONED" if "ProvisionedThroughput" in properties else "PAY_PER_REQUEST")
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if properties.get(key):
            kwargs[key] = [_index(index) for index in properties[key]]
    stream = properties.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return kwargs


def table_ttl_attribute(
    template: Mapping[str, Any], logical_id: str, parameter_overrides: Mapping[str, str] | None = None
) -> str | None:
    """The TTL attribute name if the table has TimeToLiveSpecification enabled, else None."""
    spec = _table_properties(template, logical_id, parameter_overrides).get("TimeToLiveSpecification") or {}
    enabled = spec.get("Enabled")
    if enabled is True or str(enabled).lower() == "true":
        return str(spec["AttributeName"])
    return None


def local_table_names(template: Mapping[str, Any], name_prefix: str = "hub-local") -> dict[str, str]:
    """Logical id -> local table name for every table resource (deterministic, no AWS calls)."""
    return {logical_id: f"{name_prefix}-{logical_id}" for logical_id in resources_of_type(template, TABLE_TYPE)}


def create_tables(
    dynamodb_client: DynamoDBClient,
    template: Mapping[str, Any],
    name_prefix: str = "hub-local",
    parameter_overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Create every ``AWS::DynamoDB::Table`` (and enable its TTL); return logical id -> table name."""
    names = local_table_names(template, name_prefix)
    for logical_id, table_name in names.items():
        dynamodb_client.create_table(**table_create_kwargs(template, logical_id, table_name, parameter_overrides))
        dynamodb_client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1})
        ttl_attribute = table_ttl_attribute(template, logical_id, parameter_overrides)
        if ttl_attribute:
            dynamodb_client.update_time_to_live(
                TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
            )
    return names


def table_stream_arns(dynamodb_client: DynamoDBClient, table_names: Mapping[str, str]) -> dict[str, str]:
    """Logical id -> ``LatestStreamArn`` of every created table that has a stream."""
    arns: dict[str, str] = {}
    for logical_id, table_name in table_names.items():
        arn = dynamodb_client.describe_table(TableName=table_name)["Table"].get("LatestStreamArn")
        if arn:
            arns[logical_id] = arn
    return arns


# --------------------------------------------------------------------------------------------
# SQS queues
# --------------------------------------------------------------------------------------------

# AWS::SQS::Queue properties that are create_queue attributes under the same name.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)
# Properties CloudFormation takes as JSON objects and SQS as JSON text.
_QUEUE_JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


@dataclass(frozen=True)
class QueueInfo:
    """A created queue: ``!Ref`` is the URL, ``!GetAtt .Arn`` / ``.QueueName`` the others."""

    url: str
    arn: str
    name: str


def queue_arn(name: str, region: str = DEFAULT_REGION) -> str:
    return f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}"


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def local_queue_names(
    template: Mapping[str, Any], name_prefix: str = "hub-local", parameter_overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Logical id -> local queue name (``<prefix>-<LogicalId>``, plus ``.fifo`` for FIFO queues)."""
    resolver = Resolver(template, parameter_values(template, parameter_overrides))
    names: dict[str, str] = {}
    for logical_id, resource in resources_of_type(template, QUEUE_TYPE).items():
        fifo = (resource.get("Properties") or {}).get("FifoQueue", False)
        names[logical_id] = f"{name_prefix}-{logical_id}" + (".fifo" if _is_true(resolver.resolve(fifo)) else "")
    return names


def queue_create_attributes(properties: Mapping[str, Any]) -> dict[str, str]:
    """``create_queue(Attributes=...)`` from resolved ``AWS::SQS::Queue`` properties (QueueName and
    Tags are not attributes; anything else SQS has no attribute for is dropped)."""
    attributes: dict[str, str] = {}
    for key in _QUEUE_ATTRIBUTES:
        if key in properties:
            attributes[key] = _scalar_string(properties[key])
    for key in _QUEUE_JSON_ATTRIBUTES:
        if key in properties:
            value = properties[key]
            attributes[key] = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return attributes


def _referenced_ids(value: Any) -> set[str]:
    """Logical ids that ``!Ref``, ``!GetAtt`` or ``!Sub`` inside ``value`` point at."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item.split(".", 1)[0] if isinstance(item, str) else item[0] if item else None
                if isinstance(target, str):
                    found.add(target)
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0] if isinstance(item, list) and item else ""
                found.update(match.group(2).split(".", 1)[0] for match in _SUB_VARIABLE.finditer(str(text)))
                if isinstance(item, list) and len(item) == 2:
                    found.update(_referenced_ids(item[1]))
            else:
                found.update(_referenced_ids(item))
    elif isinstance(value, list):
        for item in value:
            found.update(_referenced_ids(item))
    return found


def queue_creation_order(template: Mapping[str, Any]) -> list[str]:
    """Queue logical ids, every queue after the queues it references (dead-letter queues first)."""
    queues = resources_of_type(template, QUEUE_TYPE)
    needs = {
        logical_id: _referenced_ids(resource.get("Properties") or {}) & set(queues) - {logical_id}
        for logical_id, resource in queues.items()
    }
    order: list[str] = []
    while needs:
        ready = [logical_id for logical_id, missing in needs.items() if not missing - set(order)]
        if not ready:
            raise TemplateError(f"queues reference each other in a cycle: {', '.join(sorted(needs))}")
        for logical_id in ready:
            order.append(logical_id)
            del needs[logical_id]
    return order


def create_queues(
    sqs_client: SQSClient,
    template: Mapping[str, Any],
    name_prefix: str = "hub-local",
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = DEFAULT_REGION,
) -> dict[str, QueueInfo]:
    """Create every ``AWS::SQS::Queue`` (referenced queues first, so a ``RedrivePolicy`` can name
    its dead-letter queue's ARN); return logical id -> ``QueueInfo`` in template order."""
    names = local_queue_names(template, name_prefix, parameter_overrides)
    parameters = parameter_values(template, parameter_overrides)
    resources = resources_of_type(template, QUEUE_TYPE)
    created: dict[str, QueueInfo] = {}
    for logical_id in queue_creation_order(template):
        known = LocalResources(queues=created)
        resolver = Resolver(template, parameters, refs=known.refs(), attributes=known.attributes(region), region=region)
        try:
            properties = resolver.resolve(resources[logical_id].get("Properties") or {})
        except TemplateError as error:
            raise TemplateError(f"{logical_id}: {error}") from error
        kwargs: dict[str, Any] = {"QueueName": names[logical_id], "Attributes": queue_create_attributes(properties)}
        tags = properties.get("Tags")
        if tags:
            kwargs["tags"] = {str(tag["Key"]): _scalar_string(tag["Value"]) for tag in tags}
        url = sqs_client.create_queue(**kwargs)["QueueUrl"]
        arn = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        created[logical_id] = QueueInfo(url=url, arn=arn, name=names[logical_id])
    return {logical_id: created[logical_id] for logical_id in names}


@dataclass(frozen=True)
class LocalResources:
    """What the local stack created, as intrinsics see it: tables (logical id -> table name), their
    stream ARNs and queues. ``refs()`` / ``attributes()`` feed a ``Resolver``."""

    tables: Mapping[str, str] = field(default_factory=dict)
    stream_arns: Mapping[str, str] = field(default_factory=dict)
    queues: Mapping[str, QueueInfo] = field(default_factory=dict)

    def refs(self) -> dict[str, str]:
        return {**self.tables, **{logical_id: queue.url for logical_id, queue in self.queues.items()}}

    def attributes(self, region: str = DEFAULT_REGION) -> dict[tuple[str, str], str]:
        attributes = table_attributes(self.tables, region, self.stream_arns)
        for logical_id, queue in self.queues.items():
            attributes[(logical_id, "Arn")] = queue.arn
            attributes[(logical_id, "QueueName")] = queue.name
            attributes[(logical_id, "QueueUrl")] = queue.url
        return attributes


# --------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------


DEFAULT_ROUTE = "$default"


@dataclass(frozen=True)
class ApiRoute:
    """One ``Type: HttpApi`` event: ``method`` is upper-case (``ANY`` allowed), ``path`` as in the template;
    the ``$default`` route (an event with neither Path nor Method) has both ``$default``."""

    event_id: str
    method: str
    path: str
    api_id: str | None = None
    payload_format_version: str = "2.0"

    @property
    def is_default(self) -> bool:
        return self.path == DEFAULT_ROUTE

    @property
    def route_key(self) -> str:
        """HTTP API's route key: ``GET /path/{param}``, ``ANY /{proxy+}`` or ``$default``."""
        return DEFAULT_ROUTE if self.is_default else f"{self.method} {self.path}"


@dataclass(frozen=True)
class EventSource:
    """An event source the local stack does not emulate (kept so callers can report it, with why)."""

    event_id: str
    type: str
    properties: dict[str, Any]
    reason: str = "not emulated locally"


@dataclass(frozen=True)
class DynamoStreamEvent:
    """A ``Type: DynamoDB`` event: the stream of ``table`` (a logical id in this template)."""

    event_id: str
    table: str
    starting_position: str = "TRIM_HORIZON"  # or LATEST
    batch_size: int = 100
    filter_patterns: tuple[dict[str, Any], ...] = ()
    maximum_retry_attempts: int = -1  # -1: retry until the record expires (Lambda's default)
    report_batch_item_failures: bool = False
    bisect_batch_on_function_error: bool = False
    on_failure_queue: str | None = None  # logical id of the OnFailure SQS destination


@dataclass(frozen=True)
class SqsEvent:
    """A ``Type: SQS`` event on ``queue`` (a logical id in this template)."""

    event_id: str
    queue: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    filter_patterns: tuple[dict[str, Any], ...] = ()
    maximum_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency (None: not set)


@dataclass(frozen=True)
class ScheduleEvent:
    """A ``Type: ScheduleV2`` (EventBridge Scheduler) or ``Type: Schedule`` (EventBridge rule) event."""

    event_id: str
    expression: str  # rate(...), cron(...) or at(...)
    input: str | None = None  # JSON text the target receives as its event
    type: str = "ScheduleV2"

    def event(self) -> Any:
        """A fresh copy of the event a firing delivers: ``Input`` parsed, else an empty object."""
        return json.loads(self.input) if self.input is not None else {}


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    module: str
    handler: str
    code_uri: str
    environment: dict[str, str]
    memory_size: int | None = None  # None: not set in the template (the local stack assumes 512)
    timeout: int = 3  # seconds, Lambda's default
    routes: list[ApiRoute] = field(default_factory=list)
    other_events: list[EventSource] = field(default_factory=list)
    stream_events: list[DynamoStreamEvent] = field(default_factory=list)
    sqs_events: list[SqsEvent] = field(default_factory=list)
    schedule_events: list[ScheduleEvent] = field(default_factory=list)


def _module_path(code_uri: str, handler: str) -> tuple[str, str]:
    """(``functions.orders_api.app``, ``lambda_handler``) from CodeUri + Handler."""
    module_file, _, attribute = handler.rpartition(".")
    if not module_file or not attribute:
        raise TemplateError(f"Handler {handler!r} is not of the form module.function")
    package = [part for part in code_uri.replace("\\", "/").split("/") if part and part != "."]
    if any(not part.isidentifier() for part in package):
        raise TemplateError(f"CodeUri {code_uri!r} is not an importable package path")
    return ".".join([*package, *module_file.replace("/", ".").split(".")]), attribute


def _api_route(resolver: Resolver, event_id: str, properties: Mapping[str, Any], where: str) -> ApiRoute:
    """An ``HttpApi`` event as SAM reads it: no Path and no Method is the ``$default`` route; the
    payload format is SAM's default (2.0) unless ``PayloadFormatVersion`` says otherwise."""
    api = properties.get("ApiId")
    api_id = api.get("Ref") if isinstance(api, dict) else api
    version = resolver.resolve_string(properties.get("PayloadFormatVersion", "2.0"))
    if version not in ("1.0", "2.0"):
        raise TemplateError(f"{where}: PayloadFormatVersion must be 1.0 or 2.0, got {version}")
    if "Path" not in properties and "Method" not in properties:
        return ApiRoute(event_id, DEFAULT_ROUTE, DEFAULT_ROUTE, api_id, version)
    if "Path" not in properties or "Method" not in properties:
        raise TemplateError(f"{where}: an HttpApi event needs both Path and Method, or neither ($default)")
    path = resolver.resolve_string(properties["Path"])
    method = resolver.resolve_string(properties["Method"]).upper()
    if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
        method = "ANY"
    return ApiRoute(event_id=event_id, method=method, path=path, api_id=api_id, payload_format_version=version)


def _environment(resolver: Resolver, variables: Mapping[str, Any], logical_id: str) -> dict[str, str]:
    environment: dict[str, str] = {}
    for name, raw in variables.items():
        try:
            value = resolver.resolve(raw)
        except TemplateError as error:
            raise TemplateError(f"{logical_id}: environment variable {name}: {error}") from error
        if value is not NO_VALUE:
            environment[name] = _scalar_string(value)
    return environment


def _get_att_target(value: Any, resources: Mapping[str, Any], resource_type: str, attributes: tuple[str, ...]) -> str | None:
    """The logical id X of ``!GetAtt X.<attribute>`` if X is a ``resource_type`` of this template."""
    if not isinstance(value, dict) or set(value) != {"Fn::GetAtt"}:
        return None
    argument = value["Fn::GetAtt"]
    if isinstance(argument, str):
        argument = argument.split(".", 1)
    if not isinstance(argument, list) or len(argument) != 2 or argument[1] not in attributes:
        return None
    target = str(argument[0])
    resource = resources.get(target)
    return target if isinstance(resource, dict) and resource.get("Type") == resource_type else None


def _filter_patterns(resolver: Resolver, properties: Mapping[str, Any], where: str) -> tuple[dict[str, Any], ...]:
    criteria = resolver.resolve(properties.get("FilterCriteria") or {})
    patterns: list[dict[str, Any]] = []
    for index, item in enumerate((criteria or {}).get("Filters") or []):
        try:
            patterns.append(parse_pattern(item.get("Pattern", "") if isinstance(item, dict) else ""))
        except FilterPatternError as error:
            raise TemplateError(f"{where}: FilterCriteria.Filters[{index}]: {error}") from None
    return tuple(patterns)


def _report_batch_item_failures(resolver: Resolver, properties: Mapping[str, Any]) -> bool:
    types = resolver.resolve(properties.get("FunctionResponseTypes") or [])
    return "ReportBatchItemFailures" in (types if isinstance(types, list) else [types])


def _int_property(resolver: Resolver, properties: Mapping[str, Any], name: str, default: int, where: str) -> int:
    try:
        return int(resolver.resolve_string(properties.get(name, default)))
    except ValueError:
        raise TemplateError(f"{where}: {name} is not an integer") from None


def _event_enabled(resolver: Resolver, properties: Mapping[str, Any]) -> bool:
    enabled = resolver.resolve(properties.get("Enabled", True))
    state = resolver.resolve(properties.get("State", "ENABLED"))
    return (enabled is True or str(enabled).lower() == "true") and str(state).upper() != "DISABLED"


def _stream_event(
    resolver: Resolver, template: Mapping[str, Any], where: str, event_id: str, properties: Mapping[str, Any]
) -> DynamoStreamEvent | str:
    """The typed spec, or why the event cannot be emulated."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    table = _get_att_target(properties.get("Stream"), resources, TABLE_TYPE, ("StreamArn",))
    if table is None:
        return "Stream is not !GetAtt <table>.StreamArn of a table in this template"
    position = resolver.resolve_string(properties.get("StartingPosition", "")).upper()
    if position not in ("TRIM_HORIZON", "LATEST"):
        raise TemplateError(f"{where}: StartingPosition must be TRIM_HORIZON or LATEST, got {position or 'nothing'}")
    on_failure: str | None = None
    destination = (properties.get("DestinationConfig") or {}).get("OnFailure") or {}
    if destination:
        kind = resolver.resolve_string(destination.get("Type", "SQS")).upper()
        on_failure = _get_att_target(destination.get("Destination"), resources, QUEUE_TYPE, ("Arn",))
        if kind != "SQS" or on_failure is None:
            log.warning("%s: only an SQS queue of this template is emulated as OnFailure destination", where)
            on_failure = None
    bisect = resolver.resolve(properties.get("BisectBatchOnFunctionError", False))
    return DynamoStreamEvent(
        event_id=event_id,
        table=table,
        starting_position=position,
        batch_size=_int_property(resolver, properties, "BatchSize", 100, where),
        filter_patterns=_filter_patterns(resolver, properties, where),
        maximum_retry_attempts=_int_property(resolver, properties, "MaximumRetryAttempts", -1, where),
        report_batch_item_failures=_report_batch_item_failures(resolver, properties),
        bisect_batch_on_function_error=_is_true(bisect),
        on_failure_queue=on_failure,
    )


def _sqs_event(
    resolver: Resolver, template: Mapping[str, Any], where: str, event_id: str, properties: Mapping[str, Any]
) -> SqsEvent | str:
    queue = _get_att_target(properties.get("Queue"), template.get("Resources") or {}, QUEUE_TYPE, ("Arn",))
    if queue is None:
        return "Queue is not !GetAtt <queue>.Arn of a queue in this template"
    return SqsEvent(
        event_id=event_id,
        queue=queue,
        batch_size=_int_property(resolver, properties, "BatchSize", 10, where),
        report_batch_item_failures=_report_batch_item_failures(resolver, properties),
        filter_patterns=_filter_patterns(resolver, properties, where),
        maximum_concurrency=_maximum_concurrency(resolver, properties, where),
    )


def _maximum_concurrency(resolver: Resolver, properties: Mapping[str, Any], where: str) -> int | None:
    scaling = properties.get("ScalingConfig")
    if not isinstance(scaling, Mapping) or "MaximumConcurrency" not in scaling:
        return None
    value = _int_property(resolver, scaling, "MaximumConcurrency", 2, where + ".ScalingConfig")
    if value < 2:  # Lambda's own range is 2..1000
        raise TemplateError(f"{where}: ScalingConfig.MaximumConcurrency must be at least 2")
    return value


def _schedule_event(
    resolver: Resolver, event_type: str, where: str, event_id: str, properties: Mapping[str, Any]
) -> ScheduleEvent:
    key = "ScheduleExpression" if event_type == "ScheduleV2" else "Schedule"
    if key not in properties:
        raise TemplateError(f"{where}: a {event_type} event needs {key}")
    raw_input = resolver.resolve(properties["Input"]) if "Input" in properties else None
    text = raw_input if isinstance(raw_input, str) or raw_input is None else json.dumps(raw_input)
    if text is not None:
        try:
            json.loads(text)
        except ValueError as error:
            raise TemplateError(f"{where}: Input is not JSON: {error}") from None
    return ScheduleEvent(event_id=event_id, expression=resolver.resolve_string(properties[key]), input=text, type=event_type)


def function_specs(
    template: Mapping[str, Any],
    resolved_refs: Mapping[str, str],
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = DEFAULT_REGION,
    *,
    attributes: Mapping[tuple[str, str], str] | None = None,
    resolve_environment: bool = True,
) -> list[FunctionSpec]:
    """Describe every ``AWS::Serverless::Function`` with its environment resolved.

    ``resolved_refs`` maps logical ids to their local ``!Ref`` value (tables to local names, queues
    to URLs; ``LocalResources.refs()``); tables in it also get ``!GetAtt`` Arn/StreamArn values.
    ``attributes`` adds or replaces ``!GetAtt`` values (``LocalResources.attributes()``).
    ``resolve_environment=False`` leaves every environment empty: for callers that need the
    functions' code and events before the resources their environment refers to exist.
    """
    tables = {key: value for key, value in resolved_refs.items() if key in resources_of_type(template, TABLE_TYPE)}
    resolver = Resolver(
        template,
        parameter_values(template, parameter_overrides),
        refs=resolved_refs,
        attributes={**table_attributes(tables, region), **(attributes or {})},
        region=region,
    )
    globals_function: dict[str, Any] = (template.get("Globals") or {}).get("Function") or {}
    global_variables = (globals_function.get("Environment") or {}).get("Variables") or {}
    specs: list[FunctionSpec] = []
    for logical_id, resource in resources_of_type(template, FUNCTION_TYPE).items():
        properties: dict[str, Any] = {**globals_function, **(resource.get("Properties") or {})}
        if "CodeUri" not in properties or "Handler" not in properties:
            raise TemplateError(f"{logical_id}: needs CodeUri and Handler (inline or image functions are not supported)")
        module, attribute = _module_path(resolver.resolve_string(properties["CodeUri"]), properties["Handler"])
        own_variables = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        environment = _environment(resolver, {**global_variables, **own_variables}, logical_id) if resolve_environment else {}
        spec = FunctionSpec(
            logical_id=logical_id,
            module=module,
            handler=attribute,
            code_uri=resolver.resolve_string(properties["CodeUri"]),
            environment=environment,
            memory_size=int(resolver.resolve_string(properties["MemorySize"])) if "MemorySize" in properties else None,
            timeout=int(resolver.resolve_string(properties.get("Timeout", 3))),
        )
        for event_id, event in (properties.get("Events") or {}).items():
            _add_event(spec, resolver, template, event_id, event or {})
        specs.append(spec)
    return specs


def _add_event(
    spec: FunctionSpec, resolver: Resolver, template: Mapping[str, Any], event_id: str, event: Mapping[str, Any]
) -> None:
    event_type = str(event.get("Type"))
    properties: Mapping[str, Any] = event.get("Properties") or {}
    where = f"{spec.logical_id}.Events.{event_id}"
    if event_type == "HttpApi":
        spec.routes.append(_api_route(resolver, event_id, properties, where))
        return
    typed: DynamoStreamEvent | SqsEvent | ScheduleEvent | str
    if event_type not in ("DynamoDB", "SQS", "ScheduleV2", "Schedule"):
        typed = "not emulated locally"
    elif not _event_enabled(resolver, properties):
        typed = "disabled in the template"
    elif event_type == "DynamoDB":
        typed = _stream_event(resolver, template, where, event_id, properties)
    elif event_type == "SQS":
        typed = _sqs_event(resolver, template, where, event_id, properties)
    else:
        typed = _schedule_event(resolver, event_type, where, event_id, properties)
    if isinstance(typed, DynamoStreamEvent):
        spec.stream_events.append(typed)
    elif isinstance(typed, SqsEvent):
        spec.sqs_events.append(typed)
    elif isinstance(typed, ScheduleEvent):
        spec.schedule_events.append(typed)
    else:
        spec.other_events.append(EventSource(event_id, event_type, dict(properties), reason=typed))


def api_types(template: Mapping[str, Any]) -> set[str]:
    """The API Gateway resource types the template serves its routes with (``AWS::Serverless::HttpApi``
    today; ``AWS::Serverless::Api`` is a REST API): what a request costs depends on it."""
    kinds = {"AWS::Serverless::HttpApi", "AWS::Serverless::Api", "AWS::ApiGatewayV2::Api", "AWS::ApiGateway::RestApi"}
    return {str(resource.get("Type")) for resource in (template.get("Resources") or {}).values() if resource.get("Type") in kinds}


def api_stage_name(template: Mapping[str, Any], parameter_overrides: Mapping[str, str] | None = None) -> str:
    """The stage of the (first) ``AWS::Serverless::HttpApi``: ``$default`` unless it names one."""
    resolver = Resolver(template, parameter_values(template, parameter_overrides))
    for resource in resources_of_type(template, HTTP_API_TYPE).values():
        stage = (resource.get("Properties") or {}).get("StageName")
        if stage is not None:
            return resolver.resolve_string(stage)
    return DEFAULT_ROUTE
