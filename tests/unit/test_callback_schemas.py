"""Real rendered callback bodies of every format and kind validate against their OpenAPI ``webhooks``
schema in docs/openapi.json (and against ``order_hub.models.callbacks``, where the schemas come from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from order_hub.models.callbacks import CALLBACK_BODIES, body_model
from order_hub.models.tenant import Tenant
from order_hub.rendering import callbacks
from tests.fakes import InMemoryOrderRepository
from tests.payloads import make_endpoint
from tests.unit.test_callback_formats import (
    _create,
    _seed_001_body,
    _seed_001_complete,
    _seed_003_dispatch,
    _through_the_hub,
)
from tests.unit.test_logistics import INCREFF_SETTINGS, _delivered_event

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _webhook_validator(name: str) -> Draft202012Validator:
    document = json.loads(DOCUMENT.read_text())
    body = document["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": document["components"], **body}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _check(name: str, fmt: str, rendered: callbacks.Rendered) -> dict[str, Any]:
    body = json.loads(json.dumps(rendered.body))  # what the sender puts on the wire
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _webhook_validator(name).iter_errors(body)]
    assert errors == [], f"{name}: {errors}"
    body_model(fmt, rendered.kind).model_validate(body)
    return body


def test_every_callback_model_is_a_webhook_of_the_document() -> None:
    document = json.loads(DOCUMENT.read_text())
    referenced = {
        webhook["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for webhook in document["webhooks"].values()
    }
    assert referenced == {model.__name__ for model in CALLBACK_BODIES.values()}
    headers = {p["name"] for p in document["webhooks"]["standardEvent"]["post"]["parameters"]}
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= headers


def test_shipper_pgi_and_confirmation(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    endpoint = make_endpoint("shipper")
    kinds = []
    for event in _through_the_hub(tenant, repo):
        if callbacks.emits("shipper", event):
            rendered = callbacks.render(endpoint, event)
            name = "shipperPgi" if rendered.kind == "pgi" else "shipperOrderConfirmation"
            body = _check(name, "shipper", rendered)
            kinds.append(rendered.kind)
            assert body["doc_no"] == event.order_no
    assert sorted(kinds) == ["order_confirmation", "pgi"]


def test_increff_create_complete_and_deliver(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    endpoint = make_endpoint("increff", default_country="IN")
    complete = _check("increffSalesOrderPosting", "increff", callbacks.render(endpoint, _seed_001_complete(tenant, repo)))
    assert complete["eventType"] == "OUTWARD_ORDER_COMPLETE" and complete["shipments"][0]["qrCode"]
    assert "parentOrderCode" in complete and "channelType" in complete
    created = repo.events[0]
    assert created.type == "order.created"
    assert _check("increffSalesOrderPosting", "increff", callbacks.render(endpoint, created))["shipments"] == []


def test_increff_without_optional_fields(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    body = _seed_001_body()
    for key in ("parent_order_no", "channel_type", "invoice"):
        body["ext"].pop(key)
    _create(tenant, repo, **body)
    rendered = callbacks.render(make_endpoint("increff", default_country="IN"), repo.events[0])
    posting = _check("increffSalesOrderPosting", "increff", rendered)
    assert "parentOrderCode" not in posting and "channelType" not in posting


def test_increff_deliver_and_standard_logistics(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    in_transit, delivered = _delivered_event(tenant, repo)
    deliver = callbacks.render(make_endpoint("increff", **INCREFF_SETTINGS), delivered)
    assert _check("increffSalesOrderPosting", "increff", deliver)["eventType"] == "OUTWARD_ORDER_SHIPMENT_DELIVER"
    for event in (in_transit, delivered):
        body = _check("standardEvent", "standard", callbacks.render(make_endpoint("standard"), event))
        assert body["data"]["logistics"]["kind"] == "tracking"


def test_unicommerce_dispatch(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    body = _check(
        "unicommerceDispatch", "unicommerce", callbacks.render(make_endpoint("unicommerce"), _seed_003_dispatch(tenant, repo))
    )
    assert body["invoiceDetails"]["invoiceItems"][0]["orderItems"][0]["bundleIdentifier"] is None


def test_standard_every_event_of_an_order_life(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    for event in _through_the_hub(tenant, repo):
        body = _check("standardEvent", "standard", callbacks.render(make_endpoint("standard"), event))
        assert "logistics" not in body["data"]


@pytest.mark.parametrize("name", ["shipperPgi", "increffSalesOrderPosting", "unicommerceDispatch", "standardEvent"])
def test_a_body_with_an_extra_or_missing_field_is_refused(name: str) -> None:
    """The schemas are exact: a renderer that adds or drops a field fails the tests above."""
    validator = _webhook_validator(name)
    document = json.loads(DOCUMENT.read_text())
    reference = document["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False and schema["required"]
    assert not validator.is_valid({})
    assert not validator.is_valid({**dict.fromkeys(schema["required"], ""), "unexpected": 1})
