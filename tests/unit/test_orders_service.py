from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from order_hub.errors import ConcurrentModification, InvalidInput, OrderConflict, OrderNotFound, TransitionRefused
from order_hub.models.api import Cancellation, CreateOrderRequest, ListQuery
from order_hub.models.status import ApiStatus
from order_hub.models.tenant import Tenant
from order_hub.services import orders
from order_hub.services.tenants import create_tenant
from tests.fakes import InMemoryOrderRepository, InMemoryTenantDirectory
from tests.payloads import order_body


def _request(**overrides: object) -> CreateOrderRequest:
    return CreateOrderRequest.model_validate(order_body(**overrides))


def _cancel(order_no: str = "SO-2026-0001") -> Cancellation:
    return Cancellation(order_no=order_no, warehouse_id="WH-TGR04", cancel_reason="buyer cancelled")


def _set_status(repo: InMemoryOrderRepository, tenant: Tenant, status: ApiStatus) -> None:
    key = (tenant.tenant_id, "WH-TGR04", "SO-2026-0001")
    repo.orders[key] = repo.orders[key].model_copy(update={"status": status})


def test_create_stores_a_registered_order_with_its_first_event(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    result = orders.create_order(tenant, _request(), repo)

    assert result.created
    order = repo.get("acme", "WH-TGR04", "SO-2026-0001")
    assert order is not None and order.status == ApiStatus.REGISTERED and order.version == 1
    assert [line.line_id for line in order.lines] == ["SO-2026-0001-1", "L-2"]
    assert [(e.type, e.seq) for e in repo.events] == [("order.created", 1)]
    assert repo.events[0].event_id == orders.event_id_for(order)
    assert order.history[0].to_status == ApiStatus.REGISTERED


def test_create_with_the_same_body_returns_the_original(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    first = orders.create_order(tenant, _request(), repo)
    again = orders.create_order(tenant, _request(), repo)

    assert not again.created
    assert again.order == first.order
    assert len(repo.orders) == 1 and len(repo.events) == 1


def test_create_with_a_different_body_is_a_conflict(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    orders.create_order(tenant, _request(), repo)
    with pytest.raises(OrderConflict):
        orders.create_order(tenant, _request(notes="different"), repo)
    assert len(repo.events) == 1


def test_create_in_a_foreign_warehouse_names_the_field(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    with pytest.raises(InvalidInput) as caught:
        orders.create_order(tenant, _request(warehouse_id="WH-OTHER"), repo)
    assert caught.value.field == "warehouse_id"
    assert not repo.orders


def test_tenants_cannot_see_each_others_orders(tenant: Tenant, other_tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    orders.create_order(tenant, _request(), repo)
    with pytest.raises(OrderNotFound):
        orders.get_order(other_tenant, "WH-TGR04", "SO-2026-0001", repo)
    with pytest.raises(OrderNotFound):
        orders.cancel_order(other_tenant, _cancel(), repo)
    # the same so_number is a different order for another tenant
    assert orders.create_order(other_tenant, _request(), repo).created


def test_update_replaces_details_and_bumps_the_version(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    orders.create_order(tenant, _request(), repo)
    updated = orders.update_order(
        tenant, _request(consignee="Siti", items=[{"sku": "CAP-RED", "qty": 3, "unit_price": 40000}]), repo
    )

    assert updated.version == 2 and updated.consignee.name == "Siti"
    assert [(line.sku, line.qty_ordered) for line in updated.lines] == [("CAP-RED", 3)]
    assert [e.type for e in repo.events] == ["order.created", "order.updated"]
    assert updated.created_at == repo.events[0].order.created_at


def test_update_with_unchanged_body_writes_nothing(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    orders.create_order(tenant, _request(), repo)
    orders.update_order(tenant, _request(), repo)
    assert len(repo.events) == 1


def test_update_of_unknown_order_is_not_found(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    with pytest.raises(OrderNotFound):
        orders.update_order(tenant, _request(), repo)


@pytest.mark.parametrize("status", [ApiStatus.ALLOCATED, ApiStatus.PACKED, ApiStatus.CLOSED, ApiStatus.CANCELLED])
def test_update_and_cancel_are_refused_once_allocated_or_terminal(
    tenant: Tenant, repo: InMemoryOrderRepository, status: ApiStatus
) -> None:
    orders.create_order(tenant, _request(), repo)
    _set_status(repo, tenant, status)
    with pytest.raises(TransitionRefused):
        orders.update_order(tenant, _request(notes="late change"), repo)
    with pytest.raises(TransitionRefused) as caught:
        orders.cancel_order(tenant, _cancel(), repo)
    assert "SO-2026-0001" in caught.value.message
    assert len(repo.events) == 1


def test_cancel_before_allocation_cancels_every_line(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    orders.create_order(tenant, _request(), repo)
    cancelled = orders.cancel_order(tenant, _cancel(), repo).order

    assert cancelled.status == ApiStatus.CANCELLED and cancelled.version == 2
    assert all(line.qty_cancelled == line.qty_ordered for line in cancelled.lines)
    assert cancelled.cancel is not None and cancelled.cancel.reason == "buyer cancelled"
    assert cancelled.history[-1].from_status == ApiStatus.REGISTERED
    assert repo.events[-1].type == "order.cancelled" and repo.events[-1].seq == 2


def test_cancel_retries_after_a_concurrent_write_and_rechecks_the_state(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    orders.create_order(tenant, _request(), repo)
    repo.fail_next_replace = 1
    assert orders.cancel_order(tenant, _cancel(), repo).order.status == ApiStatus.CANCELLED

    orders.create_order(tenant, _request(so_number="SO-2"), repo)
    repo.fail_next_replace = 5
    with pytest.raises(ConcurrentModification):
        orders.update_order(tenant, _request(so_number="SO-2", notes="x"), repo)


def test_wms_detail_hides_orders_the_warehouse_does_not_know(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    orders.create_order(tenant, _request(), repo)
    with pytest.raises(OrderNotFound) as caught:
        orders.get_wms_order(tenant, "WH-TGR04", "SO-2026-0001", repo)
    assert "REGISTERED" in caught.value.message
    _set_status(repo, tenant, ApiStatus.CREATED)
    assert orders.get_wms_order(tenant, "WH-TGR04", "SO-2026-0001", repo).status == ApiStatus.CREATED


def test_list_pages_and_filters(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for n in range(7):
        orders.create_order(
            tenant,
            _request(so_number=f"SO-{n}", warehouse_id="WH-TGR04" if n % 2 else "WH-CGK09"),
            repo,
            now=lambda n=n: base + timedelta(days=n),  # type: ignore[misc]
        )
    page = orders.list_orders(tenant, ListQuery(outbound_type="OMS", limit=3, page=2), repo)
    assert page.total == 7 and [i["order_no"] for i in page.items] == ["SO-3", "SO-2", "SO-1"]

    only_tgr = orders.list_orders(tenant, ListQuery(outbound_type="OMS", warehouse_id="WH-TGR04"), repo)
    assert {i["order_no"] for i in only_tgr.items} == {"SO-1", "SO-3", "SO-5"}

    ranged = orders.list_orders(
        tenant,
        ListQuery.model_validate({"outbound_type": "OMS", "created_start": "2026-11-02", "created_end": "2026-11-03"}),
        repo,
    )
    assert {i["order_no"] for i in ranged.items} == {"SO-1", "SO-2"}

    assert orders.list_orders(tenant, ListQuery(outbound_type="WMS"), repo).total == 0
    foreign = orders.list_orders(tenant, ListQuery(outbound_type="OMS", warehouse_id="WH-NOPE"), repo)
    assert foreign.total == 0


def test_fulfilment_logistics_tenants_must_send_the_tracking_id() -> None:
    from order_hub.services.tenants import set_require_tracking_id

    directory = InMemoryTenantDirectory()
    create_tenant(directory, "fl", "FL client", ["WH-TGR04"])
    tenant = set_require_tracking_id(directory, "fl", True)
    repo = InMemoryOrderRepository()

    with pytest.raises(InvalidInput) as refused:
        orders.create_order(tenant, CreateOrderRequest.model_validate(order_body()), repo)
    created = orders.create_order(tenant, CreateOrderRequest.model_validate(order_body(tracking_id="2CQJADENEAU")), repo)

    assert refused.value.field == "tracking_id" and repo.orders == {
        (created.order.tenant_id, "WH-TGR04", "SO-2026-0001"): created.order
    }
    assert created.order.courier.tracking_id == "2CQJADENEAU"
    with pytest.raises(InvalidInput, match="tracking_id"):
        orders.update_order(tenant, CreateOrderRequest.model_validate(order_body()), repo)
    assert not set_require_tracking_id(directory, "fl", False).require_tracking_id


def test_a_repeated_cancel_is_a_replay_and_another_reason_is_refused(tenant: Tenant, repo: InMemoryOrderRepository) -> None:
    orders.create_order(tenant, _request(), repo)
    first = orders.cancel_order(tenant, _cancel(), repo)
    again = orders.cancel_order(tenant, _cancel(), repo)

    assert not first.replayed and again.replayed
    assert again.order.version == first.order.version == 2  # nothing written the second time
    assert [e.type for e in repo.events] == ["order.created", "order.cancelled"]
    other = Cancellation(order_no=first.order.order_no, warehouse_id=first.order.warehouse_id, cancel_reason="changed my mind")
    with pytest.raises(TransitionRefused, match="already CANCELLED"):
        orders.cancel_order(tenant, other, repo)
