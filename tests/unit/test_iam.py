"""The IAM check: calls become the requests AWS authorizes, and the template's statements decide."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_stack.iam import IamGuard, requests_of
from local_stack.template import load_template, resources_of_type

REGION = "us-east-1"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/"


def test_calls_become_the_requests_aws_authorizes() -> None:
    transact = {
        "TransactItems": [
            {"Put": {"TableName": "it-OrdersTable", "Item": {}}},
            {"Update": {"TableName": "it-OrdersTable", "Key": {}}},
            {"ConditionCheck": {"TableName": "it-TenantsTable", "Key": {}}},
        ]
    }
    assert requests_of("dynamodb", "TransactWriteItems", transact, REGION) == [
        ("dynamodb:PutItem", TABLE + "it-OrdersTable"),
        ("dynamodb:UpdateItem", TABLE + "it-OrdersTable"),
        ("dynamodb:ConditionCheckItem", TABLE + "it-TenantsTable"),
    ]
    assert requests_of("dynamodb", "Query", {"TableName": "t", "IndexName": "by_created"}, REGION) == [
        ("dynamodb:Query", TABLE + "t/index/by_created")
    ]
    assert requests_of("dynamodb", "BatchGetItem", {"RequestItems": {"a": {}, "b": {}}}, REGION) == [
        ("dynamodb:BatchGetItem", TABLE + "a"),
        ("dynamodb:BatchGetItem", TABLE + "b"),
    ]
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/it-DeliveryQueue"
    assert requests_of("sqs", "SendMessageBatch", {"QueueUrl": queue}, REGION) == [
        ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:it-DeliveryQueue")
    ]
    assert requests_of("secretsmanager", "GetSecretValue", {"SecretId": "hub/acme/wms"}, REGION) == [
        ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub/acme/wms-AbCdEf")
    ]


def test_statements_allow_only_what_they_name() -> None:
    guard = IamGuard(load_template(), default_prefix="it")
    guard.check("OrdersApiFunction", "dynamodb", "GetItem", {"TableName": "it-OrdersTable"}, REGION)
    guard.check("OrdersApiFunction", "dynamodb", "Query", {"TableName": "it-OrdersTable", "IndexName": "by_created"}, REGION)
    guard.check("StatusPollerFunction", "secretsmanager", "GetSecretValue", {"SecretId": "hub/acme/wms"}, REGION)
    refused = [
        ("OrdersApiFunction", "dynamodb", "DeleteItem", {"TableName": "it-OrdersTable"}),
        ("OrdersApiFunction", "dynamodb", "GetItem", {"TableName": "it-DeliveriesTable"}),
        ("StatusPollerFunction", "secretsmanager", "GetSecretValue", {"SecretId": "hub/acme/wms-webhook"}),
        ("StatusPollerFunction", "secretsmanager", "GetSecretValue", {"SecretId": "hub/acme/endpoint/pos"}),
        ("WebhookIngestFunction", "sqs", "SendMessage", {"QueueUrl": "https://q/it-DeliveryQueue"}),
    ]
    for function, service, operation, params in refused:
        with pytest.raises(Exception, match=f"{function} is not authorized to perform {service}:{operation}"):
            guard.check(function, service, operation, params, REGION)
    assert len(guard.denials) == len(refused)
    assert guard.checked_calls == 3 + len(refused)


def _without_action(template: dict[str, Any], function: str, action: str) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    for entry in changed["Resources"][function]["Properties"]["Policies"]:
        for statement in entry.get("Statement", []):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != action] or ["dynamodb:DescribeLimits"]
    return changed


def test_a_handler_call_its_policy_lacks_fails_as_on_aws_naming_function_action_and_resource() -> None:
    """The worker's policy without the endpoint read: the call is refused, as AWS refuses it."""
    template = _without_action(load_template(), "DeliveryWorkerFunction", "dynamodb:GetItem")
    guard = IamGuard(template, default_prefix="iam").install()
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            client.create_table(
                TableName="iam-TenantsTable",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            client.get_item(TableName="iam-TenantsTable", Key={"pk": {"S": "x"}})  # outside any handler: not checked
            namespace: dict[str, Any] = {"__name__": "functions.delivery_worker.app", "client": client}
            exec("def handler():\n    return client.get_item(TableName='iam-TenantsTable', Key={'pk': {'S': 'x'}})", namespace)
            with pytest.raises(ClientError) as raised:
                namespace["handler"]()
    finally:
        guard.uninstall()
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "DeliveryWorkerFunction is not authorized to perform dynamodb:GetItem" in error["Message"]
    assert TABLE + "iam-TenantsTable" in error["Message"]
    assert [str(d) for d in guard.denials] == [
        "DeliveryWorkerFunction is not authorized to perform dynamodb:GetItem on "
        f"{TABLE}iam-TenantsTable (API call dynamodb.GetItem)"
    ]


def test_every_function_has_a_policy_the_check_can_read() -> None:
    template = load_template()
    statements = IamGuard(template).statements("hub-local")
    assert set(statements) == set(resources_of_type(template, "AWS::Serverless::Function"))
    assert all(statements.values())
