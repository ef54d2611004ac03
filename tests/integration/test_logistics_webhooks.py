"""webhook_ingest under moto: Shipper Logistics webhooks (AWB created, tracking) in, shipment state and events out."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import boto3
import pytest

from local_stack.harness import load_event, signed_webhook_event
from local_stack.testkit import MotoHubFactory
from order_hub.jsonutil import doc_text
from order_hub.secret_names import logistics_secret_name, webhook_secret_name
from tests.integration.ingest import ORDER_PK, call_ingest, hub_with_one_order, order_rows
from tests.outbox import event_types, order_events

SECRET = "whsec-test-demo"
API_KEY = "logistics-key-demo"
TRACKING_URL = "https://hub.example.com/webhooks/logistics/demo/tracking"
AUTH = hashlib.md5((API_KEY + TRACKING_URL + "json").encode()).hexdigest()


@pytest.fixture
def hub(moto_hub_factory: MotoHubFactory) -> dict[str, Any]:
    secrets = {
        webhook_secret_name("demo"): {"hmac_secret": SECRET},
        logistics_secret_name("demo"): {"api_key": API_KEY, "tracking_url": TRACKING_URL},
    }
    return hub_with_one_order(moto_hub_factory, secrets)


def _order(hub: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(doc_text(order_rows(hub)["ORDER"]["doc"]))
    return doc


def _event_types(hub: dict[str, Any]) -> list[str]:
    return event_types(hub["tables"]["OrdersTable"], ORDER_PK)


def _inbox_count(hub: dict[str, Any]) -> int:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.scan(TableName=hub["tables"]["OrdersTable"])["Items"]  # test only: a tiny moto table
    return sum(1 for item in items if item["pk"]["S"].startswith("INBOX#"))


def _tracking(code: int | None = 1100, status_date: str = "2026-11-24T08:15:00+07:00", **overrides: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("webhook_ingest/logistics_tracking"))
    body = json.loads(event["body"])
    body.update(status_date=status_date, **overrides)
    if code is not None:
        body["external_status"] = {**body["external_status"], "code": code}
    event["body"] = json.dumps(body)
    return event


def _ship(hub: dict[str, Any]) -> None:
    assert call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET))[0] == 200


def test_the_sample_auth_is_the_documented_md5() -> None:
    assert json.loads(load_event("webhook_ingest/logistics_tracking")["body"])["auth"] == AUTH


def test_created_confirmation_stores_the_awb(hub: dict[str, Any]) -> None:
    status, body = call_ingest(signed_webhook_event("webhook_ingest/logistics_created", SECRET))
    assert status == 200 and body["data"]["outcome"] == "applied" and body["data"]["so_status"] == "REGISTERED"
    assert _order(hub)["courier"]["awb"] == "JNE1234567890"
    assert _event_types(hub) == ["order.created", "order.logistics_updated"]
    status, body = call_ingest(signed_webhook_event("webhook_ingest/logistics_created", SECRET))
    assert status == 200 and body["data"]["outcome"] == "duplicate"
    _ship(hub)  # the PGI (same AWB) adds exactly one shipment
    assert [s["awb"] for s in _order(hub)["shipments"]] == ["JNE1234567890"]


def test_created_confirmation_needs_the_wms_webhook_signature(hub: dict[str, Any]) -> None:
    event = signed_webhook_event("webhook_ingest/logistics_created", "wrong-secret")
    assert call_ingest(event)[0] == 401
    assert _order(hub)["courier"]["awb"] == "" and _inbox_count(hub) == 0


def test_in_transit_then_delivered_emit_events(hub: dict[str, Any]) -> None:
    _ship(hub)
    status, body = call_ingest(_tracking(1100))
    assert status == 200 and body["data"]["outcome"] == "applied" and body["data"]["so_status"] == "CLOSED"
    assert _order(hub)["shipments"][0]["status"] == "IN_TRANSIT"

    status, body = call_ingest(_tracking(2000, "2026-11-25T10:00:00+07:00"))
    assert status == 200 and body["data"]["outcome"] == "applied" and body["data"]["so_status"] == "CLOSED"
    order = _order(hub)
    shipment = order["shipments"][0]
    assert shipment["status"] == "DELIVERED" and shipment["delivered_at"].startswith("2026-11-25T03:00:00")
    assert shipment["tracking_id"] == "2CQJADENEAU" and shipment["logistics_status"]["code"] == 2000
    assert order["status"] == "CLOSED"
    assert _event_types(hub) == ["order.created", "order.shipped", "order.logistics_updated", "order.delivered"]
    delivered = order_events(hub["tables"]["OrdersTable"], ORDER_PK)[-1]
    assert delivered.source == "logistics_webhook" and delivered.order.shipments[0].status == "DELIVERED"


def test_duplicates_answer_200_and_change_nothing(hub: dict[str, Any]) -> None:
    _ship(hub)
    assert call_ingest(_tracking(1100))[0] == 200
    version, events = _order(hub)["version"], _event_types(hub)
    status, body = call_ingest(_tracking(1100))
    assert status == 200 and body["data"]["outcome"] == "duplicate"
    assert _order(hub)["version"] == version and _event_types(hub) == events


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b.update(auth="0" * 32),
        lambda b: b.pop("auth"),
        lambda b: b.update(auth=hashlib.md5((API_KEY + "https://elsewhere.example.com/hook" + "json").encode()).hexdigest()),
        lambda b: b.update(auth=None),
    ],
    ids=["wrong", "missing", "other-url", "null"],
)
def test_wrong_or_missing_auth_is_401_and_stores_nothing(hub: dict[str, Any], tamper: Any) -> None:
    _ship(hub)
    before = order_rows(hub)
    event = _tracking(1100)
    body = json.loads(event["body"])
    tamper(body)
    event["body"] = json.dumps(body)
    status, reply = call_ingest(event)
    assert status == 401 and reply["metadata"]["errors"][0]["code"] == 802
    assert order_rows(hub).keys() == before.keys() and _order(hub)["shipments"][0]["status"] == "SHIPPED"
    assert _inbox_count(hub) == 1  # the PGI's only


def test_auth_of_another_tenant_or_a_body_that_is_not_json_is_401(hub: dict[str, Any]) -> None:
    event = _tracking(1100)
    event["pathParameters"] = {"tenant_id": "someone-else"}
    event["path"] = "/webhooks/logistics/someone-else/tracking"
    assert call_ingest(event)[0] == 401
    event = _tracking(1100)
    event["body"] = "{nope"
    assert call_ingest(event)[0] == 401
    assert _inbox_count(hub) == 0


def test_wms_signature_does_not_open_the_tracking_route(hub: dict[str, Any]) -> None:
    event = _tracking(1100)
    body = json.loads(event["body"])
    body.pop("auth")
    signed = signed_webhook_event("webhook_ingest/logistics_tracking", SECRET, body=body)
    assert call_ingest(signed)[0] == 401


def test_unknown_order_is_kept_202(hub: dict[str, Any]) -> None:
    status, body = call_ingest(_tracking(1100, external_id="NOT-YET-KNOWN"))
    assert status == 202 and body["data"]["outcome"] == "unmatched"
    inbox = order_rows(hub, "INBOX#demo#LOGISTICS#2CQJADENEAU#1100#2026-11-24T01:15:00+00:00")
    assert "NOT-YET-KNOWN" in doc_text(inbox["INBOX"]["payload"])  # compressed like the order


def test_unknown_status_code_is_recorded_without_crash(hub: dict[str, Any]) -> None:
    _ship(hub)
    status, body = call_ingest(_tracking(1234))
    assert status == 200 and body["data"]["outcome"] == "recorded"
    assert body["data"]["notes"] == ["unknown status code 1234"]
    order = _order(hub)
    assert order["shipments"][0]["status"] == "SHIPPED"
    assert order["logistics"][-1]["code"] == 1234 and order["logistics"][-1]["applied"] is False
    assert _event_types(hub)[-1] == "order.fact_recorded"


def test_delivered_then_in_transit_does_not_regress(hub: dict[str, Any]) -> None:
    _ship(hub)
    assert call_ingest(_tracking(2000, "2026-11-25T10:00:00+07:00"))[1]["data"]["outcome"] == "applied"
    status, body = call_ingest(_tracking(1100, "2026-11-24T08:15:00+07:00"))
    assert status == 200 and body["data"]["outcome"] == "recorded"
    assert _order(hub)["shipments"][0]["status"] == "DELIVERED"
    assert _event_types(hub)[-2:] == ["order.delivered", "order.fact_recorded"]


def test_delivered_before_the_pgi_is_recorded_not_applied(hub: dict[str, Any]) -> None:
    status, body = call_ingest(_tracking(2000))
    assert status == 200 and body["data"]["outcome"] == "recorded" and body["data"]["so_status"] == "REGISTERED"
    assert _order(hub)["shipments"] == [] and _event_types(hub) == ["order.created", "order.fact_recorded"]


def test_malformed_tracking_is_400_after_auth(hub: dict[str, Any]) -> None:
    event = _tracking(1100)
    body = json.loads(event["body"])
    body.pop("status_date")
    event["body"] = json.dumps(body)
    status, reply = call_ingest(event)
    assert status == 400 and "status_date" in [e.get("field") for e in reply["metadata"]["errors"]]
    assert _inbox_count(hub) == 0
