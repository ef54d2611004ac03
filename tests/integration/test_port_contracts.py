"""One contract, two implementations: every case runs against the in-memory fakes (tests/fakes.py)
and against the DynamoDB adapters under moto, so the fakes the unit tests trust behave like the
adapters the hub ships (order repository, tenant directory and cursors, endpoint registry, delivery log)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local_stack.testkit import MotoHubFactory, order_body
from order_hub import wiring
from order_hub.errors import ConcurrentModification, InvalidInput
from order_hub.models.api import CreateOrderRequest, ListQuery
from order_hub.models.endpoints import Attempt, Delivery, Endpoint, EventChain
from order_hub.models.order import ForwardState, Order
from order_hub.models.status import ApiStatus
from order_hub.models.tenant import ApiKey, Tenant
from order_hub.ports import DeliveryLog, EndpointRegistry, EventChainStore, OrderRepository, TenantDirectory
from order_hub.services.orders import create_order, make_event
from tests.fakes import (
    InMemoryDeliveryLog,
    InMemoryEndpointRegistry,
    InMemoryOrderRepository,
    InMemoryOutbox,
    InMemoryTenantDirectory,
)

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ACME = Tenant(tenant_id="acme", name="Acme", warehouse_ids=["WH-TGR04", "WH-CGK09"], created_at=T0)
RIVAL = Tenant(tenant_id="rival", name="Rival", warehouse_ids=["WH-TGR04"], created_at=T0)


@dataclass
class Ports:
    orders: OrderRepository
    tenants: TenantDirectory
    endpoints: EndpointRegistry
    deliveries: DeliveryLog


@pytest.fixture(params=["in-memory", "dynamodb"])
def ports(request: pytest.FixtureRequest, moto_hub_factory: MotoHubFactory) -> Ports:
    if request.param == "in-memory":
        return Ports(InMemoryOrderRepository(), InMemoryTenantDirectory(), InMemoryEndpointRegistry(), InMemoryDeliveryLog())
    moto_hub_factory()
    return Ports(wiring.order_repository(), wiring.tenant_directory(), wiring.endpoint_registry(), wiring.delivery_log())


def _create(ports: Ports, tenant: Tenant = ACME, at: datetime = T0, **overrides: Any) -> Order:
    request = CreateOrderRequest.model_validate(order_body(**overrides))
    result = create_order(tenant, request, ports.orders, now=lambda: at)
    assert result.created
    return result.order


def _changed(order: Order, at: datetime, **update: Any) -> Order:
    return order.model_copy(update={"version": order.version + 1, "updated_at": at, **update})


# -- order repository ---------------------------------------------------------------------------------


def test_an_order_is_stored_once_per_key_and_only_its_tenant_sees_it(ports: Ports) -> None:
    order = _create(ports)

    again = ports.orders.insert(order.model_copy(update={"notes": "someone else"}), make_event(order, "order.created", "api"))

    assert again == order  # the stored one, unchanged
    assert ports.orders.get("acme", "WH-TGR04", "SO-2026-0001") == order
    assert ports.orders.get("rival", "WH-TGR04", "SO-2026-0001") is None
    assert ports.orders.get("acme", "WH-CGK09", "SO-2026-0001") is None


def test_replace_needs_the_version_it_read(ports: Ports) -> None:
    order = _create(ports)
    updated = _changed(order, T0 + timedelta(minutes=1), notes="Siti")

    ports.orders.replace(updated, order.version, make_event(updated, "order.updated", "api"))
    with pytest.raises(ConcurrentModification):
        stale = _changed(order, T0 + timedelta(minutes=2), notes="lost update")
        ports.orders.replace(stale, order.version, make_event(stale, "order.updated", "api"))

    stored = ports.orders.get("acme", "WH-TGR04", "SO-2026-0001")
    assert stored is not None and stored.notes == "Siti" and stored.version == order.version + 1


def test_get_many_returns_the_orders_that_exist(ports: Ports) -> None:
    _create(ports, so_number="SO-1")
    _create(ports, so_number="SO-2")
    _create(ports, tenant=RIVAL, so_number="SO-3")

    found = ports.orders.get_many("acme", "WH-TGR04", ["SO-1", "SO-2", "SO-3", "SO-404"])

    assert sorted(found) == ["SO-1", "SO-2"] and found["SO-1"].order_no == "SO-1"


def test_a_webhook_is_stored_once_with_the_change_it_causes(ports: Ports) -> None:
    order = _create(ports)
    confirmed = _changed(order, T0 + timedelta(minutes=1), status=ApiStatus.CREATED)
    change = (confirmed, order.version, make_event(confirmed, "order.status_changed", "wms_webhook"))

    first = ports.orders.record_webhook("acme", "confirmation#SO-2026-0001", '{"n": 1}', change)
    duplicate = ports.orders.record_webhook("acme", "confirmation#SO-2026-0001", '{"n": 2}', change)
    other_tenant = ports.orders.record_webhook("rival", "confirmation#SO-2026-0001", '{"n": 3}', None)

    assert (first, duplicate, other_tenant) == (True, False, True)
    stored = ports.orders.get("acme", "WH-TGR04", "SO-2026-0001")
    assert stored is not None and stored.status == ApiStatus.CREATED and stored.version == order.version + 1


def test_a_webhook_whose_order_moved_on_is_refused_and_not_stored(ports: Ports) -> None:
    order = _create(ports)
    moved = _changed(order, T0 + timedelta(minutes=1), notes="Siti")
    ports.orders.replace(moved, order.version, make_event(moved, "order.updated", "api"))
    late = _changed(order, T0 + timedelta(minutes=2), status=ApiStatus.CREATED)

    with pytest.raises(ConcurrentModification):
        ports.orders.record_webhook(
            "acme", "k1", "{}", (late, order.version, make_event(late, "order.status_changed", "wms_webhook"))
        )

    assert ports.orders.record_webhook("acme", "k1", "{}", None) is True  # the refused one left no inbox row


def test_list_pages_are_newest_first_per_tenant_and_wms_lists_only_what_the_warehouse_knows(ports: Ports) -> None:
    for n in range(1, 4):
        _create(ports, at=T0 + timedelta(hours=n), so_number=f"SO-{n}")
    _create(ports, tenant=RIVAL, at=T0, so_number="SO-R")
    forwarded = ports.orders.get("acme", "WH-TGR04", "SO-2")
    assert forwarded is not None
    moved = _changed(forwarded, T0 + timedelta(hours=5), forward=ForwardState(state="forwarded"), status=ApiStatus.CREATED)
    ports.orders.replace(moved, forwarded.version, make_event(moved, "order.forwarded", "wms_forward"))

    first = ports.orders.list_page("acme", ListQuery(outbound_type="OMS", limit=2))
    second = ports.orders.list_page("acme", ListQuery(outbound_type="OMS", limit=2, page=2))
    wms = ports.orders.list_page("acme", ListQuery(outbound_type="WMS"))

    assert [item["order_no"] for item in first.items + second.items] == ["SO-3", "SO-2", "SO-1"]
    assert first.total == second.total == 3
    assert [item["order_no"] for item in wms.items] == ["SO-2"] and wms.total == 1
    assert [item["order_no"] for item in ports.orders.list_page("rival", ListQuery(outbound_type="OMS")).items] == ["SO-R"]


# -- tenant directory and poll cursors ---------------------------------------------------------------


def test_tenants_are_created_once_saved_and_listed(ports: Ports) -> None:
    ports.tenants.create_tenant(ACME)
    with pytest.raises(InvalidInput, match="already exists"):
        ports.tenants.create_tenant(ACME)
    ports.tenants.save_tenant(ACME.model_copy(update={"status": "suspended"}))

    stored = ports.tenants.get_tenant("acme")
    assert stored is not None and stored.status == "suspended" and stored.warehouse_ids == ACME.warehouse_ids
    assert ports.tenants.get_tenant("rival") is None


def test_cursors_are_per_tenant_and_warehouse(ports: Ports) -> None:
    directory: Any = ports.tenants  # both implementations are also the CursorStore
    ports.tenants.create_tenant(ACME)
    ports.tenants.create_tenant(RIVAL)

    assert directory.get_cursor("acme", "WH-TGR04") is None
    directory.put_cursor("acme", "WH-TGR04", {"updated_start": "2026-11-23", "page": 2})

    assert directory.get_cursor("acme", "WH-TGR04") == {"updated_start": "2026-11-23", "page": 2}
    assert directory.get_cursor("rival", "WH-TGR04") is None and directory.get_cursor("acme", "WH-CGK09") is None
    assert sorted(t.tenant_id for t in directory.list_tenants()) == ["acme", "rival"]


def test_a_poll_lease_lets_one_run_poll_a_warehouse_at_a_time(ports: Ports) -> None:
    directory: Any = ports.tenants
    directory.put_cursor("acme", "WH-TGR04", {"synced_until": "2026-11-23T10:00:00+00:00"})
    until = T0 + timedelta(seconds=330)

    assert directory.take_poll_lease("acme", "WH-TGR04", "run-1", T0, until) == {"synced_until": "2026-11-23T10:00:00+00:00"}
    assert directory.take_poll_lease("acme", "WH-TGR04", "run-2", T0 + timedelta(seconds=60), until) is None
    assert directory.take_poll_lease("acme", "WH-CGK09", "run-2", T0, until) == {}  # another warehouse: free
    assert directory.take_poll_lease("rival", "WH-TGR04", "run-2", T0, until) == {}  # another tenant: free
    assert not directory.put_cursor("acme", "WH-TGR04", {"synced_until": "x"}, "run-2")  # not its lease
    assert directory.put_cursor("acme", "WH-TGR04", {"synced_until": "y"}, "run-1")  # writes and releases
    assert directory.take_poll_lease("acme", "WH-TGR04", "run-3", T0 + timedelta(seconds=61), until) == {"synced_until": "y"}
    # run-3 crashed: its lease lapses at ``until``; the next run takes it over, run-3 can no longer write
    assert directory.take_poll_lease(
        "acme", "WH-TGR04", "run-4", until + timedelta(seconds=1), until + timedelta(seconds=330)
    ) == {"synced_until": "y"}
    assert not directory.put_cursor("acme", "WH-TGR04", {"synced_until": "late"}, "run-3")
    assert directory.get_cursor("acme", "WH-TGR04") == {"synced_until": "y"}


def test_api_keys_are_found_by_hash_listed_per_tenant_and_revoked(ports: Ports) -> None:
    ports.tenants.create_tenant(ACME)
    ports.tenants.create_tenant(RIVAL)
    key = ApiKey(key_id="k1", tenant_id="acme", key_hash="h1", prefix="ohk_k1", created_at=T0)
    ports.tenants.put_key(key)
    ports.tenants.put_key(ApiKey(key_id="k2", tenant_id="rival", key_hash="h2", prefix="ohk_k2", created_at=T0))

    revoked = ports.tenants.revoke_key("acme", "k1", T0 + timedelta(days=1))
    with pytest.raises(InvalidInput):
        ports.tenants.revoke_key("acme", "k2", T0)  # another tenant's key

    assert revoked.status == "revoked" and revoked.revoked_at == T0 + timedelta(days=1)
    assert ports.tenants.find_key("h1") == revoked and ports.tenants.find_key("nope") is None
    assert [k.key_id for k in ports.tenants.list_keys("acme")] == ["k1"]
    found = ports.tenants.find_key("h2")
    assert found is not None and found.status == "active"


# -- endpoint registry --------------------------------------------------------------------------------


def _endpoint(tenant_id: str, endpoint_id: str) -> Endpoint:
    return Endpoint(
        tenant_id=tenant_id, endpoint_id=endpoint_id, url="https://x.example/h", format="standard", created_at=T0, updated_at=T0
    )


def test_endpoints_are_created_once_replaced_and_listed_per_tenant_by_id(ports: Ports) -> None:
    for tenant_id, endpoint_id in (("acme", "pos"), ("acme", "erp"), ("rival", "erp")):
        ports.endpoints.put_endpoint(_endpoint(tenant_id, endpoint_id), create=True)
    with pytest.raises(InvalidInput, match="already exists"):
        ports.endpoints.put_endpoint(_endpoint("acme", "erp"), create=True)
    ports.endpoints.put_endpoint(_endpoint("acme", "erp").model_copy(update={"enabled": False}))

    assert [e.endpoint_id for e in ports.endpoints.list_endpoints("acme")] == ["erp", "pos"]
    stored = ports.endpoints.get_endpoint("acme", "erp")
    assert stored is not None and not stored.enabled
    other = ports.endpoints.get_endpoint("rival", "erp")
    assert other is not None and other.enabled
    assert ports.endpoints.get_endpoint("acme", "nope") is None


# -- delivery log -------------------------------------------------------------------------------------


def _delivery(n: int = 1, endpoint: str = "erp", at: datetime = T0, tenant_id: str = "acme") -> Delivery:
    return Delivery(
        delivery_id=f"{tenant_id}-ev-{n}.{endpoint}",
        tenant_id=tenant_id,
        endpoint_id=endpoint,
        event_id=f"ev-{n}",
        event_type="order.created",
        warehouse_id="WH-1",
        order_no=f"SO-{n}",
        seq=1,
        created_at=at,
        updated_at=at,
    )


def test_a_claim_holds_a_lease_and_counts_attempts(ports: Ports) -> None:
    log = ports.deliveries

    first = log.claim(_delivery(), T0, lease_seconds=60)
    held = log.claim(_delivery(), T0 + timedelta(seconds=10), lease_seconds=60)
    after_lease = log.claim(_delivery(), T0 + timedelta(seconds=61), lease_seconds=60)

    assert first.granted and first.delivery is not None
    assert (first.delivery.status, first.delivery.attempt_count) == ("delivering", 1)
    assert not held.granted and held.delivery is not None and held.delivery.status == "delivering"
    assert after_lease.granted and after_lease.delivery is not None and after_lease.delivery.attempt_count == 2


def test_a_finished_delivery_is_not_claimed_again_until_reopened(ports: Ports) -> None:
    log = ports.deliveries
    claim = log.claim(_delivery(), T0, lease_seconds=60)
    assert claim.delivery is not None
    delivered = claim.delivery.model_copy(update={"status": "delivered", "delivered_at": T0, "updated_at": T0})
    log.finish(delivered, Attempt(n=1, at=T0, outcome="delivered", status_code=200, latency_ms=12, response="ok"))

    refused = log.claim(_delivery(), T0 + timedelta(hours=1), lease_seconds=60)
    reopened = log.reopen(delivered.delivery_id, T0 + timedelta(hours=1))
    regranted = log.claim(_delivery(), T0 + timedelta(hours=1), lease_seconds=60)

    assert not refused.granted and refused.delivery is not None and refused.delivery.status == "delivered"
    assert reopened is not None and (reopened.status, reopened.attempt_base, reopened.replays) == ("pending", 1, 1)
    assert regranted.granted and regranted.delivery is not None and regranted.delivery.round_attempts == 1
    stored = log.get(delivered.delivery_id)
    assert stored is not None and [a.status_code for a in stored.attempts] == [200]


def test_reopen_refuses_a_held_delivery_and_knows_no_unknown_one(ports: Ports) -> None:
    ports.deliveries.claim(_delivery(), T0, lease_seconds=60)

    with pytest.raises(InvalidInput, match="being attempted"):
        ports.deliveries.reopen(_delivery().delivery_id, T0 + timedelta(seconds=5))
    assert ports.deliveries.reopen("missing.erp", T0) is None
    assert ports.deliveries.get("missing.erp") is None


def test_problems_and_endpoint_history_are_per_tenant(ports: Ports) -> None:
    log = ports.deliveries
    for n, status in enumerate(["retrying", "failed", "delivered"], start=1):
        claim = log.claim(_delivery(n, at=T0 + timedelta(minutes=n)), T0, lease_seconds=60)
        assert claim.delivery is not None
        done = claim.delivery.model_copy(update={"status": status, "updated_at": T0 + timedelta(minutes=n)})
        log.finish(done, Attempt(n=1, at=T0, outcome="retry" if status == "retrying" else status, status_code=500))
    log.claim(_delivery(9, tenant_id="rival"), T0, lease_seconds=60)

    problems = log.list_problems("acme", limit=10)
    since = log.list_for_endpoint("acme", "erp", T0 + timedelta(minutes=2), limit=10)

    assert [d.order_no for d in problems] == ["SO-2", "SO-1"]  # newest first
    assert [d.order_no for d in since] == ["SO-2", "SO-3"]  # oldest first
    assert log.list_problems("rival", limit=10) == [] and log.list_for_endpoint("rival", "erp", T0, 10)[0].order_no == "SO-9"


def test_rate_tokens_are_counted_per_endpoint_and_second(ports: Ports) -> None:
    log = ports.deliveries

    taken = [log.take_token("acme#erp", 2, T0) for _ in range(3)]

    assert taken == [True, True, False]
    assert log.take_token("acme#erp", 2, T0 + timedelta(seconds=1)) and log.take_token("acme#pos", 2, T0)


def test_message_ids_are_consecutive_per_endpoint(ports: Ports) -> None:
    log = ports.deliveries

    assert log.allocate_message_ids("acme#erp", 3) == 1
    assert log.allocate_message_ids("acme#erp", 2) == 4
    assert log.allocate_message_ids("rival#erp", 1) == 1


def test_order_holds_live_in_the_earlier_deliveries_records(ports: Ports) -> None:
    log = ports.deliveries
    in_flight, deferred, retried, delivered = _delivery(3), _delivery(5), _delivery(6), _delivery(7)
    log.claim(in_flight, T0, lease_seconds=300)  # a claim holds until its lease ends (due 1 s later)
    log.hold(deferred, T0 + timedelta(seconds=5), T0 + timedelta(seconds=30))  # deferred: created pending
    claimed = log.claim(retried, T0, lease_seconds=60).delivery
    assert claimed is not None
    log.finish(  # waiting for its retry
        claimed.model_copy(update={"status": "retrying"}),
        Attempt(n=1, at=T0, outcome="retry", status_code=500),
        (T0 + timedelta(seconds=6), T0 + timedelta(seconds=20)),
    )
    claimed = log.claim(delivered, T0, lease_seconds=60).delivery
    assert claimed is not None
    log.finish(claimed.model_copy(update={"status": "delivered"}), Attempt(n=1, at=T0, outcome="delivered", status_code=200))
    log.hold(delivered, T0 + timedelta(seconds=9), T0 + timedelta(seconds=90))  # settled: a late hold changes nothing
    ids = [d.delivery_id for d in (in_flight, _delivery(4), deferred, retried, delivered)]

    states = log.states(ids)

    assert sorted(states) == sorted([ids[0], *ids[2:]])  # the missing one is absent
    seen = {i: (s.status, s.hold_due, s.holds(T0)) for i, s in states.items()}
    assert seen == {
        ids[0]: ("delivering", T0 + timedelta(seconds=1), True),
        ids[2]: ("pending", T0 + timedelta(seconds=5), True),
        ids[3]: ("retrying", T0 + timedelta(seconds=6), True),
        ids[4]: ("delivered", None, False),
    }
    assert states[ids[0]].leased(T0 + timedelta(seconds=300)) and not states[ids[0]].leased(T0 + timedelta(seconds=301))
    assert not states[ids[3]].holds(T0 + timedelta(seconds=21))  # lapsed
    assert log.states([]) == {}
    pending = log.get(deferred.delivery_id)
    assert pending is not None and (pending.status, pending.attempt_count) == ("pending", 0)
    assert log.claim(deferred, T0 + timedelta(seconds=5), lease_seconds=60).granted  # a deferred one is attempted later
    reopened = log.reopen(retried.delivery_id, T0 + timedelta(seconds=7))
    assert reopened is not None and not log.states([retried.delivery_id])[retried.delivery_id].holds(T0)  # a replay holds nobody


def test_a_first_attempt_is_recorded_once_and_never_over_a_recorded_one(ports: Ports) -> None:
    log = ports.deliveries
    first, deferred = _delivery(1), _delivery(2)
    delivered = first.model_copy(update={"status": "delivered", "attempt_count": 1, "delivered_at": T0})
    retrying = first.model_copy(update={"status": "retrying", "attempt_count": 1})
    log.hold(deferred, T0 + timedelta(seconds=5), T0 + timedelta(seconds=30))  # pending: not attempted yet

    assert log.record_first(delivered, Attempt(n=1, at=T0, outcome="delivered", status_code=200))
    assert not log.record_first(retrying, Attempt(n=1, at=T0, outcome="retry", status_code=500), (T0, T0))  # a copy, later
    due = (T0 + timedelta(seconds=6), T0 + timedelta(seconds=20))
    assert log.record_first(
        deferred.model_copy(update={"status": "retrying", "attempt_count": 1}),
        Attempt(n=1, at=T0, outcome="retry", status_code=503),
        due,
    )

    stored = log.get(first.delivery_id)
    assert stored is not None and (stored.status, stored.attempt_count, [a.status_code for a in stored.attempts]) == (
        "delivered",
        1,
        [200],
    )
    state = log.states([deferred.delivery_id])[deferred.delivery_id]
    assert (state.status, state.attempt_count, state.hold_due, state.hold_until) == ("retrying", 1, *due)
    assert [d.delivery_id for d in log.list_problems("acme", 10)] == [deferred.delivery_id]
    listed = sorted(d.delivery_id for d in log.list_for_endpoint("acme", "erp", T0, 10))  # the by_endpoint entry, written once
    assert listed == [first.delivery_id, deferred.delivery_id]
    claim = log.claim(deferred, T0 + timedelta(seconds=6), lease_seconds=60)  # its retry claims as before
    assert claim.granted and claim.delivery is not None and claim.delivery.attempt_count == 2
    log.finish(claim.delivery.model_copy(update={"status": "failed"}), Attempt(n=2, at=T0, outcome="failed", status_code=400))
    assert log.reopen(deferred.delivery_id, T0 + timedelta(minutes=1)) is not None  # replayed: pending, 2 attempts
    assert not log.record_first(deferred, Attempt(n=1, at=T0, outcome="delivered", status_code=200))  # its history stays
    replayed = log.get(deferred.delivery_id)
    assert replayed is not None and (replayed.status, replayed.attempt_count) == ("pending", 2)


def test_a_failing_delivery_keeps_its_last_attempts_and_counts_the_rest(ports: Ports) -> None:
    log = ports.deliveries
    for n in range(1, 9):
        claimed = log.claim(_delivery(), T0 + timedelta(minutes=n), lease_seconds=60).delivery
        assert claimed is not None
        log.finish(
            claimed.model_copy(update={"status": "retrying"}),
            Attempt(n=n, at=T0, outcome="retry", status_code=500, response="x" * 1024),
        )
    stored = log.get(_delivery().delivery_id)
    assert stored is not None and stored.attempt_count == 8
    assert [a.n for a in stored.attempts] == [6, 7, 8] and stored.attempts_dropped == 5


# -- stored events and their deliveries' chain --------------------------------------------------------


@pytest.fixture(params=["in-memory", "dynamodb"])
def chain_store(request: pytest.FixtureRequest, moto_hub_factory: MotoHubFactory) -> EventChainStore:
    if request.param == "in-memory":
        return InMemoryOutbox()
    moto_hub_factory()
    return wiring.outbox()


def test_the_latest_chain_at_or_before_an_event_is_found_per_order(chain_store: EventChainStore) -> None:
    order = _create(
        Ports(InMemoryOrderRepository(), InMemoryTenantDirectory(), InMemoryEndpointRegistry(), InMemoryDeliveryLog())
    )
    events = {seq: make_event(order.model_copy(update={"version": seq}), "order.updated", "api") for seq in (1, 2, 3, 5)}
    other = make_event(order.model_copy(update={"order_no": "SO-OTHER", "version": 9}), "order.updated", "api")
    chains = {
        1: EventChain(seq=1, last_at={"erp": 1}, message_ids={"erp": 7}),
        3: EventChain(seq=3, last_at={"erp": 3, "pos": 3}, prev_at={"erp": 1}, message_ids={"erp": 8}),
    }
    assert chain_store.latest_chain(events[1]) is None  # nothing stored yet
    chain_store.store_event(events[1], chains[1])
    chain_store.store_event(events[3], chains[3])
    chain_store.store_event(other, EventChain(seq=9, last_at={"erp": 9}))

    assert chain_store.latest_chain(events[1]) == chains[1]  # its own: a stream record seen again
    assert chain_store.latest_chain(events[2]) == chains[1]  # the latest before it
    assert chain_store.latest_chain(events[3]) == chains[3]
    assert chain_store.latest_chain(events[5]) == chains[3]
    chain_store.store_event(events[5], EventChain(seq=5))  # no deliveries linked: empty maps
    assert chain_store.latest_chain(events[5]) == EventChain(seq=5)
