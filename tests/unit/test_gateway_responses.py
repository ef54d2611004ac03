"""API Gateway's own answers (template.yaml GatewayResponses) are Shipper envelopes with x-request-id.

Each response template is rendered the way API Gateway would for a sample request (the few
``$context`` variables and the one ``#set`` it uses) and parsed as the client would parse it."""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

from local_stack.template import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
REQUIRED = {
    "MISSING_AUTHENTICATION_TOKEN": (404, 810),
    "THROTTLED": (429, 810),
    "REQUEST_TOO_LARGE": (413, 810),
    "INTEGRATION_TIMEOUT": (504, 803),
    "DEFAULT_4XX": (400, 810),
    "DEFAULT_5XX": (500, 803),
}
EPOCH_MS = 1_764_633_600_123


def _responses() -> dict[str, Any]:
    template = load_template(TEMPLATE)
    responses: dict[str, Any] = template["Resources"]["HubApi"]["Properties"]["GatewayResponses"]
    return responses


def _render(vtl: str, path: str, message: str) -> str:
    """The subset of API Gateway's VTL the templates use."""
    epoch = re.fullmatch(r"#set\(\$epoch = \$context\.requestTimeEpoch / 1000\)(.*)", vtl, re.S)
    assert epoch, "every template starts by computing the envelope's timestamp in seconds"
    body = epoch.group(1)
    body = body.replace("$util.escapeJavaScript($context.path)", path.replace("\\", "\\\\").replace('"', '\\"'))
    body = body.replace("$context.error.messageString", json.dumps(message))
    body = body.replace("$epoch", str(EPOCH_MS // 1000))
    assert "$" not in body, f"unrendered variable in {body}"
    return body


def test_every_required_gateway_response_is_declared() -> None:
    assert set(REQUIRED) <= set(_responses())


@pytest.mark.parametrize("name", sorted(_responses()))
def test_gateway_response_is_a_shipper_envelope_with_a_request_id(name: str) -> None:
    response = _responses()[name]
    status = int(response["StatusCode"])
    assert response["ResponseParameters"]["Headers"]["x-request-id"] == "context.requestId"

    rendered = _render(response["ResponseTemplates"]["application/json"], '/v3/fulfillment/"x"', "Missing thing")
    body = json.loads(rendered)

    metadata = body["metadata"]
    assert set(body) == {"metadata"}
    assert metadata["path"] == '/v3/fulfillment/"x"'
    assert metadata["http_status_code"] == status
    assert metadata["http_status"] == HTTPStatus(status).phrase
    assert metadata["timestamp"] == EPOCH_MS // 1000
    [error] = metadata["errors"]
    assert error["code"] == (803 if status >= 500 else 810) and error["message"]
    if name in REQUIRED:
        assert (status, error["code"]) == REQUIRED[name]


def test_webhooks_are_throttled_apart_from_client_traffic() -> None:
    template = load_template(TEMPLATE)
    settings = template["Resources"]["HubApi"]["Properties"]["MethodSettings"]
    by_path = {setting["ResourcePath"]: setting for setting in settings}
    assert "/*" in by_path
    webhook_routes = [
        event["Properties"]["Path"]
        for event in template["Resources"]["WebhookIngestFunction"]["Properties"]["Events"].values()
        if event["Type"] == "Api"
    ]
    assert webhook_routes
    for route in webhook_routes:
        setting = by_path["/" + route.replace("/", "~1")]
        assert setting["HttpMethod"] == "POST" and setting["ThrottlingRateLimit"] > 0


@pytest.mark.parametrize("name", ["MISSING_AUTHENTICATION_TOKEN", "REQUEST_TOO_LARGE", "INTEGRATION_FAILURE"])
def test_the_local_stack_answers_as_the_template_declares(name: str) -> None:
    from local_stack.apigw import gateway_response

    response = _responses()[name]
    declared = json.loads(_render(response["ResponseTemplates"]["application/json"], "/v3/nope", ""))

    local = gateway_response(name, "/v3/nope", now=EPOCH_MS / 1000)

    assert local.status == int(response["StatusCode"])
    assert json.loads(local.body) == declared
    assert dict(local.headers)["x-request-id"]
