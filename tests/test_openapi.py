"""The committed OpenAPI document is generated from the code, covers every route, is valid, and must not drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

from local_stack.openapi import DOCUMENT, build_openapi
from local_stack.template import load_template

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DOCUMENT.read_text())
    return document


def test_committed_openapi_document_is_current() -> None:
    assert DOCUMENT.read_text() == build_openapi(), "docs/openapi.json is stale: run `make openapi`"


def test_the_document_is_valid_openapi() -> None:
    document = _document()
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any violation (e.g. a number field with a string default)


def test_every_route_of_the_template_is_documented() -> None:
    template = load_template(TEMPLATE)
    routes = {
        (event["Properties"]["Method"].lower(), event["Properties"]["Path"])
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in (resource["Properties"].get("Events") or {}).values()
        if event["Type"] == "HttpApi"
        and "Path" in event["Properties"]  # not the $default route
        and not event["Properties"]["Path"].startswith("/portal")  # HTML pages, not API
    }
    documented = {(method, path) for path, operations in _document()["paths"].items() for method in operations}
    assert routes == documented


def test_every_operation_documents_its_errors_auth_and_request_id() -> None:
    document = _document()
    assert document["security"] == [{"ApiKey": []}]
    schemes = document["components"]["securitySchemes"]
    names = {scheme["name"] for scheme in schemes.values()}
    assert names == {"x-api-key", "x-hub-signature", "x-hub-timestamp", "x-webhook-token"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"400", "401", "413", "429", "500", "502", "504"} <= set(responses), f"{method} {path}"
            assert {"200", "201"} & set(responses), f"{method} {path}"
            if "requestBody" in operation:
                assert "415" in responses, f"{method} {path}"
            if path.startswith("/webhooks/"):
                assert "202" in responses, f"{method} {path}"
            assert "422" not in responses
            for status, response in responses.items():
                assert "x-request-id" in response["headers"], f"{method} {path} {status}"
            if path.startswith("/webhooks/"):
                signed: list[dict[str, list[str]]] = [{"WebhookSignature": [], "WebhookTimestamp": []}, {"WebhookToken": []}]
                assert operation["security"] == ([] if path.endswith("/tracking") else signed)
    assert "auth" in document["paths"]["/webhooks/logistics/{tenant_id}/tracking"]["post"]["description"]
    create = document["paths"]["/v3/fulfillment/outbound/oms"]["post"]["responses"]["200"]["headers"]
    assert "x-idempotent-replay" in create
    assert "x-cache" in document["paths"]["/v3/fulfillment/pricing/domestic"]["post"]["responses"]["200"]["headers"]
    assert "Retry-After" in document["paths"]["/hub/v1/endpoints"]["get"]["responses"]["429"]["headers"]
    assert set(document["paths"]["/hub/v1/endpoints"]["post"]["responses"]) & {"200", "201"} == {"201"}


def test_the_callbacks_are_webhooks_one_per_format_and_kind() -> None:
    webhooks = _document()["webhooks"]
    assert set(webhooks) == {
        "shipperPgi",
        "shipperOrderConfirmation",
        "increffSalesOrderPosting",
        "unicommerceDispatch",
        "standardEvent",
    }
    for name, webhook in webhooks.items():
        headers = {parameter["name"] for parameter in webhook["post"]["parameters"]}
        assert {"User-Agent", "Content-Type"} <= headers, name
        assert ({"webhook-id", "webhook-timestamp", "webhook-signature"} <= headers) == (name == "standardEvent"), name
