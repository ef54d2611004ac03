"""Status authority, forwarding, webhooks and polling against in-memory fakes."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from order_hub.errors import ConcurrentModification, TransitionRefused, Unauthorized, WarehouseUnavailable, WmsUnavailable
from order_hub.models.api import Cancellation, CreateOrderRequest
from order_hub.models.order import Order
from order_hub.models.status import ApiStatus
from order_hub.models.tenant import Tenant
from order_hub.models.wms import OrderConfirmationWebhook, PgiWebhook, WmsLine
from order_hub.rendering.api_views import create_body
from order_hub.services import orders
from order_hub.services.forwarding import forward_order
from order_hub.services.polling import poll_warehouse
from order_hub.services.status import Fact, apply_fact
from order_hub.services.webhooks import NO_OPEN_QUANTITY, ingest_order_confirmation, ingest_pgi, verify_webhook
from tests.fakes import FakeWms, InMemoryOrderRepository, InMemoryTenantDirectory
from tests.payloads import order_body

WH, NO = "WH-TGR04", "SO-2026-0001"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _now() -> datetime:
    return T0


def _create(tenant: Tenant, repo: InMemoryOrderRepository, **overrides: object) -> Order:
    return orders.create_order(tenant, CreateOrderRequest.model_validate(order_body(**overrides)), repo).order


def _stored(repo: InMemoryOrderRepository, tenant: Tenant, order_no: str = NO) -> Order:
    order = repo.get(tenant.tenant_id, WH, order_no)
    assert order is not None
    return order


def _pgi(**overrides: object) -> PgiWebhook:
    body: dict[str, object] = {
        "warehouse_id": WH,
        "order_type": "SO",
        "doc_no": NO,
        "delivery_no": "JNE0001",
        "carrier_id": "JNE",
        "carrier_name": "JNE REG",
        "pgi_date": "2026-11-23 12:04:14",
        "details": [
            {"sku": "TSHIRT-BLK-M", "qty_shipped": 2, "batch_no": "B1", "serial_no": "S1", "stock_condition": "N"},
            {"sku": "CAP-RED", "qty_shipped": 1},
        ],
        "user_define_1": "vendor extras are ignored",
    }
    body.update(overrides)
    return PgiWebhook.model_validate(body)


# -- the status authority ---------------------------------------------------------------------


def test_facts_move_forward_once_and_late_facts_are_recorded_not_applied(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    order = _create(tenant, repo)
    packed = apply_fact(order, Fact("poller", T0, ApiStatus.PACKED, "PACKED"))
    assert packed.moved and packed.order is not None and packed.order.status == ApiStatus.PACKED

    late = apply_fact(packed.order, Fact("wms_webhook", T0, ApiStatus.PICKED, "PICKED"))
    assert late.conflict and late.order is not None
    assert late.order.status == ApiStatus.PACKED and not late.order.history[-1].applied
    again = apply_fact(late.order, Fact("wms_webhook", T0, ApiStatus.PICKED, "PICKED"))
    assert again.order is None and again.conflict  # recorded once, not on every repeat

    same_api_status = apply_fact(packed.order, Fact("poller", T0, ApiStatus.PACKED, "SHIPPING"))
    assert same_api_status.order is not None and same_api_status.order.wms_status == "SHIPPING" and not same_api_status.moved
    assert apply_fact(packed.order, Fact("poller", T0, ApiStatus.PACKED, "PACKED")).order is None


def test_terminal_states_stay_terminal(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    closed = _create(tenant, repo).model_copy(update={"status": ApiStatus.CLOSED})
    outcome = apply_fact(closed, Fact("poller", T0, ApiStatus.CANCELLED, "CLOSED"))  # WMS CLOSED = cancelled
    assert outcome.conflict and outcome.order is not None and outcome.order.status == ApiStatus.CLOSED


# -- forwarding ---------------------------------------------------------------------------------


def test_forward_creates_once_and_moves_to_created(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    wms = FakeWms()
    result = forward_order("acme", WH, NO, repo, wms, _now)
    assert result.action == "created"
    order = _stored(repo, tenant)
    assert order.status == ApiStatus.CREATED and order.forward.state == "forwarded" and order.forward.wms_order_no == "WMSO-1"
    assert repo.events[-1].type == "order.forwarded"

    assert forward_order("acme", WH, NO, repo, wms, _now).action == "nothing"  # a repeated message
    assert wms.calls == ["create"]


def test_the_wms_gets_the_create_body_back_field_for_field(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    """One field map drives both directions: the body the WMS gets reads back into the request the client sent."""
    sent = CreateOrderRequest.model_validate(
        order_body(rate_type="regular", tracking_id="TRK-1", consignee_state="Jakarta", area="Senayan", mobile="0812")
    )
    orders.create_order(tenant, sent, repo)
    wms = FakeWms()
    forward_order("acme", WH, NO, repo, wms, _now)
    [body] = wms.bodies
    with_line_ids = [item.model_copy(update={"line_id": item.line_id or f"{NO}-{n}"}) for n, item in enumerate(sent.items, 1)]
    assert CreateOrderRequest.model_validate(body) == sent.model_copy(update={"items": with_line_ids})
    assert body["consignee"] == "Budi Santoso" and body["mobile"] == "0812" and body["items"][0]["qty"] == 2


def test_orders_without_courier_stay_registered(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo, express_code="")
    wms = FakeWms()
    assert forward_order("acme", WH, NO, repo, wms, _now).action == "waiting_for_courier"
    assert wms.calls == [] and _stored(repo, tenant).status == ApiStatus.REGISTERED


def test_a_create_that_got_through_before_a_crash_is_not_duplicated(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    wms = FakeWms()
    wms.create_outbound(create_body(_stored(repo, tenant)))  # the earlier attempt reached the WMS, then the worker died
    assert forward_order("acme", WH, NO, repo, wms, _now).action == "created"
    assert len(wms.orders) == 1 and _stored(repo, tenant).forward.state == "forwarded"


def test_a_create_found_in_the_wms_sends_the_details_changed_since(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    wms = FakeWms()
    wms.create_outbound(create_body(_stored(repo, tenant)))  # got through, but its answer was lost ("retrying")
    orders.update_order(tenant, CreateOrderRequest.model_validate(order_body(notes="ring twice")), repo, _now, wms=lambda: wms)
    assert wms.calls == ["create"]  # the hub did not know the WMS had it: the update stayed in the hub

    assert forward_order("acme", WH, NO, repo, wms, _now).action == "created"

    assert wms.calls == ["create", "create", "update"] and wms.bodies[-1]["notes"] == "ring twice"
    stored = _stored(repo, tenant)
    assert stored.forward.forwarded_body_hash == stored.body_hash
    assert forward_order("acme", WH, NO, repo, wms, _now).action == "nothing"


def test_warehouse_down_is_recorded_and_raised_for_retry(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    wms = FakeWms()
    wms.fail_with, wms.fail_times = WmsUnavailable("HTTP 503"), 2
    for _ in range(2):
        with pytest.raises(WmsUnavailable):
            forward_order("acme", WH, NO, repo, wms, _now)
    failing = _stored(repo, tenant)
    assert failing.forward.state == "retrying" and failing.forward.attempts == 2 and "503" in failing.forward.last_error
    assert forward_order("acme", WH, NO, repo, wms, _now).action == "created"
    assert len(wms.orders) == 1 and _stored(repo, tenant).forward.last_error == ""


def test_update_is_forwarded_when_the_details_changed(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    wms = FakeWms()
    forward_order("acme", WH, NO, repo, wms, _now)
    orders.update_order(tenant, CreateOrderRequest.model_validate(order_body(notes="ring twice")), repo)
    assert forward_order("acme", WH, NO, repo, wms, _now).action == "updated"
    assert forward_order("acme", WH, NO, repo, wms, _now).action == "nothing"
    assert wms.calls == ["create", "update"]


def _update(tenant: Tenant, repo: InMemoryOrderRepository, wms: FakeWms, **overrides: object) -> Order:
    request = CreateOrderRequest.model_validate(order_body(**overrides))
    return orders.update_order(tenant, request, repo, _now, wms=lambda: wms)


def test_update_of_a_forwarded_order_is_decided_by_the_warehouse_first(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    wms = FakeWms()
    forward_order("acme", WH, NO, repo, wms, _now)

    updated = _update(tenant, repo, wms, notes="ring twice")

    assert wms.calls == ["create", "update"] and wms.bodies[-1]["notes"] == "ring twice"
    assert updated.notes == "ring twice" and updated.forward.forwarded_body_hash == updated.body_hash
    assert forward_order("acme", WH, NO, repo, wms, _now).action == "nothing"  # no second update from the forwarder
    assert wms.calls == ["create", "update"]


def test_an_update_the_warehouse_refuses_or_cannot_hear_changes_nothing(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    wms = FakeWms()
    forward_order("acme", WH, NO, repo, wms, _now)
    before = _stored(repo, tenant)

    wms.set_status(WH, NO, "ALLOCATED")  # the warehouse allocated a moment ago; the hub has not polled yet
    with pytest.raises(TransitionRefused, match=r"the warehouse refused .*already allocated"):
        _update(tenant, repo, wms, notes="too late")
    assert _stored(repo, tenant) == before

    wms.set_status(WH, NO, "OPEN")
    wms.fail_with, wms.fail_times = WmsUnavailable("timeout"), 1
    with pytest.raises(WarehouseUnavailable):
        _update(tenant, repo, wms, notes="nobody home")
    assert _stored(repo, tenant) == before and len(repo.events) == 2  # created, forwarded


def test_an_update_the_warehouse_took_is_stored_even_when_a_write_race_follows(
    tenant: Tenant, repo: InMemoryOrderRepository
) -> None:
    _create(tenant, repo)
    wms = FakeWms()
    forward_order("acme", WH, NO, repo, wms, _now)
    repo.fail_next_replace = 1  # e.g. the poller recorded ALLOCATED just after the WMS took the update

    updated = _update(tenant, repo, wms, notes="ring twice")

    assert updated.notes == "ring twice" and wms.calls == ["create", "update"]  # the warehouse is asked once
    repo.fail_next_replace = 4  # more races than one request's usual 3 attempts: still recorded
    assert _update(tenant, repo, wms, notes="ring thrice").notes == "ring thrice"
    assert wms.calls == ["create", "update", "update"]


def test_orders_only_in_the_hub_are_updated_without_the_warehouse(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    wms = FakeWms()
    assert _update(tenant, repo, wms, notes="before forwarding").notes == "before forwarding"
    assert wms.calls == []


@pytest.mark.parametrize("status", [ApiStatus.ALLOCATED, ApiStatus.CLOSED, ApiStatus.CANCELLED])
def test_an_identical_update_of_an_order_past_change_says_so(
    tenant: Tenant, repo: InMemoryOrderRepository, status: ApiStatus
) -> None:
    _create(tenant, repo)
    order = _stored(repo, tenant)
    moved = order.model_copy(update={"status": status, "version": order.version + 1})
    repo.replace(moved, order.version, orders.make_event(moved, "order.status_changed", "poller", order))
    wms = FakeWms()
    with pytest.raises(TransitionRefused, match=r"cannot be updated: .* \(its details already equal this body\)"):
        _update(tenant, repo, wms)
    assert wms.calls == []


def test_cancel_of_a_forwarded_order_asks_the_warehouse_first(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    wms = FakeWms()
    forward_order("acme", WH, NO, repo, wms, _now)
    cancellation = Cancellation(order_no=NO, warehouse_id=WH, cancel_reason="buyer")

    wms.refuse_cancel = True  # the warehouse allocated meanwhile: it wins the race
    with pytest.raises(TransitionRefused):
        orders.cancel_order(tenant, cancellation, repo, wms=lambda: wms)
    assert _stored(repo, tenant).status == ApiStatus.CREATED

    wms.refuse_cancel, wms.fail_with, wms.fail_times = False, WmsUnavailable("timeout"), 1
    with pytest.raises(WarehouseUnavailable):
        orders.cancel_order(tenant, cancellation, repo, wms=lambda: wms)
    assert _stored(repo, tenant).status == ApiStatus.CREATED

    cancelled = orders.cancel_order(tenant, cancellation, repo, wms=lambda: wms).order
    assert cancelled.status == ApiStatus.CANCELLED and cancelled.forward.state == "cancelled"
    assert wms.orders[(WH, NO)].so_status == "CANCELLED"
    assert forward_order("acme", WH, NO, repo, wms, _now).action == "nothing"


def test_cancel_racing_a_forward_cancels_in_the_wms_too(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    wms = FakeWms()
    real_create = wms.create_outbound

    def create_then_client_cancels(body: dict[str, Any]) -> str:
        number = real_create(body)
        orders.cancel_order(tenant, Cancellation(order_no=NO, warehouse_id=WH, cancel_reason="buyer"), repo)
        return number

    wms.create_outbound = create_then_client_cancels  # type: ignore[method-assign]
    assert forward_order("acme", WH, NO, repo, wms, _now).action == "cancelled"
    assert wms.orders[(WH, NO)].so_status == "CANCELLED" and _stored(repo, tenant).status == ApiStatus.CANCELLED


# -- webhooks -------------------------------------------------------------------------------------


def _signed(secret: str, body: bytes, ts: int) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"x-hub-timestamp": str(ts), "x-hub-signature": f"v1={digest}"}


def test_signatures_tokens_and_windows() -> None:
    body, now = b'{"a":1}', 1_800_000_000
    secret = {"hmac_secret": "s3cret", "token": "tok"}
    verify_webhook(secret, _signed("s3cret", body, now), body, now)
    verify_webhook(
        secret,
        {"X-Hub-Timestamp": str(now), "X-Hub-Signature": "v1=00 " + _signed("s3cret", body, now)["x-hub-signature"]},
        body,
        now,
    )
    verify_webhook(secret, {"x-webhook-token": "tok"}, body, now)
    for headers, at in (
        (_signed("wrong", body, now), now),
        (_signed("s3cret", body, now - 301), now),
        (_signed("s3cret", body + b" ", now), now),
        ({"x-webhook-token": "nope"}, now),
        ({}, now),
    ):
        with pytest.raises(Unauthorized):
            verify_webhook(secret, headers, body, at)
    with pytest.raises(Unauthorized):
        verify_webhook(None, _signed("s3cret", body, now), body, now)


def test_order_confirmation_moves_registered_to_created_once(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    payload = OrderConfirmationWebhook(order_no=NO, warehouse_id=WH, wms_order_no="W-1", so_status="OPEN")
    first = ingest_order_confirmation("acme", payload, "{}", repo, _now)
    assert first.outcome == "applied" and first.order is not None and first.order.status == ApiStatus.CREATED
    assert first.order.forward.state == "forwarded" and first.order.forward.wms_order_no == "W-1"
    assert ingest_order_confirmation("acme", payload, "{}", repo, _now).outcome == "duplicate"


def test_pgi_ships_and_closes_with_batch_and_serial(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    result = ingest_pgi("acme", _pgi(), "{}", repo, _now)
    order = _stored(repo, tenant)
    assert result.outcome == "applied" and order.status == ApiStatus.CLOSED
    (shipment,) = order.shipments
    assert (
        shipment.awb == "JNE0001"
        and shipment.carrier_name == "JNE REG"
        and shipment.pgi_at == datetime(2026, 11, 23, 12, 4, 14, tzinfo=UTC)
    )
    assert [(i.line_id, i.qty, i.batch_no) for i in shipment.items] == [("SO-2026-0001-1", 2, "B1"), ("L-2", 1, "")]
    assert [line.qty_shipped for line in order.lines] == [2, 1]
    assert ingest_pgi("acme", _pgi(), "{}", repo, _now).outcome == "duplicate"
    assert len(_stored(repo, tenant).shipments) == 1


def test_partial_pgi_keeps_the_open_quantity(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    ingest_pgi("acme", _pgi(details=[{"sku": "TSHIRT-BLK-M", "qty_shipped": 1}]), "{}", repo, _now)
    order = _stored(repo, tenant)
    assert order.status == ApiStatus.CLOSED and [line.qty_shipped for line in order.lines] == [1, 0]
    assert order.history[-1].note == "partial shipment"


def test_second_pgi_for_a_fully_shipped_order_is_a_recorded_fact(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    ingest_pgi("acme", _pgi(), "{}", repo, _now)
    shipped = _stored(repo, tenant)
    events = len(repo.events)
    result = ingest_pgi("acme", _pgi(delivery_no="JNE0002"), "{}", repo, _now)
    order = _stored(repo, tenant)
    assert result.outcome == "recorded" and result.notes and result.notes[0].startswith(NO_OPEN_QUANTITY)
    assert [s.awb for s in order.shipments] == ["JNE0001"] and order.lines == shipped.lines
    assert order.history[-1].applied is False and "JNE0002" in order.history[-1].note
    assert [e.type for e in repo.events[events:]] == ["order.fact_recorded"]
    assert ingest_pgi("acme", _pgi(delivery_no="JNE0002"), "{}", repo, _now).outcome == "duplicate"


def test_second_package_of_a_partial_order_is_a_second_shipment(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    ingest_pgi("acme", _pgi(details=[{"sku": "TSHIRT-BLK-M", "qty_shipped": 1}]), "{}", repo, _now)
    rest = [{"sku": "TSHIRT-BLK-M", "qty_shipped": 1}, {"sku": "CAP-RED", "qty_shipped": 1}]
    result = ingest_pgi("acme", _pgi(delivery_no="JNE0002", details=rest), "{}", repo, _now)
    order = _stored(repo, tenant)
    assert result.outcome == "applied" and not result.notes
    assert [s.awb for s in order.shipments] == ["JNE0001", "JNE0002"] and not order.partially_shipped
    assert [e.type for e in repo.events[-2:]] == ["order.shipped", "order.shipped"]
    third = ingest_pgi("acme", _pgi(delivery_no="JNE0003"), "{}", repo, _now)
    assert third.outcome == "recorded" and len(_stored(repo, tenant).shipments) == 2


def test_pgi_for_an_unknown_order_is_kept_not_lost(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    assert ingest_pgi("acme", _pgi(doc_no="NOPE"), '{"raw": true}', repo, _now).outcome == "unmatched"
    assert repo.inbox[("acme", f"PGI#{WH}#NOPE#JNE0001")] == '{"raw": true}'


def test_pgi_after_cancellation_is_recorded_as_a_conflict(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    orders.cancel_order(tenant, Cancellation(order_no=NO, warehouse_id=WH, cancel_reason="x"), repo)
    result = ingest_pgi("acme", _pgi(), "{}", repo, _now)
    assert result.outcome == "applied" and result.notes
    assert _stored(repo, tenant).status == ApiStatus.CANCELLED


# -- polling --------------------------------------------------------------------------------------


def test_poll_writes_only_real_changes_and_keeps_a_cursor(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    wms = FakeWms()
    for n in range(5):
        _create(tenant, repo, so_number=f"SO-{n}")
        forward_order("acme", WH, f"SO-{n}", repo, wms, _now)
    writes = repo.writes
    stats = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now, page_size=2)
    assert (stats.seen, stats.written, stats.pages) == (5, 0, 3) and repo.writes == writes

    wms.set_status(WH, "SO-3", "PICKING")
    stats = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now, page_size=2)
    assert stats.written == 1 and _stored(repo, tenant, "SO-3").status == ApiStatus.ALLOCATED
    assert directory.get_cursor("acme", WH) == {"synced_until": T0.isoformat()}


def test_poll_maps_the_closed_trap_and_repairs_a_lost_pgi(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    wms = FakeWms()
    for n in (1, 2):
        _create(tenant, repo, so_number=f"SO-{n}")
        forward_order("acme", WH, f"SO-{n}", repo, wms, _now)
    wms.set_status(WH, "SO-1", "CLOSED")  # WMS CLOSED = cancelled by the warehouse
    wms.set_status(
        WH, "SO-2", "SHIPPED", delivery_no="AWB-9", carrier_name="SiCepat", details=[WmsLine(sku="CAP-RED", qty_shipped=1)]
    )
    poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now)

    assert _stored(repo, tenant, "SO-1").status == ApiStatus.CANCELLED
    shipped = _stored(repo, tenant, "SO-2")
    assert shipped.status == ApiStatus.CLOSED and shipped.shipments[0].awb == "AWB-9"
    assert [line.qty_shipped for line in shipped.lines] == [0, 1]

    # the PGI webhook arrives late with the same AWB: no second shipment
    ingest_pgi("acme", _pgi(doc_no="SO-2", delivery_no="AWB-9"), "{}", repo, _now)
    assert len(_stored(repo, tenant, "SO-2").shipments) == 1


def _partly_shipped(tenant: Tenant, repo: InMemoryOrderRepository, wms: FakeWms) -> Order:
    _create(tenant, repo)
    forward_order("acme", WH, NO, repo, wms, _now)
    ingest_pgi("acme", _pgi(details=[{"sku": "TSHIRT-BLK-M", "qty_shipped": 1}]), "{}", repo, _now)
    order = _stored(repo, tenant)
    assert order.status == ApiStatus.CLOSED and order.partially_shipped
    return order


def test_a_poll_finds_the_rest_of_a_partly_shipped_order_cancelled(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    wms = FakeWms()
    _partly_shipped(tenant, repo, wms)
    events = len(repo.events)
    wms.set_status(WH, NO, "CLOSED", delivery_no="JNE0001", details=[WmsLine(sku="TSHIRT-BLK-M", qty_shipped=1)])

    stats = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now)

    order = _stored(repo, tenant)
    assert stats.written == 1 and stats.conflicts == 0
    assert order.status == ApiStatus.CLOSED and order.wms_status == "CLOSED" and not order.partially_shipped
    assert [(line.qty_ordered, line.qty_shipped, line.qty_cancelled) for line in order.lines] == [(2, 1, 1), (1, 0, 1)]
    assert order.history[-1].note == "the warehouse cancelled the open rest (CLOSED): 1 x TSHIRT-BLK-M, 1 x CAP-RED"
    assert [e.type for e in repo.events[events:]] == ["order.partially_cancelled"]
    assert len(order.shipments) == 1

    again = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now)
    assert again.written == 0 and again.conflicts == 0 and len(repo.events) == events + 1


def test_a_poll_records_a_missed_pgi_before_the_cancelled_rest(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    wms = FakeWms()
    _create(tenant, repo)
    forward_order("acme", WH, NO, repo, wms, _now)
    events = len(repo.events)
    wms.set_status(
        WH, NO, "CLOSED", delivery_no="AWB-7", carrier_name="JNE REG", details=[WmsLine(sku="TSHIRT-BLK-M", qty_shipped=1)]
    )

    poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now)

    order = _stored(repo, tenant)
    assert [e.type for e in repo.events[events:]] == ["order.shipped", "order.partially_cancelled"]
    assert order.status == ApiStatus.CLOSED and [s.awb for s in order.shipments] == ["AWB-7"]
    assert [(line.qty_shipped, line.qty_cancelled) for line in order.lines] == [(1, 1), (0, 1)]


def test_a_warehouse_cancellation_webhook_after_a_partial_shipment_cancels_the_rest(
    tenant: Tenant, repo: InMemoryOrderRepository
) -> None:
    wms = FakeWms()
    _partly_shipped(tenant, repo, wms)
    closed = OrderConfirmationWebhook(order_no=NO, warehouse_id=WH, so_status="CANCELLED")

    result = ingest_order_confirmation("acme", closed, "{}", repo, _now)

    order = _stored(repo, tenant)
    assert result.outcome == "applied" and repo.events[-1].type == "order.partially_cancelled"
    assert [line.qty_cancelled for line in order.lines] == [1, 1] and order.status == ApiStatus.CLOSED
    closed_too = OrderConfirmationWebhook(order_no=NO, warehouse_id=WH, so_status="CLOSED")
    assert ingest_order_confirmation("acme", closed_too, "{}", repo, _now).outcome == "recorded"
    assert _stored(repo, tenant).version == order.version  # nothing more to cancel


def test_a_poll_out_of_time_resumes_at_the_next_page(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    wms = FakeWms()
    for n in range(6):
        _create(tenant, repo, so_number=f"SO-{n}")
        forward_order("acme", WH, f"SO-{n}", repo, wms, _now)
        wms.set_status(WH, f"SO-{n}", "ALLOCATED")
    budget = iter([False, False, True])
    first = poll_warehouse("acme", WH, wms, repo, directory, lambda: next(budget), _now, page_size=2)
    assert not first.completed and first.written == 4
    assert directory.get_cursor("acme", WH)["next_page"] == 3  # type: ignore[index]

    later = lambda: T0 + timedelta(minutes=5)  # noqa: E731
    second = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, later, page_size=2)
    assert second.completed and second.pages == 1 and second.written == 2
    assert all(_stored(repo, tenant, f"SO-{n}").status == ApiStatus.ALLOCATED for n in range(6))
    assert directory.get_cursor("acme", WH) == {"synced_until": T0.isoformat()}  # the window's read time


def test_poll_tolerates_unknown_orders_and_statuses(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    wms = FakeWms()
    wms.set_status(WH, "NOT-OURS", "OPEN")
    _create(tenant, repo, so_number="SO-1")
    forward_order("acme", WH, "SO-1", repo, wms, _now)
    wms.set_status(WH, "SO-1", "TELEPORTED")
    stats = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now)
    assert stats.unknown_orders == 1 and stats.unknown_statuses == 1 and stats.written == 0
    assert json.dumps(stats.notes).count("TELEPORTED") == 1


def test_write_races_are_retried_by_the_forwarder(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    _create(tenant, repo)
    repo.fail_next_replace = 1
    wms = FakeWms()
    assert forward_order("acme", WH, NO, repo, wms, _now).action == "created"
    assert wms.calls == ["create"] and _stored(repo, tenant).forward.wms_order_no == "WMSO-1"
    _create(tenant, repo, so_number="SO-2")
    repo.fail_next_replace = 10
    with pytest.raises(ConcurrentModification):
        forward_order("acme", WH, "SO-2", repo, FakeWms(), _now)


def test_a_poll_does_not_reread_orders_an_earlier_complete_poll_reconciled(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    """The WMS lists the whole day every run: unchanged orders must not cost a read per run."""
    wms = FakeWms()
    clock = [T0]
    for n in range(3):
        _create(tenant, repo, so_number=f"SO-{n}")
        forward_order("acme", WH, f"SO-{n}", repo, wms, _now)
        wms.set_status(WH, f"SO-{n}", "OPEN", updated_at=T0 - timedelta(hours=1))
    first = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, lambda: clock[0])
    reads = repo.batch_reads

    clock[0] = T0 + timedelta(hours=1)
    quiet = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, lambda: clock[0])
    assert (first.seen, quiet.seen, quiet.skipped, repo.batch_reads) == (3, 0, 3, reads)  # listed, not read

    wms.set_status(WH, "SO-1", "PICKING", updated_at=T0 + timedelta(minutes=50))
    clock[0] = T0 + timedelta(hours=2)
    changed = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, lambda: clock[0])
    assert (changed.seen, changed.skipped, changed.written) == (1, 2, 1)
    assert _stored(repo, tenant, "SO-1").status == ApiStatus.ALLOCATED


def test_a_poll_that_read_a_stale_order_reconciles_the_latest_one_in_the_same_run(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    """The poll's batch read is eventually consistent: an order read before a write of the last second
    loses its conditional write, is read again consistently and reconciled at once (no race left, the
    cursor moves on)."""
    wms = FakeWms()
    _create(tenant, repo, so_number="SO-1")
    before = _stored(repo, tenant, "SO-1")
    forward_order("acme", WH, "SO-1", repo, wms, _now)  # a write the replica has not seen yet
    repo.lagging[("acme", WH, "SO-1")] = before
    wms.set_status(WH, "SO-1", "PICKING")

    stats = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now)

    assert repo.eventual_reads == 1 and (stats.written, stats.raced) == (1, 0)
    stored = _stored(repo, tenant, "SO-1")
    assert stored.status == ApiStatus.ALLOCATED and stored.forward.state == "forwarded"  # the forward's change kept
    assert directory.get_cursor("acme", WH) == {"synced_until": T0.isoformat()}


def test_the_wms_client_percent_encodes_every_path_segment() -> None:
    from order_hub.adapters.wms_http import ShipperWmsClient

    seen: list[str] = []

    class Session:
        def request(self, method: str, url: str, **kwargs: object) -> object:
            seen.append(url)
            raise OSError("no network in this test")

    client = ShipperWmsClient("https://wms.example.com", "key", Session(), 1.0)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - the call fails; the URL it asked for is what counts
        client.get_outbound("WH/1", "SO?x=1#..")
    assert seen and seen[0].endswith("/warehouse/WH%2F1/outbound/wms/SO%3Fx%3D1%23..")


def test_one_poll_run_at_a_time_per_tenant_and_warehouse(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    """A second run that starts while the first is still listing leaves the warehouse to it (busy):
    no WMS page, no read, no cursor write; after the first one ends the next run polls again."""
    wms = FakeWms()
    for n in range(4):
        _create(tenant, repo, so_number=f"SO-{n}")
        forward_order("acme", WH, f"SO-{n}", repo, wms, _now)
    overlapping: list[Any] = []

    def first_runs_out_of_time() -> bool:  # called by the first run between pages: the second run starts then
        if not overlapping:
            calls = len(wms.calls)
            overlapping.append(poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now, page_size=2))
            overlapping.append(len(wms.calls) - calls)
        return False

    first = poll_warehouse("acme", WH, wms, repo, directory, first_runs_out_of_time, _now, page_size=2)
    second, wms_calls = overlapping
    assert first.completed and first.pages == 2 and first.busy == 0
    assert second.busy == 1 and (second.pages, second.seen) == (0, 0) and wms_calls == 0
    assert directory.get_cursor("acme", WH) == {"synced_until": T0.isoformat()} and directory.leases == {}

    later = lambda: T0 + timedelta(minutes=1)  # noqa: E731
    third = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, later, page_size=2)
    assert third.busy == 0 and third.pages == 2  # the lease was released with the cursor


def test_a_crashed_runs_lease_lapses_and_a_failed_run_releases_it(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    wms = FakeWms()
    _create(tenant, repo)
    forward_order("acme", WH, NO, repo, wms, _now)
    assert directory.take_poll_lease("acme", WH, "crashed", T0, T0 + timedelta(seconds=330)) == {}

    assert poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now).busy == 1
    assert poll_warehouse("acme", "WH-OTHER", wms, repo, directory, lambda: False, _now).busy == 0  # per warehouse
    after = lambda: T0 + timedelta(seconds=331)  # noqa: E731
    assert poll_warehouse("acme", WH, wms, repo, directory, lambda: False, after).pages == 1

    wms.fail_with, wms.fail_times = WmsUnavailable("WMS down"), 1
    with pytest.raises(WmsUnavailable):
        poll_warehouse("acme", WH, wms, repo, directory, lambda: False, after)
    assert directory.leases == {}  # released: the next run polls at once
    assert poll_warehouse("acme", WH, wms, repo, directory, lambda: False, after).pages == 1


class SortedWms(FakeWms):
    """A WMS whose list comes sorted by updated_at (as our simulator's does)."""

    def list_outbounds(self, warehouse_id: str, updated_start: Any, updated_end: Any, page: int, limit: int) -> Any:
        listing = super().list_outbounds(warehouse_id, updated_start, updated_end, 1, 10_000)
        rows = sorted(listing.items, key=lambda o: (o.updated_at, o.order_no))
        return type(listing)(items=rows[(page - 1) * limit : page * limit], total_pages=(len(rows) + limit - 1) // limit)


def _sorted_day(tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory) -> SortedWms:
    wms = SortedWms()
    for n in range(10):
        _create(tenant, repo, so_number=f"SO-{n}")
        forward_order("acme", WH, f"SO-{n}", repo, wms, _now)
        wms.set_status(WH, f"SO-{n}", "ALLOCATED", updated_at=T0 - timedelta(hours=1) + timedelta(minutes=n))
    first = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now, page_size=2)
    assert first.pages == 5 and first.written == 10
    assert directory.get_cursor("acme", WH)["head"]["pages"] == 5  # type: ignore[index]
    return wms


def test_a_list_sorted_by_update_time_is_read_from_its_unreconciled_tail(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    wms = _sorted_day(tenant, repo, directory)
    wms.set_status(WH, "SO-3", "PICKED", updated_at=T0 + timedelta(seconds=30))  # moves to the end of the list

    later = lambda: T0 + timedelta(minutes=1)  # noqa: E731
    second = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, later, page_size=2)

    assert (second.pages, second.pages_skipped, second.written) == (1, 4, 1)  # 1 page instead of 5
    assert _stored(repo, tenant, "SO-3").status == ApiStatus.PICKED


def test_a_head_that_shrank_is_looked_behind_and_nothing_is_missed(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    wms = _sorted_day(tenant, repo, directory)
    for n in range(6):  # six orders move to the tail: page 5 now starts with a changed one
        wms.set_status(WH, f"SO-{n}", "PICKED", updated_at=T0 + timedelta(seconds=30 + n))

    later = lambda: T0 + timedelta(minutes=1)  # noqa: E731
    second = poll_warehouse("acme", WH, wms, repo, directory, lambda: False, later, page_size=2)

    assert second.written == 6 and all(_stored(repo, tenant, f"SO-{n}").status == ApiStatus.PICKED for n in range(6))
    assert second.pages < 5 + 1  # one probe page more at most than reading from the start


def test_a_list_that_is_not_sorted_is_read_from_the_start_every_time(
    tenant: Tenant, repo: InMemoryOrderRepository, directory: InMemoryTenantDirectory
) -> None:
    wms = FakeWms()  # sorted by order number, not by update time
    for n in range(6):
        _create(tenant, repo, so_number=f"SO-{n}")
        forward_order("acme", WH, f"SO-{n}", repo, wms, _now)
        wms.set_status(WH, f"SO-{n}", "ALLOCATED", updated_at=T0 - timedelta(minutes=60 - (n % 2) * 30))
    poll_warehouse("acme", WH, wms, repo, directory, lambda: False, _now, page_size=2)
    assert "head" not in directory.get_cursor("acme", WH)  # type: ignore[operator]

    later = lambda: T0 + timedelta(minutes=1)  # noqa: E731
    assert poll_warehouse("acme", WH, wms, repo, directory, lambda: False, later, page_size=2).pages == 3
