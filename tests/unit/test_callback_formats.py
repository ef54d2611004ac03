"""The four callback formats: field by field against the vendor seeds, emission tables, judges, signatures."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from order_hub.models.api import Cancellation, CreateOrderRequest
from order_hub.models.endpoints import FORMATS, Endpoint, EndpointFormat
from order_hub.models.order import EventType, Order, OrderEvent, ShipmentItem
from order_hub.models.status import ApiStatus
from order_hub.models.tenant import Tenant
from order_hub.models.wms import OrderConfirmationWebhook, PgiWebhook
from order_hub.rendering import callbacks
from order_hub.rendering.callbacks import MissingField, Rendered, increff, standard
from order_hub.rendering.callbacks.base import Verdict
from order_hub.services import orders
from order_hub.services.forwarding import forward_order
from order_hub.services.orders import make_event
from order_hub.services.status import Fact, apply_fact, remainder_cancelled
from order_hub.services.webhooks import ingest_order_confirmation, ingest_pgi, ship
from tests.fakes import FakeWms, InMemoryOrderRepository
from tests.payloads import SHIPPER_PGI_FIELDS, make_endpoint, order_body

WH, NO = "WH-TGR04", "SO-2026-0001"
T_001 = datetime(2020, 10, 16, 20, 22, 28, tzinfo=UTC)  # seed 001's orderTime / eventTime
T_003_ORDER = datetime(2021, 8, 17, 14, 2, 42, tzinfo=UTC)  # seed 003's orderDate
T_003_DISPATCH = datetime(2021, 8, 17, 14, 3, 54, tzinfo=UTC)  # seed 003's dispatchTime
QR_CODE = "eyJhbGciPiJSUzI1NiIsImtpZCI6IkI4RDYzRUNCMThFQTVFNkY0QUKDM0Q1MjQ1NDNCMjI0NjY2OUIwRjgiLCJ0eXAiOiJKV1QifQ." + "x" * 800


def _render(endpoint: Endpoint, event: OrderEvent) -> Rendered:
    """Render through the public API; the body must survive the sender's ``json.dumps`` unchanged."""
    rendered = callbacks.render(endpoint, event)
    assert json.loads(json.dumps(rendered.body)) == rendered.body
    return rendered


def _create(tenant: Tenant, repo: InMemoryOrderRepository, at: datetime = T_001, **overrides: Any) -> Order:
    request = CreateOrderRequest.model_validate(order_body(**overrides))
    return orders.create_order(tenant, request, repo, now=lambda: at).order


def _shipped(
    order: Order,
    items: list[ShipmentItem],
    at: datetime,
    code: str | None = None,
    awb: str = "AWB-1",
    carrier: tuple[str, str] = ("JNE", "JNE REG"),
) -> OrderEvent:
    """The ``order.shipped`` event of a PGI (the webhook service's own ``ship``), optionally renaming the shipment."""
    changed, event_type, _ = ship(order, awb, carrier[0], carrier[1], at, items, "wms_pgi", lambda: at)
    assert changed is not None
    if code is not None:
        shipments = [*changed.shipments[:-1], changed.shipments[-1].model_copy(update={"shipment_code": code})]
        changed = changed.model_copy(update={"shipments": shipments})
    return make_event(changed, event_type, "wms_pgi", order)


def _event(order: Order, event_type: EventType, previous: ApiStatus | None = None, seq: int | None = None) -> OrderEvent:
    event = make_event(order, event_type, "api")
    return event.model_copy(update={"previous_status": previous, "seq": order.version if seq is None else seq})


# ================================================================================================
# Increff (seed 001)
# ================================================================================================

# The seed's sample, the parts an order can reproduce (virtualSkuDefinitions and the unknown
# per-item discounts/charges are not modelled; orderItems contradicts shipmentItems: see below).
SAMPLE_001_HEADER: dict[str, Any] = {
    "partnerCode": "1100013090",
    "partnerLocationCode": "9",
    "locationCode": "IN132",
    "orderCode": "flipkart1234",
    "parentOrderCode": "flipkart1221",
    "isPriority": False,
    "channelName": "flipkart",
    "orderTime": "2020-10-16T20:22:28.000+00:00",
    "messageId": 12345,
    "paymentMethod": "COD",
    "eventType": "OUTWARD_ORDER_COMPLETE",
    "eventTime": "2020-10-16T20:22:28.000+00:00",
    "shippingCharges": 20,
    "channelType": "ERP",
}
SAMPLE_001_SHIPMENT_ITEMS: list[dict[str, Any]] = [
    {
        "channelSkuCode": code,
        "orderItemCode": item,
        "netTaxAmountPerUnit": 60,
        "netTaxAmountTotal": 120,
        "baseSellingPricePerUnit": 500,
        "baseSellingPriceTotal": 1000,
        "sellingPricePerUnit": 560,
        "sellingPriceTotal": 1120,
        "quantity": 2,
        "taxItems": [
            {"type": "SGST", "rate": 6, "taxPerUnit": 30, "taxTotal": 60},
            {"type": "CGST", "rate": 6, "taxPerUnit": 30, "taxTotal": 60},
        ],
    }
    for item, code in (("item123", "100000789702"), ("item124", "100000734701"))
]
SAMPLE_001_SHIPPING = {
    "name": "Customer's Name",
    "line1": "Line Address 1",
    "line2": "Line Address 2",
    "line3": "Line Address 3",
    "city": "city",
    "state": "state",
    "zip": "zip",
    "country": "country",
    "email": "abc@gmail.com",
    "phone": "9999999999",
}
SAMPLE_001_BILLING = {
    "name": "customer",
    "line1": "address line 1",
    "line2": "address line 2",
    "line3": "address line 3",
    "city": "Bengaluru",
    "state": "Karnataka",
    "zip": "560076",
    "country": "INDIA",
    "email": "abc@gmail.com",
    "phone": "9999999999",
}
INCREFF_MANDATORY = {
    "partnerCode",
    "partnerLocationCode",
    "isPriority",
    "locationCode",
    "orderCode",
    "channelName",
    "orderTime",
    "orderType",
    "messageId",
    "paymentMethod",
    "eventType",
    "eventTime",
    "isSplitRequired",
    "orderItems",
    "shipments",
    "shippingAddress",
    "billingAddress",
}
INCREFF_ITEM_MANDATORY = {"orderItemCode", "channelSkuCode", "orderedQuantity", "cancelledQuantity", "sellingPricePerUnit"}
INCREFF_SHIPMENT_ITEM_MANDATORY = {
    "channelSkuCode",
    "orderItemCode",
    "netTaxAmountPerUnit",
    "netTaxAmountTotal",
    "baseSellingPricePerUnit",
    "baseSellingPriceTotal",
    "sellingPricePerUnit",
    "sellingPriceTotal",
    "quantity",
    "taxItems",
}
INCREFF_ADDRESS_MANDATORY = {"name", "line1", "city", "state", "zip", "country"}


def _gst(
    rate: int, per_unit: float, qty: int, types: tuple[str, ...] = ("SGST", "CGST"), head: str = "SELLING_PRICE"
) -> list[dict[str, Any]]:
    return [{"type": t, "cost_head": head, "rate": rate, "per_unit": per_unit, "total": round(per_unit * qty, 2)} for t in types]


def _seed_001_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "so_number": "flipkart1234",
        "platform": "ERP",
        "consignee": "Customer's Name",
        "consignee_phone": "9999999999",
        "consignee_email": "abc@gmail.com",
        "consignee_full_address": "Line Address 1\nLine Address 2\nLine Address 3",
        "consignee_state": "state",
        "consignee_province": "state",
        "consignee_city": "city",
        "zipcode": "zip",
        "order_time": "2020-10-16T20:22:28.000+00:00",
        "payment": {"method": "COD", "currency": "INR", "total_amount": 2260, "cod_amount": 2260, "buyer_paid_shipping_fee": 20},
        "items": [
            {
                "line_id": line_id,
                "sku": f"SKU-{line_id}",
                "qty": 2,
                "unit_price": 560,
                "ext": {"channel_sku_code": code, "tax_lines": _gst(6, 30, 2)},
            }
            for line_id, code in (("item123", "100000789702"), ("item124", "100000734701"))
        ],
        "ext": {
            "partner_code": "1100013090",
            "partner_location_code": "9",
            "location_code": "IN132",
            "parent_order_no": "flipkart1221",
            "is_priority": False,
            "channel_name": "flipkart",
            "channel_type": "ERP",
            "billing_address": {
                "name": "customer",
                "line1": "address line 1",
                "line2": "address line 2\naddress line 3",
                "city": "Bengaluru",
                "state": "Karnataka",
                "zip": "560076",
                "country": "INDIA",
                "email": "abc@gmail.com",
                "phone": "9999999999",
            },
            "invoice": {
                "number": "AR105044395",
                "date": "2020-10-16",
                "url": "https://mybrand.com/invoice123.pdf",
                "irn": "a429746e55b844c9d2cb2a6f68997d1c2af29987cc834f3b52da45d1b0bc97c9",
                "qr_code": QR_CODE,
            },
        },
    }
    body.update(overrides)
    return body


def _seed_001_complete(tenant: Tenant, repo: InMemoryOrderRepository) -> OrderEvent:
    order = _create(tenant, repo, **_seed_001_body())
    items = [ShipmentItem(sku="SKU-item123", qty=2), ShipmentItem(sku="SKU-item124", qty=2)]
    return _shipped(order, items, T_001, code="UIfd897").model_copy(update={"seq": 12345})


def test_increff_complete_reproduces_the_seed_sample(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    rendered = _render(make_endpoint("increff", default_country="country"), _seed_001_complete(tenant, repo))
    body = rendered.body
    assert rendered.kind == "OUTWARD_ORDER_COMPLETE" and rendered.dedupe_key == "12345" and rendered.path == ""
    assert body.keys() >= INCREFF_MANDATORY
    assert {key: body[key] for key in SAMPLE_001_HEADER} == SAMPLE_001_HEADER
    # Documented differences: the sample's "SO/STO/RTV" lists the choices; isSplitRequired is a real boolean.
    assert body["orderType"] == "SO"
    assert body["isSplitRequired"] is False

    for item in body["orderItems"]:
        assert item.keys() == INCREFF_ITEM_MANDATORY
    assert [(i["orderItemCode"], i["orderedQuantity"], i["cancelledQuantity"]) for i in body["orderItems"]] == [
        ("item123", 2, 0),
        ("item124", 2, 0),
    ]

    [shipment] = body["shipments"]
    assert shipment["shipmentCode"] == "UIfd897"
    assert shipment["shipmentItems"] == SAMPLE_001_SHIPMENT_ITEMS  # every mandatory key, the sample's values
    assert shipment["shipmentItems"][0].keys() == INCREFF_SHIPMENT_ITEM_MANDATORY
    assert shipment["generatedInvoiceId"] == "AR105044395"
    assert shipment["invoiceDocumentUrl"] == "https://mybrand.com/invoice123.pdf"
    assert shipment["irn"] == "a429746e55b844c9d2cb2a6f68997d1c2af29987cc834f3b52da45d1b0bc97c9"
    assert shipment["qrCode"] == QR_CODE  # longer than 255: the one exempt string
    # Documented differences: the invoice has a date only; the shipment is DISPATCHED (the sample
    # shows a later, DELIVERED posting); the shipment's location is the order's warehouse.
    assert shipment["generatedInvoiceDate"] == "2020-10-16T00:00:00.000+00:00"
    assert shipment["shipmentStatus"] == "DISPATCHED"
    assert shipment["locationCode"] == "IN132"

    assert body["shippingAddress"] == SAMPLE_001_SHIPPING
    assert body["billingAddress"] == SAMPLE_001_BILLING
    for address in (body["shippingAddress"], body["billingAddress"]):
        assert address.keys() >= INCREFF_ADDRESS_MANDATORY


def test_increff_order_items_reproduce_the_sample_on_a_partial_cancel(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    """The sample's orderItems entry (2 ordered, 1 cancelled at 500): the WMS cancels, then one unit ships anyway."""
    item = {"line_id": "item123", "sku": "SKU-123", "qty": 2, "unit_price": 500}
    item["ext"] = {"channel_sku_code": "1000889888", "tax_lines": _gst(6, 26.79, 2)}
    order = _create(tenant, repo, **_seed_001_body(items=[item]))
    cancelled = apply_fact(order, Fact("poller", T_001, ApiStatus.CANCELLED, "CLOSED")).order
    assert cancelled is not None
    event = _shipped(cancelled, [ShipmentItem(sku="SKU-123", qty=1)], T_001)
    assert event.type == "order.shipped" and event.order.status == ApiStatus.CANCELLED

    body = _render(make_endpoint("increff", default_country="IN"), event).body
    assert body["eventType"] == "OUTWARD_ORDER_PARTIAL_CANCEL"
    assert body["orderItems"] == [
        {
            "orderItemCode": "item123",
            "channelSkuCode": "1000889888",
            "orderedQuantity": 2,
            "cancelledQuantity": 1,
            "sellingPricePerUnit": 500,
        }
    ]
    [shipment_item] = body["shipments"][0]["shipmentItems"]
    assert shipment_item["quantity"] == 1 and shipment_item["baseSellingPricePerUnit"] == 446.42
    assert shipment_item["netTaxAmountTotal"] == 53.58


def _lines_order(tenant: Tenant, repo: InMemoryOrderRepository) -> Order:
    """The default test order (two lines), with tax lines so that shipments render."""
    items = order_body()["items"]
    items[0]["ext"] = {"tax_lines": _gst(11, 7432.43, 2, ("PPN",))}
    items[1]["ext"] = {"tax_lines": _gst(11, 3963.96, 1, ("PPN",))}
    return _create(tenant, repo, items=items)


INCREFF_SETTINGS: dict[str, Any] = {
    "partner_code": "P-1",
    "partner_location_code": "PL-1",
    "location_codes": {WH: "LOC-TGR"},
    "channel_names": {"SHOPEE": "shopee"},
    "default_country": "ID",
}


def test_increff_event_type_table(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    endpoint = make_endpoint("increff", **INCREFF_SETTINGS)
    order = _lines_order(tenant, repo)
    full = [ShipmentItem(sku="TSHIRT-BLK-M", qty=2), ShipmentItem(sku="CAP-RED", qty=1)]
    api_cancelled = orders.cancel_order(tenant, Cancellation(order_no=NO, warehouse_id=WH, cancel_reason="buyer"), repo).order
    wms_cancelled = apply_fact(order, Fact("poller", T_001, ApiStatus.CANCELLED, "CANCELLED")).order
    allocated = apply_fact(order, Fact("poller", T_001, ApiStatus.ALLOCATED, "ALLOCATED")).order
    assert wms_cancelled is not None and allocated is not None
    rest_cancelled = remainder_cancelled(
        _shipped(order, full[:1], T_001).order, Fact("poller", T_001, ApiStatus.CANCELLED, "CLOSED")
    )
    assert rest_cancelled is not None and rest_cancelled.status == ApiStatus.CLOSED

    cases: list[tuple[OrderEvent, str | None]] = [
        (_event(order, "order.created"), "OUTWARD_ORDER_CREATE"),
        (_event(api_cancelled, "order.cancelled", ApiStatus.REGISTERED), "OUTWARD_ORDER_CANCEL"),
        (_event(wms_cancelled, "order.status_changed", ApiStatus.REGISTERED), "OUTWARD_ORDER_CANCEL"),
        (_shipped(order, full, T_001), "OUTWARD_ORDER_COMPLETE"),
        (_shipped(order, full[:1], T_001), "OUTWARD_ORDER_SHIPMENT_DISPATCH"),
        (_shipped(wms_cancelled, full[:1], T_001), "OUTWARD_ORDER_PARTIAL_CANCEL"),
        (_event(rest_cancelled, "order.partially_cancelled", ApiStatus.CLOSED), "OUTWARD_ORDER_PARTIAL_CANCEL"),
        (_event(allocated, "order.status_changed", ApiStatus.REGISTERED), None),
        (_event(order, "order.updated", ApiStatus.REGISTERED), None),
        (_event(order, "order.forwarded", ApiStatus.REGISTERED), None),
        (_event(order, "order.fact_recorded", ApiStatus.REGISTERED), None),
        (_event(order, "order.forward_failed", ApiStatus.REGISTERED), None),
    ]
    for event, expected in cases:
        assert callbacks.emits("increff", event) is (expected is not None), event.type
        if expected is None:
            with pytest.raises(ValueError):
                callbacks.render(endpoint, event)
            continue
        body = _render(endpoint, event).body
        assert body["eventType"] == expected, event.type
        if expected == "OUTWARD_ORDER_CREATE":
            assert body["shipments"] == []
        if expected == "OUTWARD_ORDER_CANCEL":  # cancelledQuantity is absolute: every unshipped unit
            assert [i["cancelledQuantity"] for i in body["orderItems"]] == [2, 1]
            assert body["shipments"] == []
        if expected == "OUTWARD_ORDER_SHIPMENT_DISPATCH":
            assert [i["cancelledQuantity"] for i in body["orderItems"]] == [0, 0]
            assert [s["orderItemCode"] for s in body["shipments"][0]["shipmentItems"]] == [f"{NO}-1"]
        if expected == "OUTWARD_ORDER_PARTIAL_CANCEL":
            assert [i["cancelledQuantity"] for i in body["orderItems"]] == [0, 1]
            assert [i["quantity"] for i in body["shipments"][0]["shipmentItems"]] == [2]


def test_increff_unknown_event_types_send_nothing_and_deliver_is_sent(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    order = _lines_order(tenant, repo)
    shipped = _shipped(order, [ShipmentItem(sku="TSHIRT-BLK-M", qty=2), ShipmentItem(sku="CAP-RED", qty=1)], T_001)
    delivered_order = shipped.order.model_copy(
        update={"shipments": [shipped.order.shipments[0].model_copy(update={"status": "DELIVERED"})]}
    )
    updated = shipped.model_copy(update={"type": "order.logistics_updated", "order": delivered_order})
    assert not callbacks.emits("increff", updated)
    with pytest.raises(ValueError):
        callbacks.render(make_endpoint("increff", **INCREFF_SETTINGS), updated)

    delivered = shipped.model_copy(update={"type": "order.delivered", "order": delivered_order})
    body = _render(make_endpoint("increff", **INCREFF_SETTINGS), delivered).body
    assert body["eventType"] == "OUTWARD_ORDER_SHIPMENT_DELIVER"
    assert body["shipments"][0]["shipmentStatus"] == "DELIVERED"


def test_increff_message_id_is_the_deliverys_number_else_the_event_seq(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    endpoint = make_endpoint("increff", **INCREFF_SETTINGS)
    order = _lines_order(tenant, repo)
    for seq in (1, 2, 9_007_199_254_740_993):  # a Long, beyond a double's exact range
        event = _event(order, "order.created", seq=seq)
        first, again = callbacks.render(endpoint, event), callbacks.render(endpoint, event)
        assert first.body["messageId"] == seq and first.dedupe_key == str(seq)
        assert first == again  # a retry sends the same posting
        # The worker passes the delivery's number from the endpoint's counter (unique across orders).
        numbered = callbacks.render(endpoint, event, message_id=70_001)
        assert numbered.body["messageId"] == 70_001 and numbered.dedupe_key == "70001"
        assert {**numbered.body, "messageId": seq} == first.body
    shipped = _shipped(order, [ShipmentItem(sku="CAP-RED", qty=1)], T_001)
    for fmt in ("shipper", "standard"):  # the other formats ignore it
        assert callbacks.render(make_endpoint(fmt), shipped, message_id=5) == callbacks.render(make_endpoint(fmt), shipped)


def test_increff_values_and_choices(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    """Settings fill what the order lacks; prepaid is NCOD; TT is STO; billing defaults to shipping."""
    order = _lines_order(tenant, repo).model_copy(update={"order_type": "TT"})
    order = order.model_copy(update={"payment": order.payment.model_copy(update={"method": "PREPAID", "cod_amount": None})})
    body = _render(make_endpoint("increff", **INCREFF_SETTINGS, channel_type="MARKETPLACE"), _event(order, "order.created")).body
    assert (body["partnerCode"], body["partnerLocationCode"], body["locationCode"], body["channelName"]) == (
        "P-1",
        "PL-1",
        "LOC-TGR",
        "shopee",
    )
    assert body["channelType"] == "MARKETPLACE" and "parentOrderCode" not in body
    assert body["paymentMethod"] == "NCOD" and body["orderType"] == "STO" and body["isPriority"] is False
    assert body["orderTime"] == "2026-11-23T02:15:00.000+00:00"  # +07:00 on create, UTC here
    assert body["orderItems"][0] == {
        "orderItemCode": f"{NO}-1",
        "channelSkuCode": "TSHIRT-BLK-M",  # no channel SKU code: the SKU
        "orderedQuantity": 2,
        "cancelledQuantity": 0,
        "sellingPricePerUnit": 75000,
    }
    assert body["shippingAddress"] == {
        "name": "Budi Santoso",
        "line1": "Jl. Jend. Sudirman No. 1, Senayan, Jakarta Selatan",
        "line2": "",
        "line3": "",
        "city": "Jakarta Selatan",
        "state": "DKI Jakarta",  # no consignee_state: the province
        "zip": "12190",
        "country": "ID",
        "email": "budi@example.co.id",
        "phone": "+62 812-3456-7890",
    }
    assert body["billingAddress"] == body["shippingAddress"]


def test_increff_order_ext_wins_over_settings(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    ext = {"partner_code": "EXT-P", "location_code": "EXT-LOC", "channel_name": "ext-channel", "consignee_country_code": "SG"}
    order = _create(tenant, repo, ext=ext)
    body = _render(make_endpoint("increff", **INCREFF_SETTINGS), _event(order, "order.created")).body
    assert (body["partnerCode"], body["partnerLocationCode"], body["locationCode"]) == ("EXT-P", "PL-1", "EXT-LOC")
    assert body["channelName"] == "ext-channel" and body["shippingAddress"]["country"] == "SG"


def test_increff_missing_codes_and_tax_lines_are_named(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    order = _create(tenant, repo)
    with pytest.raises(MissingField) as missing:
        callbacks.render(make_endpoint("increff"), _event(order, "order.created"))
    assert missing.value.fields == [
        "settings.partner_code",
        "settings.partner_location_code",
        f"settings.location_codes[{WH}]",
        "settings.channel_names[SHOPEE]",
        "settings.default_country",
    ]
    assert "settings.partner_code" in str(missing.value)

    # A create needs no tax; a shipment does, for every shipped line (never invented).
    assert (
        callbacks.render(make_endpoint("increff", **INCREFF_SETTINGS), _event(order, "order.created")).kind
        == "OUTWARD_ORDER_CREATE"
    )
    shipped = _shipped(order, [ShipmentItem(sku="TSHIRT-BLK-M", qty=2), ShipmentItem(sku="CAP-RED", qty=1)], T_001)
    with pytest.raises(MissingField) as missing:
        callbacks.render(make_endpoint("increff", **INCREFF_SETTINGS), shipped)
    assert missing.value.fields == ["lines[0].ext.tax_lines", "lines[1].ext.tax_lines"]

    # Shipping tax alone is not item tax.
    items = order_body()["items"]
    for item in items:
        item["ext"] = {"tax_lines": _gst(11, 10, item["qty"], ("PPN",), head="SHIPPING_CHARGES")}
    repo2 = InMemoryOrderRepository()
    only_shipping_tax = _create(tenant, repo2, items=items)
    shipped = _shipped(only_shipping_tax, [ShipmentItem(sku="CAP-RED", qty=1)], T_001)
    with pytest.raises(MissingField) as missing:
        callbacks.render(make_endpoint("increff", **INCREFF_SETTINGS), shipped)
    assert missing.value.fields == ["lines[1].ext.tax_lines"]


def test_increff_strings_stay_within_255(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    long_address = ", ".join(f"Blok {n} Jalan Panjang Sekali Nomor {n}" for n in range(11))[:400]
    billing = {"name": "B", "line1": "a" * 200 + " " + "b" * 199, "line2": "c" * 150, "city": "X", "state": "S", "zip": "1"}
    order = _create(tenant, repo, consignee_full_address=long_address, ext={"billing_address": billing})
    body = _render(make_endpoint("increff", **INCREFF_SETTINGS), _event(order, "order.created")).body
    shipping = body["shippingAddress"]
    assert shipping["line1"] and shipping["line2"] and all(len(shipping[k]) <= 255 for k in ("line1", "line2", "line3"))
    assert " ".join(shipping[k] for k in ("line1", "line2", "line3")).split() == long_address.split()
    assert [body["billingAddress"][k] for k in ("line1", "line2", "line3")] == ["a" * 200, "b" * 199, "c" * 150]

    # Address text that cannot fit three lines, or an identifier over 255, fails naming the field.
    billing_too_long = {**billing, "line1": "x " * 200, "line2": "y " * 200}
    repo2 = InMemoryOrderRepository()
    order = _create(tenant, repo2, ext={"billing_address": billing_too_long})
    with pytest.raises(MissingField) as too_long:
        callbacks.render(make_endpoint("increff", **INCREFF_SETTINGS), _event(order, "order.created"))
    assert too_long.value.fields == ["billingAddress.line1"]

    settings = {**INCREFF_SETTINGS, "location_codes": {WH: "L" * 256}}
    order = _lines_order(tenant, InMemoryOrderRepository())
    shipped = _shipped(order, [ShipmentItem(sku="CAP-RED", qty=1)], T_001)
    with pytest.raises(increff.TooLong) as too_long:
        callbacks.render(make_endpoint("increff", **settings), shipped)
    assert too_long.value.fields == ["locationCode", "shipments[0].locationCode"]
    assert "255" in str(too_long.value)


def test_increff_billing_address_sources(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    billing = {"name": "Kantor", "line1": "Jl. A 1", "city": "Bandung", "state_code": "JB", "zip": "40111", "country_code": "ID"}
    order = _create(tenant, repo, ext={"billing_address": billing})
    body = _render(make_endpoint("increff", **INCREFF_SETTINGS), _event(order, "order.created")).body
    assert body["billingAddress"] == {
        "name": "Kantor",
        "line1": "Jl. A 1",
        "line2": "",
        "line3": "",
        "city": "Bandung",
        "state": "JB",
        "zip": "40111",
        "country": "ID",
        "email": "",
        "phone": "",
    }


# ================================================================================================
# Unicommerce (seed 003)
# ================================================================================================

SAMPLE_003: dict[str, Any] = {
    "saleOrderID": "SO00937",
    "shipmentCode": "VARAAA07998",
    "orderDate": "2021-08-17T14:02:42",
    "orderStatus": "COMPLETE",
    "channelCode": "CUSTOM",
    "paymentType": "PREPAID",
    "currencyCode": "INR",
    "trackingNumber": "111232232323",
    "shippingProviderName": "testga",
    "shippingCourierName": "TESTGA",
    "dispatchTime": "2021-08-17T14:03:54",
    "facilityCode": "varad",
    "invoiceDetails": {
        "invoiceNumber": "IRS00482",
        "invoiceDate": "2021-08-17T14:03:54",
        "invoiceItems": [
            {
                "product": "dettol1",
                "description": "Dettol",
                "skuCode": "dettol1",
                "hsnCode": "1234567",
                "quantity": "1",
                "bundleSku": None,
                "orderItems": [
                    {
                        "orderItemId": "SOI111",
                        "serialNumber": "ACB3434",
                        "orderItemPrice": {
                            "cashOnDeliveryCharges": 0,
                            "sellingPrice": 549,
                            "shippingCharges": 32.37,
                            "discount": 0,
                            "totalPrice": 549,
                            "transferPrice": 0,
                        },
                        "giftWrap": {"giftWrapMessage": None, "giftWrapCharges": 0},
                        "bundleIdentifier": None,
                    }
                ],
                "taxBreakUp": [
                    {
                        "costHead": "SELLING_PRICE",
                        "integratedGst": 14.24,
                        "unionTerritoryGst": 0,
                        "stateGst": 0,
                        "centralGst": 0,
                        "centralGstPercentage": 0,
                        "stateGstPercentage": 0,
                        "unionTerritoryGstPercentage": 0,
                        "integratedGstPercentage": 5,
                    },
                    {
                        "costHead": "SHIPPING_CHARGES",
                        "integratedGst": 0.84,
                        "unionTerritoryGst": 0,
                        "stateGst": 0,
                        "centralGst": 0,
                        "centralGstPercentage": 0,
                        "stateGstPercentage": 0,
                        "unionTerritoryGstPercentage": 0,
                        "integratedGstPercentage": 5,
                    },
                ],
            }
        ],
    },
    "shippingAddress": {
        "addressLine1": "Test",
        "addressLine2": "address lime 2",
        "city": "Delhi",
        "country": "India",
        "email": "test@gmail.com",
        "name": "Test name",
        "phone": "9809833333",
        "pincode": "110001",
        "state": "DL",
    },
    "billingAddress": {
        "addressLine1": "Test",
        "addressLine2": "address lime 2",
        "city": "Delhi",
        "country": "India",
        "email": "test@gmail.com",
        "name": "Test name",
        "phone": "9809833333",
        "pincode": "110001",
        "state": "DL",
    },
}


def _seed_003_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "so_number": "SO00937",
        "platform": "",
        "consignee": "Test name",
        "consignee_phone": "9809833333",
        "consignee_email": "test@gmail.com",
        "consignee_full_address": "Test\naddress lime 2",
        "consignee_province": "Delhi",
        "consignee_city": "Delhi",
        "zipcode": "110001",
        "order_time": "2021-08-17T14:02:42+00:00",
        "payment": {"method": "PREPAID", "currency": "INR", "total_amount": 581.37, "buyer_paid_shipping_fee": 32.37},
        "items": [
            {
                "line_id": "SOI111",
                "sku": "dettol1",
                "name": "Dettol",
                "qty": 1,
                "unit_price": 549,
                "ext": {
                    "hsn_code": "1234567",
                    "tax_lines": [
                        {"type": "IGST", "cost_head": "SELLING_PRICE", "rate": 5, "per_unit": 14.24, "total": 14.24},
                        {"type": "IGST", "cost_head": "SHIPPING_CHARGES", "rate": 5, "per_unit": 0.84, "total": 0.84},
                    ],
                },
            }
        ],
        "ext": {
            "facility_code": "varad",
            "channel_code": "CUSTOM",
            "consignee_state_code": "DL",
            "consignee_country_code": "IN",
            "invoice": {"number": "IRS00482", "date": "2021-08-17"},
        },
    }
    body.update(overrides)
    return body


def _seed_003_dispatch(tenant: Tenant, repo: InMemoryOrderRepository, **overrides: Any) -> OrderEvent:
    order = _create(tenant, repo, at=T_003_ORDER, **_seed_003_body(**overrides))
    items = [ShipmentItem(sku="dettol1", qty=1, serial_no="ACB3434")]
    return _shipped(order, items, T_003_DISPATCH, code="VARAAA07998", awb="111232232323", carrier=("TESTGA", "testga"))


def test_unicommerce_dispatch_reproduces_the_seed_sample(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    rendered = _render(make_endpoint("unicommerce"), _seed_003_dispatch(tenant, repo))
    assert rendered.kind == "dispatch" and rendered.dedupe_key == "VARAAA07998"
    assert rendered.path == "/v1/shipment/VARAAA07998"

    expected = copy.deepcopy(SAMPLE_003)
    # Documented differences: quantity is the table's integer; country is a code (the table says
    # "country code not name"); the invoice date is a date (midnight).
    expected["invoiceDetails"]["invoiceItems"][0]["quantity"] = 1
    expected["shippingAddress"]["country"] = expected["billingAddress"]["country"] = "IN"
    expected["invoiceDetails"]["invoiceDate"] = "2021-08-17T00:00:00"
    assert rendered.body == expected
    assert list(rendered.body) == list(expected)  # the seed's key order too


def test_unicommerce_settings_and_billing_address(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    ext = _seed_003_body()["ext"]
    del ext["facility_code"], ext["channel_code"], ext["consignee_country_code"]
    ext["billing_address"] = {
        "name": "Acme Pvt Ltd",
        "line1": "Plot 4, Sector 18",
        "city": "Noida",
        "state_code": "UP",
        "zip": "201301",
        "country_code": "IN",
    }
    settings: dict[str, Any] = {"facility_codes": {WH: "DEL6"}, "channel_codes": {"": "CUSTOM"}, "default_country": "IN"}
    event = _seed_003_dispatch(tenant, repo, ext=ext)
    body = _render(make_endpoint("unicommerce", **settings, unicommerce_order_status="DISPATCHED"), event).body
    assert (body["facilityCode"], body["channelCode"], body["orderStatus"]) == ("DEL6", "CUSTOM", "DISPATCHED")
    assert body["shippingAddress"]["country"] == "IN"  # settings.default_country, a two-letter code
    assert body["billingAddress"] == {
        "addressLine1": "Plot 4, Sector 18",
        "addressLine2": "",
        "city": "Noida",
        "country": "IN",
        "email": "",
        "name": "Acme Pvt Ltd",
        "phone": "",
        "pincode": "201301",
        "state": "UP",
    }


def test_unicommerce_missing_values_are_named_all_at_once(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    order = _create(tenant, repo)  # an Indonesian order without any extension fields
    event = _shipped(order, [ShipmentItem(sku="TSHIRT-BLK-M", qty=2), ShipmentItem(sku="CAP-RED", qty=1)], T_001)
    with pytest.raises(MissingField) as missing:
        callbacks.render(make_endpoint("unicommerce", default_country="Indonesia"), event)  # a name, not a code
    assert missing.value.fields == [
        f"settings.facility_codes[{WH}]",
        "settings.channel_codes[SHOPEE]",
        "ext.invoice",
        "lines[0].ext.hsn_code",
        "lines[0].ext.tax_lines",
        "lines[1].ext.hsn_code",
        "lines[1].ext.tax_lines",
        "ext.consignee_country_code",
        "ext.consignee_state_code",
    ]

    # Only the shipped lines need HSN and GST; a non-GST tax type cannot be expressed; the invoice needs its date.
    items = _seed_003_body()["items"] + [{"line_id": "SOI112", "sku": "soap", "qty": 1, "unit_price": 10}]
    items[0]["ext"]["tax_lines"][1]["type"] = "VAT"
    ext = {**_seed_003_body()["ext"], "invoice": {"number": "IRS00483"}}
    with pytest.raises(MissingField) as missing:
        callbacks.render(
            make_endpoint("unicommerce"), _seed_003_dispatch(tenant, InMemoryOrderRepository(), items=items, ext=ext)
        )
    assert missing.value.fields == ["ext.invoice.date", "lines[0].ext.tax_lines[1].type"]


def test_unicommerce_multi_unit_lines_discounts_and_later_shipments(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    items = _seed_003_body()["items"]
    items[0].update(qty=3, discount=10)
    items[0]["ext"]["tax_lines"] = _gst(9, 41.85, 3, ("CGST", "SGST"))
    order = _create(tenant, repo, at=T_003_ORDER, **_seed_003_body(items=items))
    first = _shipped(
        order,
        [ShipmentItem(sku="dettol1", qty=1, serial_no="S1"), ShipmentItem(sku="dettol1", qty=1, serial_no="S2")],
        T_003_DISPATCH,
    )
    item = _render(make_endpoint("unicommerce"), first).body["invoiceDetails"]["invoiceItems"][0]
    assert item["quantity"] == 2
    [order_item] = item["orderItems"]
    assert order_item["serialNumber"] == "S1,S2"
    assert order_item["orderItemPrice"] == {
        "cashOnDeliveryCharges": 0,
        "sellingPrice": 1098,
        "shippingCharges": 32.37,  # the order's shipping fee, on its first shipment
        "discount": 6.67,  # 10 for 3 units, pro rata for 2
        "totalPrice": 1091.33,
        "transferPrice": 0,
    }
    assert item["taxBreakUp"] == [
        {
            "costHead": "SELLING_PRICE",
            "integratedGst": 0,
            "unionTerritoryGst": 0,
            "stateGst": 83.7,
            "centralGst": 83.7,
            "centralGstPercentage": 9,
            "stateGstPercentage": 9,
            "unionTerritoryGstPercentage": 0,
            "integratedGstPercentage": 0,
        }
    ]
    second = _shipped(first.order, [ShipmentItem(sku="dettol1", qty=1)], T_003_DISPATCH, awb="AWB-2")
    rendered = _render(make_endpoint("unicommerce"), second)
    assert rendered.dedupe_key == f"{'SO00937'}-2" and rendered.path == "/v1/shipment/SO00937-2"
    assert rendered.body["invoiceDetails"]["invoiceItems"][0]["orderItems"][0]["orderItemPrice"]["shippingCharges"] == 0


# ================================================================================================
# Shipper
# ================================================================================================

PGI_KEYS = SHIPPER_PGI_FIELDS
PGI_DETAIL_KEYS = [
    "sku",
    "qty_shipped",
    "mfg_date",
    "exp_date",
    "stock_condition",
    "batch_no",
    "serial_no",
    "receipt_date",
    "user_define_1",
    "user_define_2",
    "user_define_3",
    "project_ref_no",
]


def _through_the_hub(tenant: Tenant, repo: InMemoryOrderRepository) -> list[OrderEvent]:
    """Create, forward (the WMS accepts: REGISTERED -> CREATED), confirm, PGI: the events the outbox holds."""
    _create(tenant, repo, at=T_001)
    forward_order(tenant.tenant_id, WH, NO, repo, FakeWms(), now=lambda: T_001)
    confirmation = OrderConfirmationWebhook(order_no=NO, warehouse_id=WH, wms_order_no="WMSO-1", so_status="OPEN")
    ingest_order_confirmation(tenant.tenant_id, confirmation, "{}", repo, now=lambda: T_001)
    pgi = PgiWebhook.model_validate(
        {
            "warehouse_id": WH,
            "doc_no": NO,
            "delivery_no": "JNE0001",
            "carrier_id": "JNE",
            "carrier_name": "JNE REG",
            "pgi_date": "2026-11-23 12:04:14",
            "details": [
                {
                    "sku": "TSHIRT-BLK-M",
                    "qty_shipped": 2,
                    "batch_no": "B1",
                    "serial_no": "S1",
                    "stock_condition": "N",
                    "exp_date": "2027-01-31",
                },
                {"sku": "CAP-RED", "qty_shipped": 1},
            ],
        }
    )
    ingest_pgi(tenant.tenant_id, pgi, "{}", repo, now=lambda: T_001)
    return repo.events


def test_shipper_pgi_has_every_field_and_round_trips_through_the_inbound_model(
    tenant: Tenant, repo: InMemoryOrderRepository
) -> None:
    shipped = _through_the_hub(tenant, repo)[-1]
    assert shipped.type == "order.shipped"
    rendered = _render(make_endpoint("shipper"), shipped)
    body = rendered.body
    assert rendered.kind == "pgi" and rendered.dedupe_key == f"{NO}#JNE0001" and rendered.path == ""
    assert list(body) == PGI_KEYS
    assert all(list(detail) == PGI_DETAIL_KEYS for detail in body["details"])
    assert {k: body[k] for k in PGI_KEYS if k != "details"} == {
        "warehouse_id": WH,
        "order_type": "SO",
        "doc_no": NO,
        "delivery_no": "JNE0001",
        "carrier_id": "JNE",
        "carrier_name": "JNE REG",
        "customer_id": "CS674",
        "so_reference_a": "WMSO-1",
        "so_reference_b": NO,
        "user_define_1": "",
        "user_define_2": "",
        "user_define_3": "",
        "pgi_date": "2026-11-23 12:04:14",
        "shop_code": "SHOPEE",
    }
    assert body["details"][0] == {
        "sku": "TSHIRT-BLK-M",
        "qty_shipped": 2,
        "mfg_date": "",
        "exp_date": "2027-01-31",
        "stock_condition": "N",
        "batch_no": "B1",
        "serial_no": "S1",
        "receipt_date": "",
        "user_define_1": "",
        "user_define_2": "",
        "user_define_3": "",
        "project_ref_no": "",
    }

    parsed = PgiWebhook.model_validate(json.loads(json.dumps(body)))
    assert (parsed.warehouse_id, parsed.doc_no, parsed.delivery_no, parsed.carrier_id, parsed.carrier_name) == (
        WH,
        NO,
        "JNE0001",
        "JNE",
        "JNE REG",
    )
    assert parsed.customer_id == "CS674" and parsed.pgi_date == datetime(2026, 11, 23, 12, 4, 14, tzinfo=UTC)
    assert [(d.sku, d.qty_shipped, d.batch_no, d.serial_no, d.stock_condition) for d in parsed.details] == [
        ("TSHIRT-BLK-M", 2, "B1", "S1", "N"),
        ("CAP-RED", 1, "", "", ""),
    ]
    # Fed back into the hub's own PGI ingestion (a second hub), it produces the same shipment.
    other = InMemoryOrderRepository()
    _create(tenant, other, at=T_001)
    ingest_pgi(tenant.tenant_id, parsed, json.dumps(body), other, now=lambda: T_001)
    again = other.events[-1].order.shipments[-1]
    original = shipped.order.shipments[-1]
    assert (again.awb, again.carrier_id, again.carrier_name, again.pgi_at, again.items) == (
        original.awb,
        original.carrier_id,
        original.carrier_name,
        original.pgi_at,
        original.items,
    )


def test_shipper_order_confirmation(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    created, forwarded, *_ = _through_the_hub(tenant, repo)
    assert forwarded.type == "order.forwarded" and forwarded.previous_status == ApiStatus.REGISTERED
    rendered = _render(make_endpoint("shipper"), forwarded)
    assert rendered.kind == "order_confirmation" and rendered.dedupe_key == f"{WH}#{NO}#confirmation"
    assert rendered.body == {
        "warehouse_id": WH,
        "order_type": "SO",
        "doc_no": NO,
        "customer_id": "CS674",
        "so_status": "CREATED",
        "wms_order_no": "WMSO-1",
        "confirm_date": "2020-10-16 20:22:28",
        "shop_code": "SHOPEE",
        "details": [{"sku": "TSHIRT-BLK-M", "qty_ordered": 2}, {"sku": "CAP-RED", "qty_ordered": 1}],
    }
    with pytest.raises(ValueError):
        callbacks.render(make_endpoint("shipper"), created)


def test_emission_table_over_a_real_order_life(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    events = _through_the_hub(tenant, repo)
    assert [e.type for e in events] == ["order.created", "order.forwarded", "order.shipped"]  # the confirmation changed nothing
    table = {fmt: [callbacks.emits(fmt, e) for e in events] for fmt in FORMATS}
    assert table == {
        "shipper": [False, True, True],
        "increff": [True, False, True],
        "unicommerce": [False, False, True],
        "standard": [True, True, True],
    }


def test_shipper_confirmation_only_when_leaving_registered(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    order = _create(tenant, repo)
    created = order.model_copy(update={"status": ApiStatus.CREATED})
    allocated = order.model_copy(update={"status": ApiStatus.ALLOCATED})
    cancelled = order.model_copy(update={"status": ApiStatus.CANCELLED})
    cases = [
        (_event(created, "order.status_changed", ApiStatus.REGISTERED), True),  # confirmation webhook / poll
        (_event(allocated, "order.status_changed", ApiStatus.REGISTERED), True),  # first news is already ALLOCATED
        (_event(allocated, "order.status_changed", ApiStatus.CREATED), False),
        (_event(cancelled, "order.cancelled", ApiStatus.REGISTERED), False),
        (_event(order, "order.updated", ApiStatus.REGISTERED), False),
        (_event(order, "order.created"), False),
        (_event(created, "order.fact_recorded", ApiStatus.CREATED), False),
    ]
    assert [callbacks.emits("shipper", event) for event, _ in cases] == [expected for _, expected in cases]
    # A PGI for an order never confirmed: the PGI, not a confirmation.
    unconfirmed = _shipped(order, [ShipmentItem(sku="CAP-RED", qty=1)], T_001)
    assert unconfirmed.previous_status == ApiStatus.REGISTERED
    assert callbacks.render(make_endpoint("shipper"), unconfirmed).kind == "pgi"


def test_unicommerce_and_shipper_pgi_need_a_shipment(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    order = _create(tenant, repo).model_copy(update={"status": ApiStatus.CLOSED})
    no_shipment = _event(order, "order.shipped", ApiStatus.PACKED)
    assert not callbacks.emits("unicommerce", no_shipment) and not callbacks.emits("shipper", no_shipment)
    with pytest.raises(ValueError):
        callbacks.render(make_endpoint("unicommerce"), no_shipment)
    for event_type in ("order.created", "order.cancelled", "order.status_changed", "order.updated"):
        assert not callbacks.emits("unicommerce", _event(order, event_type, ApiStatus.CREATED))


# ================================================================================================
# Standard Webhooks
# ================================================================================================


def test_standard_body_and_every_event_type(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    events = _through_the_hub(tenant, repo)
    for event in events:
        assert callbacks.emits("standard", event)
        rendered = _render(make_endpoint("standard"), event)
        assert rendered.kind == event.type and rendered.dedupe_key == event.event_id
        body = rendered.body
        assert body["type"] == event.type and body["timestamp"] == "2020-10-16T20:22:28.000Z"
        data = body["data"]
        assert {k: data[k] for k in data if k != "order"} == {
            "event_id": event.event_id,
            "seq": event.seq,
            "source": event.source,
            "previous_status": event.previous_status.value if event.previous_status else None,
            "tenant_id": "acme",
            "warehouse_id": WH,
            "order_no": NO,
            "status": event.order.status.value,
        }
        outbound = data["order"]["outbound"]
        assert outbound["order_no"] == NO and outbound["so_status"] == event.order.status.value
        assert outbound["details"][0]["unit_price"] == 75000 and outbound["total_amount"] == 185000  # numbers, not Decimal
    shipped = _render(make_endpoint("standard"), events[-1]).body["data"]
    assert shipped["order"]["outbound"]["shipments"][0]["awb"] == "JNE0001"
    assert shipped["previous_status"] == "CREATED" and shipped["status"] == "CLOSED"


def test_standard_signature_verifies_with_the_reference_implementation(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    secret = standard.new_secret()
    assert secret.startswith("whsec_") and secret != standard.new_secret()
    assert 24 <= len(__import__("base64").b64decode(secret.removeprefix("whsec_"))) <= 32
    event = _through_the_hub(tenant, repo)[-1]
    body = json.dumps(_render(make_endpoint("standard"), event).body, separators=(",", ":"), ensure_ascii=False).encode()
    msg_id, timestamp = f"{event.event_id}.ep-standard", int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard.sign(secret, msg_id, timestamp, body),
    }
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers)["data"]["event_id"] == event.event_id

    with pytest.raises(WebhookVerificationError):
        Webhook(standard.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"JNE0001", b"JNE0002"), headers)


def test_standard_signature_known_vector() -> None:
    """The Standard Webhooks spec's example secret and message: our value equals the reference library's."""
    secret, msg_id, timestamp = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330
    body = b'{"test": 2432232314}'
    expected = Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode())
    assert standard.sign(secret, msg_id, timestamp, body) == expected == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


# ================================================================================================
# Judges
# ================================================================================================

JUDGE_CASES: list[tuple[EndpointFormat, int, str, str, str]] = [
    # format, status, body, outcome, reason starts with
    ("shipper", 200, "", "delivered", "HTTP 200"),
    ("shipper", 204, "garbage", "delivered", "HTTP 204"),
    ("shipper", 200, '{"metadata":{"http_status_code":500}}', "delivered", "HTTP 200"),  # body ignored
    ("shipper", 301, "", "retry", "HTTP 301"),
    ("shipper", 400, "", "retry", "HTTP 400"),
    ("shipper", 410, "", "retry", "HTTP 410"),
    ("shipper", 503, "", "retry", "HTTP 503"),
    ("increff", 200, '{"hasError": false, "errorMessage": "message"}', "delivered", "HTTP 200"),
    ("increff", 200, "", "delivered", "HTTP 200"),
    ("increff", 200, "OK", "delivered", "HTTP 200"),
    ("increff", 200, '{"hasError": true, "errorMessage": "SKU not found"}', "retry", "hasError: SKU not found"),
    ("increff", 202, '{"hasError": true}', "retry", "hasError: (no errorMessage)"),
    ("increff", 200, '{"hasError": "true"}', "delivered", "HTTP 200"),  # only a real true is an error
    ("increff", 400, '{"hasError": true, "errorMessage": "bad orderCode"}', "retry", "HTTP 400: bad orderCode"),
    ("increff", 401, "", "retry", "HTTP 401"),
    ("increff", 410, "", "retry", "HTTP 410"),
    ("increff", 500, "<html>\n oops </html>", "retry", "HTTP 500: <html> oops </html>"),
    ("unicommerce", 200, '{"successful": true, "message": "ok", "errors": [], "warnings": []}', "delivered", "HTTP 200"),
    (
        "unicommerce",
        200,
        '{"successful": false, "errors": [{"code": 1, "message": "Invalid facility"}]}',
        "retry",
        "not successful: Invalid facility",
    ),
    (
        "unicommerce",
        200,
        '{"successful": false, "errors": [{"code": 1, "description": "desc only"}]}',
        "retry",
        "not successful: desc only",
    ),
    ("unicommerce", 200, '{"successful": false, "message": "Order not found"}', "retry", "not successful: Order not found"),
    ("unicommerce", 200, "", "retry", "not successful: (no message)"),
    ("unicommerce", 200, '{"successful": "true"}', "retry", "not successful"),
    ("unicommerce", 401, '{"status": "FAILED", "errorMessage": "Bad credentials"}', "retry", "HTTP 401: Bad credentials"),
    ("unicommerce", 404, "", "retry", "HTTP 404"),
    ("unicommerce", 500, '{"successful": false, "errors": [{"message": "boom"}]}', "retry", "HTTP 500: boom"),
    ("standard", 200, "", "delivered", "HTTP 200"),
    ("standard", 204, "", "delivered", "HTTP 204"),
    ("standard", 299, "", "delivered", "HTTP 299"),
    ("standard", 410, "Gone", "failed", "gone"),
    ("standard", 301, "", "failed", "redirect not followed"),
    ("standard", 307, "", "failed", "redirect not followed"),
    ("standard", 400, "bad", "failed", "HTTP 400: bad"),
    ("standard", 401, "", "failed", "HTTP 401"),
    ("standard", 403, "", "failed", "HTTP 403"),
    ("standard", 404, "", "failed", "HTTP 404"),
    ("standard", 413, "", "failed", "HTTP 413"),
    ("standard", 408, "", "retry", "HTTP 408"),
    ("standard", 409, "", "retry", "HTTP 409"),
    ("standard", 425, "", "retry", "HTTP 425"),
    ("standard", 429, "slow down", "retry", "HTTP 429: slow down"),
    ("standard", 500, "", "retry", "HTTP 500"),
    ("standard", 502, "", "retry", "HTTP 502"),
    ("standard", 503, "", "retry", "HTTP 503"),
    ("standard", 100, "", "retry", "HTTP 100"),
]


@pytest.mark.parametrize(("fmt", "status", "body", "outcome", "reason"), JUDGE_CASES)
def test_judge(fmt: EndpointFormat, status: int, body: str, outcome: str, reason: str) -> None:
    verdict = callbacks.judge(fmt, status, body)
    assert isinstance(verdict, Verdict)
    assert verdict.outcome == outcome
    assert verdict.reason.startswith(reason), verdict.reason
    assert len(verdict.reason) <= 300


def test_judge_reasons_are_short() -> None:
    for fmt in FORMATS:
        assert len(callbacks.judge(fmt, 500, "x" * 10_000).reason) <= 300


# ================================================================================================
# The package
# ================================================================================================


def test_amounts_are_json_numbers() -> None:
    from order_hub.rendering.callbacks.base import number

    assert number(Decimal("20")) == 20 and isinstance(number(Decimal("20.00")), int)
    assert number(Decimal("32.37")) == 32.37


def test_the_package_imports_formats_lazily() -> None:
    import subprocess
    import sys

    code = (
        "import sys, order_hub.rendering.callbacks as c; "
        "loaded = [m for m in sys.modules if m.startswith('order_hub.rendering.callbacks.')]; "
        "assert loaded == ['order_hub.rendering.callbacks.base'], loaded; "
        "assert 'requests' not in sys.modules and 'boto3' not in sys.modules; "
        "c.judge('increff', 200, ''); assert 'order_hub.rendering.callbacks.increff' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
