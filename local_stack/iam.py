"""Each function's IAM policy, enforced where moto enforces none: the tests and the local stack.

moto allows every call. AWS allows a function only what the ``Policies`` of its
``AWS::Serverless::Function`` in ``template.yaml`` grant, and a missing permission there shows up
only after a deploy (a delivery worker without ``dynamodb:Query`` retries every callback forever).

``IamGuard.install()`` wraps botocore's ``BaseClient._make_api_call``. A call made while a
function's handler is running (its module, e.g. ``functions.delivery_worker.app``, is on the
calling thread's stack, or was when the work was handed to a thread pool) is turned into the IAM
requests AWS would evaluate (action and resource ARN; a ``TransactWriteItems`` is one request per
item, ``PutItem``/``UpdateItem``/``DeleteItem``/``ConditionCheckItem``; a ``BatchGetItem`` one per
table) and each is checked against that function's statements, with the template's ``!GetAtt`` /
``!Sub`` resolved for the table and queue names in use (``<prefix>-<LogicalId>``). A request no
statement allows fails as AWS fails it (``AccessDeniedException``) and is recorded in ``denials``;
``used`` records which statement granted what, so ``unused_grants()`` lists the permissions no
code path needed. Calls made outside a handler (test set-up, the operator CLI, the local stack's
own pumps, which stand for the Lambda service) are not checked.

Statement ``Condition``, ``NotAction`` and ``NotResource`` are not evaluated: the template uses
none, and a policy that did would be refused here rather than judged wrongly.
"""

from __future__ import annotations

import contextvars
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from local_stack.lambdas import CONTAINER_SUFFIX
from local_stack.template import (
    ACCOUNT_ID,
    DEFAULT_REGION,
    FUNCTION_TYPE,
    LocalResources,
    QueueInfo,
    Resolver,
    TemplateError,
    function_specs,
    local_queue_names,
    local_table_names,
    parameter_values,
    queue_arn,
    resources_of_type,
)

# SAM policy templates the template uses, as aws-sam-translator's policy_templates.json defines them.
SAM_POLICY_TEMPLATES: dict[str, Callable[[Mapping[str, Any]], list[dict[str, Any]]]] = {
    "SQSSendMessagePolicy": lambda p: [
        {
            "Effect": "Allow",
            "Action": ["sqs:SendMessage*"],
            "Resource": {
                "Fn::Sub": [
                    "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}",
                    {"queueName": p["QueueName"]},
                ]
            },
        }
    ],
}

# The operations a DynamoDB transaction item stands for, as IAM authorizes them.
_TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# Batch operations IAM authorizes as their single-entry action.
_SQS_BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}

_calling_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_calling_function", default=None)


@dataclass(frozen=True)
class Statement:
    function: str
    index: int  # position among the function's statements
    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def matches(self, action: str, resource: str) -> bool:
        return any(_glob(pattern, action, case=False) for pattern in self.actions) and any(
            _glob(pattern, resource, case=True) for pattern in self.resources
        )


@dataclass(frozen=True)
class Grant:
    """One (action pattern, resource pattern) pair of a function's Allow statement."""

    function: str
    sid: str
    action: str
    resource: str

    def __str__(self) -> str:
        return f"{self.function} [{self.sid}] {self.action} on {self.resource}"


@dataclass(frozen=True)
class Denial:
    function: str
    action: str
    resource: str
    operation: str

    def __str__(self) -> str:
        return f"{self.function} is not authorized to perform {self.action} on {self.resource} (API call {self.operation})"


class AccessDenied(Exception):
    pass


@cache
def _pattern(pattern: str, case: bool) -> re.Pattern[str]:
    # IAM wildcards: * any run of characters, ? one character; nothing else is special.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL if case else re.DOTALL | re.IGNORECASE)


def _glob(pattern: str, value: str, case: bool) -> bool:
    return _pattern(pattern, case).fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(template: Mapping[str, Any], resolver: Resolver) -> dict[str, list[Statement]]:
    """Function logical id -> its policy statements, resolved (every function, even with no Policies)."""
    globals_policies = ((template.get("Globals") or {}).get("Function") or {}).get("Policies")
    if globals_policies:
        raise TemplateError("Globals.Function.Policies is not supported by the IAM check")
    result: dict[str, list[Statement]] = {}
    for logical_id, resource in resources_of_type(template, FUNCTION_TYPE).items():
        properties = resource.get("Properties") or {}
        if "Role" in properties:
            raise TemplateError(f"{logical_id}: a Role of its own is not supported by the IAM check (use Policies)")
        statements: list[Statement] = []
        for n, entry in enumerate(_as_list(properties.get("Policies") or [])):
            for raw in _policy_entry(logical_id, entry):
                statements.append(_statement(logical_id, len(statements), raw, resolver, f"policy{n}"))
        result[logical_id] = statements
    return result


def _policy_entry(logical_id: str, entry: Any) -> list[dict[str, Any]]:
    if isinstance(entry, dict) and "Statement" in entry:
        return [dict(statement) for statement in _as_list(entry["Statement"])]
    if isinstance(entry, dict) and len(entry) == 1:
        ((name, parameters),) = entry.items()
        if name in SAM_POLICY_TEMPLATES:
            return [{**statement, "Sid": name} for statement in SAM_POLICY_TEMPLATES[name](parameters or {})]
        raise TemplateError(f"{logical_id}: SAM policy template {name} is not known to the IAM check")
    raise TemplateError(f"{logical_id}: policy entry {entry!r} is not supported by the IAM check (inline statements only)")


def _statement(logical_id: str, index: int, raw: Mapping[str, Any], resolver: Resolver, fallback_sid: str) -> Statement:
    for unsupported in ("Condition", "NotAction", "NotResource", "Principal"):
        if unsupported in raw:
            raise TemplateError(f"{logical_id}: statement {raw.get('Sid', fallback_sid)} uses {unsupported}, not evaluated here")
    resolved = resolver.resolve({"Action": raw.get("Action"), "Resource": raw.get("Resource")})
    return Statement(
        function=logical_id,
        index=index,
        sid=str(raw.get("Sid") or fallback_sid),
        effect=str(raw.get("Effect", "Allow")),
        actions=tuple(str(a) for a in _as_list(resolved["Action"])),
        resources=tuple(str(r) for r in _as_list(resolved["Resource"])),
    )


# -- what a call asks for ---------------------------------------------------------------------------


def table_arn(name: str, region: str) -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"


def secret_arn(secret_id: str, region: str) -> str:
    """A secret's ARN: Secrets Manager appends six random characters to the name."""
    return (
        secret_id if secret_id.startswith("arn:") else f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret_id}-AbCdEf"
    )


def requests_of(service: str, operation: str, params: Mapping[str, Any], region: str) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs AWS authorizes for one API call."""
    if service == "dynamodb":
        return _dynamodb_requests(operation, params, region)
    if service == "sqs":
        action = _SQS_BATCH_ACTIONS.get(operation, operation)
        if "QueueUrl" in params:
            return [(f"sqs:{action}", queue_arn(str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1], region))]
        if "QueueName" in params:
            return [(f"sqs:{action}", queue_arn(str(params["QueueName"]), region))]
        if "SourceArn" in params:
            return [(f"sqs:{action}", str(params["SourceArn"]))]
        return [(f"sqs:{action}", "*")]
    if service == "secretsmanager":
        secret = params.get("SecretId") or params.get("Name")
        return [(f"secretsmanager:{operation}", secret_arn(str(secret), region) if secret else "*")]
    return [(f"{service}:{operation}", "*")]


def _dynamodb_requests(operation: str, params: Mapping[str, Any], region: str) -> list[tuple[str, str]]:
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{_TRANSACT_WRITE_ACTIONS[kind]}", table_arn(str(body["TableName"]), region))
            for item in params.get("TransactItems") or []
            for kind, body in item.items()
        ]
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", table_arn(str(item["Get"]["TableName"]), region)) for item in params["TransactItems"]]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", table_arn(str(name), region)) for name in params.get("RequestItems") or {}]
    if "TableName" in params:
        arn = table_arn(str(params["TableName"]), region)
        if params.get("IndexName"):
            arn = f"{arn}/index/{params['IndexName']}"
        return [(f"dynamodb:{operation}", arn)]
    return [(f"dynamodb:{operation}", "*")]


def _prefix_of(service: str, params: Mapping[str, Any], logical_ids: Iterator[str] | list[str]) -> str | None:
    """The name prefix of the tables or queues a call names (``it-OrdersTable`` -> ``it``)."""
    names: list[str] = []
    if service == "dynamodb":
        names += [str(params["TableName"])] if "TableName" in params else []
        names += [str(n) for n in params.get("RequestItems") or {}]
        for item in params.get("TransactItems") or []:
            names += [str(body["TableName"]) for body in item.values()]
    elif service == "sqs" and "QueueUrl" in params:
        names.append(str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1].removesuffix(".fifo"))
    for name in names:
        for logical_id in logical_ids:
            if name.endswith(f"-{logical_id}"):
                return name[: -len(logical_id) - 1]
    return None


# -- the guard ----------------------------------------------------------------------------------------


@dataclass
class IamGuard:
    """Authorizes every AWS call a function makes against that function's statements (see module doc)."""

    template: Mapping[str, Any]
    default_prefix: str = "hub-local"
    parameter_overrides: Mapping[str, str] | None = None
    denials: list[Denial] = field(default_factory=list)
    used: set[tuple[str, int, int, int]] = field(default_factory=set)  # function, statement, action, resource
    checked_calls: int = 0
    on_denial: Callable[[Denial], None] | None = None
    _modules: dict[str, str] = field(default_factory=dict)
    _statements: dict[str, dict[str, list[Statement]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _restore: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        specs = function_specs(self.template, {}, self.parameter_overrides, resolve_environment=False)
        self._modules = {spec.module: spec.logical_id for spec in specs}
        resources = resources_of_type(self.template, "AWS::DynamoDB::Table") | resources_of_type(self.template, "AWS::SQS::Queue")
        self._logical_ids = sorted(resources, key=len, reverse=True)
        self.statements(self.default_prefix)  # a template the check cannot read fails here, not on the first call

    def statements(self, prefix: str, region: str = DEFAULT_REGION) -> dict[str, list[Statement]]:
        """Every function's statements with the tables and queues named ``<prefix>-<LogicalId>``."""
        key = f"{prefix}|{region}"
        if key not in self._statements:
            queues = {
                logical_id: QueueInfo(
                    url=f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{name}", arn=queue_arn(name, region), name=name
                )
                for logical_id, name in local_queue_names(self.template, prefix, self.parameter_overrides).items()
            }
            resources = LocalResources(tables=local_table_names(self.template, prefix), queues=queues)
            resolver = Resolver(
                self.template,
                parameter_values(self.template, self.parameter_overrides),
                refs=resources.refs(),
                attributes=resources.attributes(region),
                region=region,
            )
            self._statements[key] = policy_statements(self.template, resolver)
        return self._statements[key]

    def grants(self) -> dict[tuple[str, int, int, int], Grant]:
        """Every (action, resource) pair the template allows, as written for the default prefix."""
        return {
            (s.function, s.index, a, r): Grant(s.function, s.sid, action, resource)
            for statements in self.statements(self.default_prefix).values()
            for s in statements
            if s.effect == "Allow"
            for a, action in enumerate(s.actions)
            for r, resource in enumerate(s.resources)
        }

    def unused_grants(self) -> list[Grant]:
        """Allowed (action, resource) pairs of the template that no checked call needed, sorted."""
        return sorted((grant for key, grant in self.grants().items() if key not in self.used), key=str)

    # -- checking -----------------------------------------------------------------------------------
    def calling_function(self) -> str | None:
        """The function whose handler is running on this thread (or handed this thread its work)."""
        frame = sys._getframe(1)
        while frame is not None:
            module = str(frame.f_globals.get("__name__", ""))
            logical_id = self._modules.get(module.partition(CONTAINER_SUFFIX)[0])  # any container's copy
            if logical_id:
                return logical_id
            frame = frame.f_back  # type: ignore[assignment]
        return _calling_function.get()

    def check(self, function: str, service: str, operation: str, params: Mapping[str, Any], region: str) -> None:
        prefix = _prefix_of(service, params, self._logical_ids) or self.default_prefix
        statements = self.statements(prefix, region).get(function, [])
        for action, resource in requests_of(service, operation, params, region):
            allowed = [s for s in statements if s.effect == "Allow" and s.matches(action, resource)]
            denied = any(s.effect == "Deny" and s.matches(action, resource) for s in statements)
            with self._lock:
                self.checked_calls += 1
                if allowed and not denied:
                    self.used.update(
                        (function, s.index, a, r)
                        for s in allowed
                        for a, action_pattern in enumerate(s.actions)
                        if _glob(action_pattern, action, case=False)
                        for r, resource_pattern in enumerate(s.resources)
                        if _glob(resource_pattern, resource, case=True)
                    )
                    continue
                denial = Denial(function, action, resource, f"{service}.{operation}")
                self.denials.append(denial)
            if self.on_denial is not None:
                self.on_denial(denial)
            raise AccessDenied(str(denial))

    def install(self) -> IamGuard:
        """Check every botocore call from now on (until ``uninstall``)."""
        from botocore.client import BaseClient
        from botocore.exceptions import ClientError

        guard = self
        original_call = BaseClient._make_api_call  # type: ignore[attr-defined]
        original_submit = ThreadPoolExecutor.submit

        def checked_call(client: Any, operation_name: str, api_params: Any) -> Any:
            function = guard.calling_function()
            if function is not None:
                model = client.meta.service_model
                try:
                    guard.check(
                        function, model.signing_name or model.endpoint_prefix, operation_name, api_params, client.meta.region_name
                    )
                except AccessDenied as denied:
                    role = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{function}Role/{function}"
                    response: Any = {
                        "Error": {"Code": "AccessDeniedException", "Message": f"User: {role} {denied}"},
                        "ResponseMetadata": {"HTTPStatusCode": 400},
                    }
                    raise ClientError(response, operation_name) from None
            return original_call(client, operation_name, api_params)

        def submit(pool: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            function = guard.calling_function()
            if function is None:
                return original_submit(pool, fn, *args, **kwargs)

            def run() -> Any:
                token = _calling_function.set(function)
                try:
                    return fn(*args, **kwargs)
                finally:
                    _calling_function.reset(token)

            return original_submit(pool, run)

        BaseClient._make_api_call = checked_call  # type: ignore[attr-defined]
        ThreadPoolExecutor.submit = submit  # type: ignore[assignment,method-assign]
        self._restore.append(lambda: setattr(BaseClient, "_make_api_call", original_call))
        self._restore.append(lambda: setattr(ThreadPoolExecutor, "submit", original_submit))
        return self

    def uninstall(self) -> None:
        while self._restore:
            self._restore.pop()()

    def report(self) -> dict[str, Any]:
        """What the guard saw, as JSON: checked calls, denials, and the grants nothing used."""
        return {
            "checked_calls": self.checked_calls,
            "denials": [str(d) for d in self.denials],
            "unused_grants": [str(g) for g in self.unused_grants()],
        }
