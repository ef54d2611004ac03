"""webhook_ingest under moto: signed WMS webhooks in, order state and inbox out."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local_stack.harness import signed_webhook_event
from local_stack.testkit import MotoHubFactory
from order_hub.jsonutil import doc_text
from order_hub.secret_names import webhook_secret_name
from tests.integration.ingest import call_ingest, hub_with_one_order, order_rows, rows_and_events

SECRET = "whsec-test-demo"


@pytest.fixture
def hub(moto_hub_factory: MotoHubFactory) -> dict[str, Any]:
    secrets = {webhook_secret_name("demo"): {"hmac_secret": SECRET, "token": "static-token-for-pgi"}}
    return hub_with_one_order(moto_hub_factory, secrets)


def _order(hub: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(doc_text(order_rows(hub)["ORDER"]["doc"]))
    return doc


def test_signed_confirmation_then_pgi_close_the_order(hub: dict[str, Any]) -> None:
    status, body = call_ingest(signed_webhook_event("webhook_ingest/order_confirmation", SECRET))
    assert status == 200 and body["data"]["outcome"] == "applied" and body["data"]["so_status"] == "CREATED"

    status, body = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET))
    assert status == 200 and body["data"]["so_status"] == "CLOSED"
    order = _order(hub)
    assert order["shipments"][0]["awb"] == "JNE1234567890"
    assert order["shipments"][0]["items"][0]["batch_no"] == "B-2026-01"
    assert [line["qty_shipped"] for line in order["lines"]] == [2, 1]
    assert rows_and_events(hub)[1] == ["order.created", "order.status_changed", "order.shipped"]


def test_duplicate_pgi_is_acknowledged_and_changes_nothing(hub: dict[str, Any]) -> None:
    call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET))
    version = _order(hub)["version"]
    status, body = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET))
    assert status == 200 and body["data"]["outcome"] == "duplicate"
    assert _order(hub)["version"] == version and len(_order(hub)["shipments"]) == 1


def test_late_confirmation_after_pgi_does_not_move_back(hub: dict[str, Any]) -> None:
    call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET))
    status, body = call_ingest(signed_webhook_event("webhook_ingest/order_confirmation", SECRET))
    assert status == 200 and body["data"]["so_status"] == "CLOSED"
    assert _order(hub)["history"][-1]["applied"] is False


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: e.update(body=e["body"].replace("JNE1234567890", "JNE0000000000")),
        lambda e: e["headers"].update({"x-hub-signature": "v1=" + "0" * 64}),
        lambda e: e["headers"].pop("x-hub-signature"),
        lambda e: e["pathParameters"].update(tenant_id="someone-else"),
    ],
)
def test_bad_signatures_are_401_and_store_nothing(hub: dict[str, Any], tamper: Any) -> None:
    event = signed_webhook_event("webhook_ingest/pgi", SECRET)
    tamper(event)
    status, body = call_ingest(event)
    assert status == 401 and body["metadata"]["errors"][0]["code"] == 802
    assert rows_and_events(hub) == ({"ORDER"}, ["order.created"])


def test_stale_timestamp_is_401(hub: dict[str, Any]) -> None:
    import time

    status, _ = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET, at=int(time.time()) - 600))
    assert status == 401


def test_static_token_is_accepted_for_pgi(hub: dict[str, Any]) -> None:
    event = signed_webhook_event("webhook_ingest/pgi", SECRET)
    for name in ("x-hub-signature", "x-hub-timestamp"):
        event["headers"].pop(name)
    event["headers"]["x-webhook-token"] = "static-token-for-pgi"
    assert call_ingest(event)[0] == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"warehouse_id": "WH-TGR04"}, "doc_no"),
        (
            {"doc_no": "SO-2026-0001", "warehouse_id": "WH-TGR04", "delivery_no": "X", "carrier_name": "J", "details": []},
            "details",
        ),
    ],
)
def test_malformed_webhook_is_400_and_stores_nothing(hub: dict[str, Any], body: dict[str, Any], field: str) -> None:
    status, reply = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET, body=body))
    assert status == 400 and field in [e.get("field") for e in reply["metadata"]["errors"]]
    assert rows_and_events(hub) == ({"ORDER"}, ["order.created"])


@pytest.mark.parametrize("raw", ["{nope", "null", "[]"])
def test_signed_body_that_is_not_a_json_object_is_400(hub: dict[str, Any], raw: str) -> None:
    status, reply = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET, body=raw))
    assert status == 400 and reply["metadata"]["errors"][0]["code"] == 810


def test_pgi_for_an_unknown_order_is_kept(hub: dict[str, Any]) -> None:
    body = json.loads(signed_webhook_event("webhook_ingest/pgi", SECRET)["body"])
    body["doc_no"] = "NOT-YET-KNOWN"
    status, reply = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET, body=body))
    assert status == 202 and reply["data"]["outcome"] == "unmatched"
    client = boto3.client("dynamodb", region_name="us-east-1")
    inbox = client.get_item(
        TableName=hub["tables"]["OrdersTable"],
        Key={"pk": {"S": "INBOX#demo#PGI#WH-TGR04#NOT-YET-KNOWN#JNE1234567890"}, "sk": {"S": "INBOX"}},
    )
    assert "NOT-YET-KNOWN" in doc_text(inbox["Item"]["payload"])  # compressed like the order


def _inbox(hub: dict[str, Any], key: str) -> dict[str, Any] | None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    found = client.get_item(TableName=hub["tables"]["OrdersTable"], Key={"pk": {"S": f"INBOX#demo#{key}"}, "sk": {"S": "INBOX"}})
    item: dict[str, Any] | None = found.get("Item")
    return item


def test_a_pgi_sent_again_after_the_function_died_between_its_writes_is_applied_once(
    hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No transaction: the order change (with the webhook's mark), then the inbox row. The function dies
    after the first write; the vendor, without a 2xx, sends the PGI again: the change is there once, one
    ``order.shipped`` event, and the inbox row is stored by the retry."""
    from order_hub.adapters.aws import dynamodb_client

    client = dynamodb_client()
    real_put = client.put_item

    def dies_at_the_inbox_row(**request: Any) -> Any:
        if request["Item"]["pk"]["S"].startswith("INBOX#"):
            raise TimeoutError("the function stopped here")
        return real_put(**request)

    monkeypatch.setattr(client, "put_item", dies_at_the_inbox_row)
    status, _ = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET))
    monkeypatch.setattr(client, "put_item", real_put)
    assert status == 500
    crashed = _order(hub)
    assert crashed["status"] == "CLOSED" and len(crashed["shipments"]) == 1  # applied, not lost
    assert _inbox(hub, "PGI#WH-TGR04#SO-2026-0001#JNE1234567890") is None

    status, body = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET))

    assert status == 200 and body["data"]["outcome"] == "duplicate"
    assert _order(hub) == crashed  # not applied twice
    assert rows_and_events(hub)[1] == ["order.created", "order.shipped"]
    assert _inbox(hub, "PGI#WH-TGR04#SO-2026-0001#JNE1234567890") is not None


def test_a_webhook_change_is_two_plain_writes_and_a_duplicate_changes_nothing(hub: dict[str, Any]) -> None:
    from order_hub.adapters.aws import dynamodb_client

    calls: list[str] = []
    client = dynamodb_client()
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET))
    applied = [call for call in calls if call != "GetItem"]
    calls.clear()
    call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET))

    assert applied == ["PutItem", "PutItem"]  # the order, then the inbox row: no TransactWriteItems
    # a duplicate finds its mark on the order and only makes sure of its inbox row (a conditional put that fails)
    assert calls == ["GetItem", "PutItem"]
