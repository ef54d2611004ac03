"""DynamoDB's 400 KB item limit at the edge (issue 12 item 2), through the handlers under moto.

moto refuses an item over 400 KB with a ValidationException, as AWS does; before the size check
those reached the client as 500s. Here every too-large order is a 400/810 before any write, and an
accepted order takes its PGI (one detail per line, batch and serial at their caps).
"""

from __future__ import annotations

import json
import random
import string
from typing import Any

import pytest

from local_stack.harness import signed_webhook_event
from local_stack.testkit import MotoHubFactory
from order_hub.adapters.dynamodb import ITEM_LIMIT_BYTES, item_size
from order_hub.edge import MAX_BODY_BYTES
from order_hub.jsonutil import doc_text
from order_hub.secret_names import webhook_secret_name
from tests.integration.conftest import Hub, Invoke
from tests.integration.ingest import call_ingest, hub_with_one_order, order_rows, rows_and_events
from tests.sizes import big_order, issue_line, largest_accepted

SECRET = "whsec-test-size"
PK = "ORDER#acme#WH-TGR04#SO-2026-0001"


@pytest.mark.parametrize("lines", [219, 300])
def test_an_order_too_large_to_store_is_a_400_naming_size_and_limit_and_nothing_is_written(
    hub: Hub, invoke: Invoke, lines: int
) -> None:
    invoke("list_orders")  # warms the auth cache
    hub.calls.clear()

    reply = invoke("create_order", body=big_order(lines))

    assert reply.status == 400 and reply.codes == [810] and reply.fields == ["items"]
    message = reply.body["metadata"]["errors"][0]["message"]
    assert "bytes" in message and f"{ITEM_LIMIT_BYTES:,} bytes" in message
    assert hub.raw_items(PK) == []
    assert "TransactWriteItems" not in hub.calls and "PutItem" not in hub.calls


def test_a_500_line_order_is_over_the_body_limit_413_naming_it_and_nothing_is_written(hub: Hub, invoke: Invoke) -> None:
    # 1.6 MB of JSON: refused by its size before authentication or parsing (order_hub.edge.MAX_BODY_BYTES)
    reply = invoke("create_order", body=big_order(500))

    assert reply.status == 413 and reply.codes == [810] and reply.fields == ["body"]
    assert f"{MAX_BODY_BYTES // 1024} KB" in reply.body["metadata"]["errors"][0]["message"]
    assert hub.raw_items(PK) == []


def test_the_size_limit_is_the_same_for_an_update(invoke: Invoke, hub: Hub) -> None:
    assert invoke("create_order", body=big_order(2)).status == 200
    reply = invoke("update_order", body=big_order(219))
    assert reply.status == 400 and reply.codes == [810] and reply.fields == ["items"]
    stored = json.loads(doc_text(next(i for i in hub.raw_items(PK) if i["sk"]["S"] == "ORDER")["doc"]))
    assert len(stored["lines"]) == 2 and stored["version"] == 1


def test_text_caps_count_utf8_bytes(invoke: Invoke, hub: Hub) -> None:
    # 400 characters pass the 400-character cap; in UTF-8 they are 1,200 bytes
    reply = invoke("create_order", body=big_order(1, consignee_full_address="€" * 400))
    assert reply.status == 400 and reply.codes == [810] and reply.fields == ["consignee_full_address"]
    assert "1200 bytes" in reply.body["metadata"]["errors"][0]["message"]
    body = big_order(1)
    body["ext"] = {"invoice": {"number": "INV-1", "qr_code": "ü" * 150_000}}
    reply = invoke("create_order", body=body)
    assert reply.status == 400 and reply.codes == [810] and reply.fields == ["ext.invoice.qr_code"]
    body["ext"]["invoice"]["qr_code"] = "ü" * 2000  # 4,000 bytes: at the cap
    assert invoke("create_order", body=body).status == 200
    assert hub.raw_items(PK)


# -- an accepted order and its PGI ------------------------------------------------------------------
@pytest.fixture
def webhook_hub(moto_hub_factory: MotoHubFactory) -> dict[str, Any]:
    secrets = {webhook_secret_name("demo"): {"hmac_secret": SECRET, "token": "static-token"}}
    return hub_with_one_order(moto_hub_factory, secrets)


def _create(hub: dict[str, Any], body: dict[str, Any]) -> int:
    from functions.orders_api.app import lambda_handler as orders_api
    from local_stack.harness import FakeContext, api_event

    response = orders_api(api_event("orders_api/create_order", hub["key"], body=body), FakeContext())
    return int(response["statusCode"])


def pgi_for(body: dict[str, Any], awb: str = "JNE9000000001") -> dict[str, Any]:
    """Shipper's PGI with one detail per line, batch and serial numbers at their caps (64 bytes)."""
    pick = random.Random(awb)
    template = json.loads(signed_webhook_event("webhook_ingest/pgi", SECRET)["body"])
    detail = template["details"][0]
    details = [
        {
            **detail,
            "sku": item["sku"],
            "qty_shipped": item["qty"],
            "batch_no": "".join(pick.choices(string.ascii_uppercase + string.digits, k=64)),
            "serial_no": "".join(pick.choices(string.ascii_uppercase + string.digits, k=64)),
            "mfg_date": "2026-01-10",
            "exp_date": "2027-01-10",
        }
        for item in body["items"]
    ]
    return {**template, "doc_no": body["so_number"], "so_reference_b": body["so_number"], "delivery_no": awb, "details": details}


def test_the_213_line_order_is_stored_and_takes_a_pgi_with_one_detail_per_line(webhook_hub: dict[str, Any]) -> None:
    body = big_order(213, so_number="SO-BIG-213")
    assert _create(webhook_hub, body) == 200
    pgi = pgi_for(body)
    assert len(json.dumps(pgi)) > 33_000

    status, reply = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET, body=pgi))

    assert status == 200 and reply["data"]["so_status"] == "CLOSED", reply
    rows = order_rows(webhook_hub, "ORDER#demo#WH-TGR04#SO-BIG-213")
    order = json.loads(doc_text(rows["ORDER"]["doc"]))
    (shipment,) = order["shipments"]
    assert len(shipment["items"]) == 213 and shipment["items_omitted"] == 0
    assert [item["serial_no"] for item in shipment["items"]] == [d["serial_no"] for d in pgi["details"]]
    assert all(line["qty_shipped"] == line["qty_ordered"] for line in order["lines"])
    assert max(item_size(row) for row in rows.values()) <= ITEM_LIMIT_BYTES
    # a repeat changes nothing; a second PGI (another AWB) is recorded without a 500
    status, reply = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET, body=pgi))
    assert status == 200 and reply["data"]["outcome"] == "duplicate"
    status, _ = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET, body=pgi_for(body, "JNE9000000002")))
    assert status == 200
    rows = order_rows(webhook_hub, "ORDER#demo#WH-TGR04#SO-BIG-213")
    assert max(item_size(row) for row in rows.values()) <= ITEM_LIMIT_BYTES


def test_the_largest_accepted_order_is_one_line_short_of_a_refusal(webhook_hub: dict[str, Any]) -> None:
    most = largest_accepted(issue_line)
    assert 213 <= most < 219
    assert _create(webhook_hub, big_order(most + 1, so_number="SO-TOO-BIG")) == 400
    assert order_rows(webhook_hub, "ORDER#demo#WH-TGR04#SO-TOO-BIG") == {}
    assert _create(webhook_hub, big_order(most, so_number="SO-LARGEST")) == 200


def test_a_pgi_text_over_its_byte_cap_is_a_400_naming_the_field(webhook_hub: dict[str, Any]) -> None:
    pgi = json.loads(signed_webhook_event("webhook_ingest/pgi", SECRET)["body"])
    pgi["details"][0]["batch_no"] = "é" * 150_000
    status, reply = call_ingest(signed_webhook_event("webhook_ingest/pgi", SECRET, body=pgi))
    assert status == 400 and reply["metadata"]["errors"][0]["code"] == 810
    assert "details[0].batch_no" in [error.get("field") for error in reply["metadata"]["errors"]]
    assert rows_and_events(webhook_hub) == ({"ORDER"}, ["order.created"])
