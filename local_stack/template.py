"""Reading template.yaml the way CloudFormation/SAM would, as far as the local stack needs it.

- ``load_template`` parses the YAML with the CloudFormation short-form tags (``!Ref``, ``!GetAtt``,
  ``!Sub`` ...) turned into their long form (``{"Ref": x}``, ``{"Fn::GetAtt": [a, b]}``, ...).
- ``table_create_kwargs`` / ``create_tables`` turn ``AWS::DynamoDB::Table`` resources into
  ``create_table`` calls (plus ``update_time_to_live``).
- ``function_specs`` describes every ``AWS::Serverless::Function``: importable module, handler
  attribute, environment with intrinsics resolved, and its event sources (API routes for now).

Only the intrinsics a template like ours uses in the places we read are resolved; anything else
raises ``TemplateError`` naming the construct, rather than silently producing a wrong value.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
STACK_NAME = "outbound-order-hub-local"

TABLE_TYPE = "AWS::DynamoDB::Table"
FUNCTION_TYPE = "AWS::Serverless::Function"
API_TYPE = "AWS::Serverless::Api"

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
    """Parse template.yaml (default: the one at the repository root) into plain Python data."""
    source = Path(path) if path is not None else DEFAULT_TEMPLATE
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


def table_attributes(table_names: Mapping[str, str], region: str = DEFAULT_REGION) -> dict[tuple[str, str], str]:
    """``!GetAtt`` values of locally created tables (ARNs in the shape DynamoDB uses)."""
    attributes: dict[tuple[str, str], str] = {}
    for logical_id, name in table_names.items():
        arn = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"
        attributes[(logical_id, "Arn")] = arn
        attributes[(logical_id, "StreamArn")] = f"{arn}/stream/local"
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


# --------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiRoute:
    """One ``Type: Api`` event: ``method`` is upper-case (``ANY`` allowed), ``path`` as in the template."""

    event_id: str
    method: str
    path: str
    rest_api_id: str | None = None


@dataclass(frozen=True)
class EventSource:
    """An event source the local stack does not emulate yet (kept so callers can report it)."""

    event_id: str
    type: str
    properties: dict[str, Any]


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


def _module_path(code_uri: str, handler: str) -> tuple[str, str]:
    """(``functions.orders_api.app``, ``lambda_handler``) from CodeUri + Handler."""
    module_file, _, attribute = handler.rpartition(".")
    if not module_file or not attribute:
        raise TemplateError(f"Handler {handler!r} is not of the form module.function")
    package = [part for part in code_uri.replace("\\", "/").split("/") if part and part != "."]
    if any(not part.isidentifier() for part in package):
        raise TemplateError(f"CodeUri {code_uri!r} is not an importable package path")
    return ".".join([*package, *module_file.replace("/", ".").split(".")]), attribute


def _api_route(resolver: Resolver, event_id: str, properties: Mapping[str, Any]) -> ApiRoute:
    path = resolver.resolve_string(properties["Path"])
    method = resolver.resolve_string(properties["Method"]).upper()
    rest_api = properties.get("RestApiId")
    rest_api_id = rest_api.get("Ref") if isinstance(rest_api, dict) else rest_api
    return ApiRoute(event_id=event_id, method=method, path=path, rest_api_id=rest_api_id)


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


def function_specs(
    template: Mapping[str, Any],
    resolved_refs: Mapping[str, str],
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = DEFAULT_REGION,
) -> list[FunctionSpec]:
    """Describe every ``AWS::Serverless::Function`` with its environment resolved.

    ``resolved_refs`` maps logical ids to their local ``!Ref`` value (e.g. tables to local names);
    tables in it also get ``!GetAtt`` Arn/StreamArn values.
    """
    tables = {key: value for key, value in resolved_refs.items() if key in resources_of_type(template, TABLE_TYPE)}
    resolver = Resolver(
        template,
        parameter_values(template, parameter_overrides),
        refs=resolved_refs,
        attributes=table_attributes(tables, region),
        region=region,
    )
    globals_function: dict[str, Any] = (template.get("Globals") or {}).get("Function") or {}
    global_variables = (globals_function.get("Environment") or {}).get("Variables") or {}
    specs: list[FunctionSpec] = []
    for logical_id, resource in resources_of_type(template, FUNCTION_TYPE).items():
        properties: dict[str, Any] = {**globals_function, **(resource.get("Properties") or {})}
        if "CodeUri" not in properties or "Handler" not in properties:
            raise TemplateError(
                f"{logical_id}: needs CodeUri and Handler (inline or image functions are not supported)"
            )
        module, attribute = _module_path(resolver.resolve_string(properties["CodeUri"]), properties["Handler"])
        own_variables = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        environment = _environment(resolver, {**global_variables, **own_variables}, logical_id)
        routes: list[ApiRoute] = []
        other_events: list[EventSource] = []
        for event_id, event in (properties.get("Events") or {}).items():
            event_type = event.get("Type")
            event_properties = event.get("Properties") or {}
            if event_type == "Api":
                routes.append(_api_route(resolver, event_id, event_properties))
            else:
                other_events.append(EventSource(event_id, str(event_type), dict(event_properties)))
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                module=module,
                handler=attribute,
                code_uri=resolver.resolve_string(properties["CodeUri"]),
                environment=environment,
                memory_size=int(resolver.resolve_string(properties["MemorySize"]))
                if "MemorySize" in properties
                else None,
                timeout=int(resolver.resolve_string(properties.get("Timeout", 3))),
                routes=routes,
                other_events=other_events,
            )
        )
    return specs


def api_stage_name(template: Mapping[str, Any], parameter_overrides: Mapping[str, str] | None = None) -> str:
    """The stage of the (first) ``AWS::Serverless::Api``; ``Prod`` for SAM's implicit API."""
    resolver = Resolver(template, parameter_values(template, parameter_overrides))
    for resource in resources_of_type(template, API_TYPE).values():
        stage = (resource.get("Properties") or {}).get("StageName")
        if stage is not None:
            return resolver.resolve_string(stage)
    return "Prod"
