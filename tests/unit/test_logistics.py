"""Shipper Logistics webhooks against in-memory fakes: status map, forward-only shipment state, AWB, auth."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from order_hub.errors import Unauthorized
from order_hub.models.api import CreateOrderRequest
from order_hub.models.logistics import LogisticsCreatedWebhook, LogisticsTrackingWebhook, state_for_code
from order_hub.models.order import Order, OrderEvent
from order_hub.models.status import ApiStatus
from order_hub.models.tenant import Tenant
from order_hub.models.wms import PgiWebhook
from order_hub.rendering import callbacks
from order_hub.services import orders
from order_hub.services.logistics import (
    expected_auth,
    ingest_logistics_created,
    ingest_logistics_tracking,
    locate,
    verify_logistics_auth,
)
from order_hub.services.webhooks import ingest_pgi
from tests.fakes import InMemoryOrderRepository
from tests.payloads import make_endpoint, order_body, pgi_body

WH, NO = "WH-TGR04", "SO-2026-0001"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
AWB = "JNE0001"
INCREFF_SETTINGS: dict[str, Any] = {
    "partner_code": "P-1",
    "partner_location_code": "PL-1",
    "location_codes": {WH: "LOC-TGR"},
    "channel_names": {"SHOPEE": "shopee"},
    "default_country": "ID",
}


def _now() -> datetime:
    return T0


def _create(tenant: Tenant, repo: InMemoryOrderRepository, taxed: bool = False) -> Order:
    items = order_body()["items"]
    if taxed:  # Increff needs GST lines to render shipments
        for item, per_unit, qty in zip(items, (7432.43, 3963.96), (2, 1), strict=True):
            tax = {
                "type": "PPN",
                "cost_head": "SELLING_PRICE",
                "rate": 11,
                "per_unit": per_unit,
                "total": round(per_unit * qty, 2),
            }
            item["ext"] = {"tax_lines": [tax]}
    return orders.create_order(tenant, CreateOrderRequest.model_validate(order_body(items=items)), repo).order


def _ship(repo: InMemoryOrderRepository, delivery_no: str = AWB) -> None:
    pgi = PgiWebhook.model_validate(pgi_body(WH, NO, delivery_no))
    assert ingest_pgi("acme", pgi, "{}", repo, _now).outcome == "applied"


def _tracking(code: int | None, at: datetime = T0, **overrides: Any) -> LogisticsTrackingWebhook:
    body: dict[str, Any] = {
        "auth": "x",
        "tracking_id": "2CQJADENEAU",
        "external_id": NO,
        "status_date": at.isoformat(),
        "external_status": {"code": code, "name": f"status {code}", "description": "d"},
        "awb": AWB,
        **overrides,
    }
    return LogisticsTrackingWebhook.model_validate(body)


def _track(repo: InMemoryOrderRepository, tenant: Tenant, code: int | None, at: datetime = T0, **overrides: Any) -> Any:
    return ingest_logistics_tracking("acme", tenant.warehouse_ids, _tracking(code, at, **overrides), "{}", repo, _now)


def _stored(repo: InMemoryOrderRepository) -> Order:
    order = repo.get("acme", WH, NO)
    assert order is not None
    return order


# -- the status map ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "state"),
    [
        (999, "CANCELLED"),
        (1000, "CONFIRMED"),
        (1001, "PICKED_UP"),
        (1044, "PICKED_UP"),
        (1360, "PICKED_UP"),
        (1050, "IN_TRANSIT"),
        (1190, "IN_TRANSIT"),
        (1310, "IN_TRANSIT"),
        (1330, "IN_TRANSIT"),
        (1340, "RETURNED"),
        (1370, "RETURNED"),
        (1380, "RETURNED"),
        (1410, "RETURNED"),
        (1420, "RETURNED"),
        (2000, "DELIVERED"),
        (2999, "DELIVERED"),
        (998, None),
        (1045, None),
        (1191, None),
        (1335, None),
        (1999, None),
        (0, None),
        (None, None),
    ],
)
def test_status_code_map(code: int | None, state: str | None) -> None:
    assert state_for_code(code) == state


# -- authentication ---------------------------------------------------------------------------


def test_md5_auth() -> None:
    secret = {"api_key": "k", "tracking_url": "https://hub.example.com/t"}
    good = hashlib.md5(b"khttps://hub.example.com/tjson").hexdigest()
    assert expected_auth("k", "https://hub.example.com/t") == good
    verify_logistics_auth(secret, good)
    verify_logistics_auth(secret, good.upper())  # hex digits in either case
    for offered in ("", None, "0" * 32, good[:-1], 12):
        with pytest.raises(Unauthorized):
            verify_logistics_auth(secret, offered)
    for broken in (None, {}, {"api_key": "k"}, {"tracking_url": "https://hub.example.com/t"}):
        with pytest.raises(Unauthorized):
            verify_logistics_auth(broken, good)
    with pytest.raises(Unauthorized):  # another registered URL is another digest
        verify_logistics_auth({**secret, "tracking_url": "https://hub.example.com/other"}, good)


# -- tracking ---------------------------------------------------------------------------------


def test_in_transit_then_delivered_update_the_shipment_not_the_order_status(
    tenant: Tenant, repo: InMemoryOrderRepository
) -> None:
    _create(tenant, repo)
    _ship(repo)
    result = _track(repo, tenant, 1100)
    assert result.outcome == "applied"
    assert repo.events[-1].type == "order.logistics_updated" and repo.events[-1].source == "logistics_webhook"
    shipment = _stored(repo).shipments[0]
    assert shipment.status == "IN_TRANSIT" and shipment.tracking_id == "2CQJADENEAU" and shipment.delivered_at is None
    assert shipment.logistics_status is not None and shipment.logistics_status.code == 1100

    later = T0 + timedelta(days=1)
    assert _track(repo, tenant, 2000, later).outcome == "applied"
    order = _stored(repo)
    assert repo.events[-1].type == "order.delivered"
    assert order.status == ApiStatus.CLOSED and order.shipments[0].status == "DELIVERED"
    assert order.shipments[0].delivered_at == later and order.courier.tracking_id
    assert [fact.applied for fact in order.logistics] == [True, True]


def test_duplicate_update_is_idempotent(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    _ship(repo)
    _track(repo, tenant, 1100)
    version, events = _stored(repo).version, len(repo.events)
    assert _track(repo, tenant, 1100).outcome == "duplicate"
    assert _stored(repo).version == version and len(repo.events) == events


def test_delivered_then_in_transit_does_not_regress(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    _ship(repo)
    _track(repo, tenant, 2000, T0 + timedelta(hours=5))
    result = _track(repo, tenant, 1100, T0)  # late
    assert result.outcome == "recorded" and result.notes and "DELIVERED" in result.notes[0]
    order = _stored(repo)
    assert order.shipments[0].status == "DELIVERED" and repo.events[-1].type == "order.fact_recorded"
    assert order.logistics[-1].applied is False
    version = order.version
    # another late in-transit of the same code: recorded once, nothing new on the order
    assert _track(repo, tenant, 1100, T0 + timedelta(minutes=1)).outcome == "recorded"
    assert _stored(repo).version == version
    # delivered again (another status_date): nothing new either
    assert _track(repo, tenant, 2001, T0 + timedelta(hours=6)).outcome == "recorded"
    assert _stored(repo).version == version


def test_older_update_at_the_same_rank_and_lower_rank_are_late(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    _ship(repo)
    _track(repo, tenant, 1150, T0 + timedelta(hours=2))
    assert _track(repo, tenant, 1100, T0 + timedelta(hours=1)).outcome == "recorded"
    assert _track(repo, tenant, 1001, T0 + timedelta(hours=3)).outcome == "recorded"  # picked up after in transit
    shipment = _stored(repo).shipments[0]
    assert shipment.status == "IN_TRANSIT" and shipment.logistics_status is not None and shipment.logistics_status.code == 1150
    assert _track(repo, tenant, 1160, T0 + timedelta(hours=4)).outcome == "applied"  # newer, same rank


def test_delivered_before_shipped_is_recorded_not_applied(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    result = _track(repo, tenant, 2000)
    assert result.outcome == "recorded" and "before the order shipped" in result.notes[0]
    order = _stored(repo)
    assert order.status == ApiStatus.REGISTERED and not order.shipments
    assert repo.events[-1].type == "order.fact_recorded" and order.logistics[-1].applied is False
    # once shipped, the same courier news applies (a new status_date is a new fact)
    _ship(repo)
    assert _track(repo, tenant, 2000, T0 + timedelta(hours=1)).outcome == "applied"


def test_delivered_for_a_cancelled_order_with_a_shipment_is_refused(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    order = _create(tenant, repo)
    _ship(repo)
    stored = _stored(repo)
    repo.orders[("acme", WH, NO)] = stored.model_copy(update={"status": ApiStatus.CANCELLED})
    result = _track(repo, tenant, 2000)
    assert result.outcome == "recorded" and "CANCELLED" in result.notes[0]
    assert _stored(repo).shipments[0].status == "SHIPPED" and order.order_no == NO


def test_unknown_code_is_recorded_with_its_raw_status(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    _ship(repo)
    result = _track(repo, tenant, 1234)
    assert result.outcome == "recorded" and result.notes == ("unknown status code 1234",)
    order = _stored(repo)
    assert order.shipments[0].status == "SHIPPED"
    fact = order.logistics[-1]
    assert (fact.code, fact.name, fact.state, fact.applied) == (1234, "status 1234", "", False)
    assert _track(repo, tenant, None, external_status=None).notes == ("unknown status code None",)


def test_unknown_order_and_unknown_tenant_warehouses_are_kept_unmatched(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    assert _track(repo, tenant, 1100, external_id="NOT-YET").outcome == "unmatched"
    assert _track(repo, tenant, 1100, external_id="NOT-YET").outcome == "duplicate"
    assert _track(repo, tenant, 1100, external_id="").outcome == "duplicate"  # the natural key has no external_id
    assert _track(repo, tenant, 1100, T0 + timedelta(hours=1), external_id="").outcome == "unmatched"
    assert len(repo.inbox) == 2


def test_locate_needs_exactly_one_warehouse(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    assert locate(repo, "acme", tenant.warehouse_ids, NO) == WH
    assert locate(repo, "acme", [], NO) is None
    orders.create_order(tenant, CreateOrderRequest.model_validate(order_body(warehouse_id="WH-CGK09")), repo)
    assert locate(repo, "acme", tenant.warehouse_ids, NO) is None  # ambiguous: stored unmatched


# -- created confirmation and the PGI's AWB ---------------------------------------------------


def _created(repo: InMemoryOrderRepository, tenant: Tenant, express_no: str = AWB, success: bool = True) -> Any:
    payload = LogisticsCreatedWebhook.model_validate({"order_no": NO, "express_no": express_no, "success_flag": success})
    return ingest_logistics_created("acme", tenant.warehouse_ids, payload, "{}", repo, _now)


@pytest.mark.parametrize("created_first", [True, False])
def test_created_confirmation_and_pgi_converge_on_one_shipment(
    tenant: Tenant, repo: InMemoryOrderRepository, created_first: bool
) -> None:
    _create(tenant, repo)
    if created_first:
        assert _created(repo, tenant).outcome == "applied"
        _ship(repo)
    else:
        _ship(repo)
        assert _created(repo, tenant).outcome == "applied"
    order = _stored(repo)
    assert order.courier.awb == AWB and [s.awb for s in order.shipments] == [AWB]
    assert "order.logistics_updated" in [e.type for e in repo.events]
    assert _created(repo, tenant).outcome == "duplicate"
    assert _track(repo, tenant, 1100, awb="").outcome == "applied"  # found through the order's logistics AWB
    assert _stored(repo).shipments[0].status == "IN_TRANSIT"


def test_created_confirmation_with_another_awb_than_the_pgi_is_noted(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    _ship(repo, delivery_no="WMS-DN-1")
    result = _created(repo, tenant, express_no="JNE777")
    assert result.outcome == "applied" and "differs" in result.notes[0]
    assert _track(repo, tenant, 1100, awb="JNE777").outcome == "applied"  # the latest shipment
    order = _stored(repo)
    assert [s.awb for s in order.shipments] == ["WMS-DN-1"] and order.shipments[0].status == "IN_TRANSIT"


def test_created_confirmation_without_success_changes_nothing(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    result = _created(repo, tenant, success=False)
    assert result.outcome == "recorded" and _stored(repo).courier.awb == "" and _stored(repo).version == 1


# -- emission ---------------------------------------------------------------------------------


def _delivered_event(tenant: Tenant, repo: InMemoryOrderRepository) -> tuple[OrderEvent, OrderEvent]:
    _create(tenant, repo, taxed=True)
    _ship(repo)
    _track(repo, tenant, 1100)
    in_transit = repo.events[-1]
    _track(repo, tenant, 2000, T0 + timedelta(days=1))
    return in_transit, repo.events[-1]


def test_emission_of_logistics_events(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    in_transit, delivered = _delivered_event(tenant, repo)
    assert {
        fmt: [callbacks.emits(fmt, e) for e in (in_transit, delivered)]
        for fmt in ("shipper", "increff", "unicommerce", "standard")
    } == {
        "shipper": [False, False],
        "increff": [False, True],
        "unicommerce": [False, False],
        "standard": [True, True],
    }


def test_standard_carries_the_raw_logistics_status(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    in_transit, delivered = _delivered_event(tenant, repo)
    body = callbacks.render(make_endpoint("standard"), delivered).body
    assert body["type"] == "order.delivered"
    assert body["data"]["logistics"] == {
        "kind": "tracking",
        "external_status": {"code": 2000, "name": "status 2000", "description": "d"},
        "status_date": "2026-11-24T10:00:00.000Z",
        "state": "DELIVERED",
        "applied": True,
        "note": "",
        "tracking_id": "2CQJADENEAU",
        "awb": AWB,
        "shipment_code": f"{NO}-1",
    }
    assert body["data"]["order"]["outbound"]["shipments"][0]["status"] == "DELIVERED"
    assert callbacks.render(make_endpoint("standard"), in_transit).body["data"]["logistics"]["external_status"]["code"] == 1100
    assert "logistics" not in callbacks.render(make_endpoint("standard"), repo.events[0]).body["data"]


def test_increff_shipment_deliver(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _, delivered = _delivered_event(tenant, repo)
    rendered = callbacks.render(make_endpoint("increff", **INCREFF_SETTINGS), delivered)
    body = rendered.body
    assert rendered.kind == body["eventType"] == "OUTWARD_ORDER_SHIPMENT_DELIVER"
    assert body["orderCode"] == NO and body["messageId"] == delivered.seq
    assert [(s["shipmentCode"], s["shipmentStatus"]) for s in body["shipments"]] == [(f"{NO}-1", "DELIVERED")]
    assert [i["quantity"] for i in body["shipments"][0]["shipmentItems"]] == [2, 1]


def test_status_date_is_kept_in_utc_so_the_same_instant_is_one_fact(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    _ship(repo)
    assert _track(repo, tenant, 1100, T0).outcome == "applied"
    payload = _tracking(1100, status_date="2026-11-23T17:00:00+07:00")
    assert payload.status_date == T0 and payload.status_date.tzinfo == UTC
    assert ingest_logistics_tracking("acme", tenant.warehouse_ids, payload, "{}", repo, _now).outcome == "duplicate"
    naive = _tracking(1100, status_date="2026-11-23T10:00:00")
    assert naive.status_date == T0
