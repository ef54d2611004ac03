from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from order_hub.http_api import validation_errors
from order_hub.models.api import CancelOrderRequest, CreateOrderRequest, ListQuery
from tests.payloads import cancel_body, order_body


def _fields(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        CreateOrderRequest.model_validate(body)
    return [entry["field"] for entry in validation_errors(caught.value.errors())]  # type: ignore[arg-type]


def test_a_complete_shipper_body_validates_with_exact_money() -> None:
    request = CreateOrderRequest.model_validate(order_body())
    assert request.payment.total_amount == Decimal("185000")
    assert request.items[1].discount == Decimal("5000")
    assert request.order_time is not None and request.order_time.utcoffset() is not None
    assert request.order_time.hour == 2  # 09:15 +07:00 stored as UTC


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"so_number": "S" * 51}, "so_number"),
        ({"so_number": "SO#1"}, "so_number"),
        ({"warehouse_id": "W" * 21}, "warehouse_id"),
        ({"order_identification_code": 2}, "order_identification_code"),
        ({"order_type": "XX"}, "order_type"),
        ({"platform": "AMAZON"}, "platform"),
        ({"consignee_phone": "call me"}, "consignee_phone"),
        ({"consignee_email": "not-an-email"}, "consignee_email"),
        ({"consignee_full_address": "x" * 401}, "consignee_full_address"),
        ({"order_time": "2026-11-23T09:15:00"}, "order_time"),
        ({"order_time": 0}, "order_time"),
        ({"items": []}, "items"),
        ({"items": [{"sku": "A", "qty": "2", "unit_price": 1}]}, "items[0].qty"),
        ({"items": [{"sku": "A", "qty": 1, "unit_price": "1.50"}]}, "items[0].unit_price"),
        ({"ext": {"is_priority": "true"}}, "ext.is_priority"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_each_bad_field_is_named(override: dict[str, Any], field: str) -> None:
    assert field in _fields(order_body(**override))


def test_missing_mandatory_fields_are_each_named() -> None:
    body = order_body()
    for name in ("customer_id", "tenant_name", "zipcode"):
        del body[name]
    assert {"customer_id", "tenant_name", "zipcode"} <= set(_fields(body))


def test_line_errors_point_at_the_line() -> None:
    body = order_body(items=[{"sku": "A", "qty": 0, "unit_price": 1}, {"sku": "B", "qty": 1, "unit_price": "1.005"}])
    assert {"items[0].qty", "items[1].unit_price"} <= set(_fields(body))


def test_line_discount_cannot_exceed_the_line_total() -> None:
    body = order_body(items=[{"sku": "A", "qty": 1, "unit_price": 10, "discount": 11}])
    assert "items[0]" in _fields(body)


def test_duplicate_line_ids_are_refused() -> None:
    body = order_body(
        items=[
            {"line_id": "X", "sku": "A", "qty": 1, "unit_price": 1},
            {"line_id": "X", "sku": "B", "qty": 1, "unit_price": 1},
        ]
    )
    assert _fields(body) == ["body"] or "body" in _fields(body)


@pytest.mark.parametrize(
    "payment",
    [
        {"method": "COD", "currency": "IDR", "total_amount": 10},
        {"method": "PREPAID", "currency": "IDR", "total_amount": 10, "cod_amount": 10},
        {"method": "CARD", "currency": "IDR", "total_amount": 10},
        {"method": "PREPAID", "currency": "idr", "total_amount": 10},
        {"method": "PREPAID", "currency": "IDR", "total_amount": -1},
    ],
)
def test_payment_rules(payment: dict[str, Any]) -> None:
    assert any(field.startswith("payment") for field in _fields(order_body(payment=payment)))


def test_cancel_body_is_the_seed_shape() -> None:
    parsed = CancelOrderRequest.model_validate(cancel_body())
    assert parsed.data.cancellation.cancel_reason == "buyer cancelled"
    with pytest.raises(ValidationError):
        CancelOrderRequest.model_validate({"cancellation": cancel_body()["data"]["cancellation"]})
    with pytest.raises(ValidationError):
        CancelOrderRequest.model_validate(cancel_body(reason="x" * 51))


def test_list_query_rejects_inverted_ranges_and_accepts_combined_ones() -> None:
    both = ListQuery.model_validate({"outbound_type": "OMS", "created_start": "2026-01-02", "updated_end": "2026-01-03"})
    assert both.created_start is not None and both.updated_end is not None
    with pytest.raises(ValidationError):
        ListQuery.model_validate({"outbound_type": "OMS", "created_start": "2026-01-05", "created_end": "2026-01-03"})
    assert ListQuery.model_validate({"outbound_type": "WMS"}).limit == 20
