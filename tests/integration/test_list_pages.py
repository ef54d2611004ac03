"""Order lists at scale: a page reads what it shows (not the tenant's orders), index keys are spread
over one partition per tenant and day, and pages merge those partitions in order."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from benchmarks.cost_model import IndexSpec, projected, rcu_for
from benchmarks.list_pages import sample_orders
from local_stack.template import load_template
from order_hub import wiring
from order_hub.adapters.aws import dynamodb_client
from order_hub.adapters.dynamodb import MAX_LIST_FETCHES, item_size
from order_hub.models.order import Order
from order_hub.models.status import ApiStatus
from order_hub.services.orders import make_event
from tests.integration.conftest import Hub, Invoke
from tests.payloads import order_body

WH = "WH-TGR04"


@dataclass
class Reads:
    """Read request units of every DynamoDB read, sized as DynamoDB bills them (benchmarks.cost_model)."""

    rru: float = 0.0
    calls: list[str] = field(default_factory=list)
    orders: int = 0  # items read by key (the lists' order reads)

    def __call__(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        self.calls.append(model.name)
        if model.name == "Query":
            self.rru += rcu_for(sum(item_size(item) for item in parsed.get("Items", [])), consistent=False)
        elif model.name == "BatchGetItem":
            for items in parsed.get("Responses", {}).values():
                self.rru += sum(rcu_for(item_size(item), consistent=False) for item in items)
                self.orders += len(items)


@pytest.fixture
def reads(hub: Hub) -> Iterator[Reads]:
    counter = Reads()
    client = dynamodb_client()
    client.meta.events.register("after-call.dynamodb.*", counter)
    yield counter
    client.meta.events.unregister("after-call.dynamodb.*", counter)


def _page_cost(invoke: Invoke, reads: Reads, **query: str) -> tuple[float, dict[str, Any]]:
    reads.rru, reads.orders = 0.0, 0
    reads.calls.clear()
    reply = invoke("list_orders", query=query)
    assert reply.status == 200, reply.body
    return reads.rru, reply.body


def test_a_list_page_reads_the_same_at_60_and_at_3000_orders(hub: Hub, invoke: Invoke, reads: Reads) -> None:
    repo = wiring.order_repository()
    # the newest order at 23:00 yesterday: the 60 newest fall on one day at any hour this test runs (at 03:00
    # they would straddle two days, and the filtered page's reads would depend on the clock)
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=1)
    orders = sample_orders("acme", 3000, 30, now)
    repo.bulk_load(orders[-60:])
    invoke("list_orders")  # warms the auth cache
    small, body = _page_cost(invoke, reads)
    assert body["pagination"]["total_elements"] == 60 and body["pagination"]["total_exact"] is True
    small_filtered, _ = _page_cost(invoke, reads, so_status="REGISTERED")

    repo.bulk_load(orders[:-60])
    large, body = _page_cost(invoke, reads)
    assert body["pagination"] == {
        "current_page": 1,
        "current_elements": 20,
        "total_pages": 150,
        "total_elements": 3000,
        "total_exact": True,
    }
    assert [o["order_no"] for o in body["data"]["outbounds"]] == [o.order_no for o in reversed(orders[-20:])]
    assert "Scan" not in reads.calls
    assert large == small <= 11.5  # 20 orders at 0.5 RRU each, the day counts, one index page per day on the page
    large_filtered, body = _page_cost(invoke, reads, so_status="REGISTERED")
    assert len(body["data"]["outbounds"]) == 20 and large_filtered <= small_filtered + 1
    assert body["pagination"]["total_exact"] is False and body["pagination"]["total_elements"] == 40  # this page and the next

    reads.rru = 0.0
    none = invoke("list_orders", path_parameters={"outbound_type": "WMS"}, query={})  # every order still REGISTERED
    assert none.body["data"]["outbounds"] == [] and none.body["pagination"]["total_exact"] is False  # read budget spent
    assert reads.rru <= MAX_LIST_FETCHES * 0.5 + 4  # the status is on the orders: at most 100 read, a few index pages

    beyond = invoke("list_orders", query={"so_status": "REGISTERED", "limit": "100", "page": "25"})  # past the fetch budget
    assert [o["order_no"] for o in beyond.body["data"]["outbounds"]] == [o.order_no for o in reversed(orders[-2500:-2400])]
    assert beyond.body["pagination"]["total_elements"] == 2600  # this page and the next: deep filtered pages are read too

    deep, body = _page_cost(invoke, reads, page="100")  # whole days before the page are skipped by their counts
    assert [o["order_no"] for o in body["data"]["outbounds"]] == [o.order_no for o in reversed(orders[-2000:-1980])]
    assert deep <= small + 3


def _store(repo: Any, base: Order, order_no: str, created: datetime) -> Order:
    order = base.model_copy(update={"order_no": order_no, "created_at": created, "updated_at": created})
    assert repo.insert(order, make_event(order, "order.created", "api")) is None
    return order


def _order_row(hub: Hub, order_no: str) -> dict[str, Any]:
    return next(row for row in hub.raw_items(f"ORDER#acme#{WH}#{order_no}") if row["sk"]["S"] == "ORDER")


def test_spread_keys_are_listed_in_order_across_the_day_boundary(hub: Hub, invoke: Invoke) -> None:
    invoke("create_order", body=order_body(so_number="SO-TEMPLATE"))
    repo = wiring.order_repository()
    base = repo.get("acme", WH, "SO-TEMPLATE")
    assert base is not None
    midnight = datetime(2026, 11, 24, tzinfo=UTC)
    stamps = [midnight - timedelta(seconds=3), midnight - timedelta(seconds=1), midnight, midnight + timedelta(seconds=2)]
    stored = [_store(repo, base, f"SO-B{n}", at) for n, at in enumerate(stamps)]
    rows = {o.order_no: _order_row(hub, o.order_no) for o in stored}
    assert {row["gsi1pk"]["S"] for row in rows.values()} == {"C#acme#2026-11-23", "C#acme#2026-11-24"}  # no one key per tenant

    window = {"created_start": "2026-11-23", "created_end": "2026-11-24", "limit": "3"}
    first = invoke("list_orders", query=window)
    second = invoke("list_orders", query={**window, "page": "2"})
    assert [o["order_no"] for o in first.body["data"]["outbounds"]] == ["SO-B3", "SO-B2", "SO-B1"]  # across midnight
    assert [o["order_no"] for o in second.body["data"]["outbounds"]] == ["SO-B0"]
    assert first.body["pagination"]["total_elements"] == 4 and first.body["pagination"]["total_exact"] is True
    everything = invoke("list_orders", query={"limit": "100"}).body["data"]["outbounds"]
    assert [o["order_no"] for o in everything] == ["SO-TEMPLATE", "SO-B3", "SO-B2", "SO-B1", "SO-B0"]

    # A change on a later day moves the order's by_updated entry to that day's partition.
    changed_at = midnight + timedelta(days=1, hours=1)
    old = stored[0]
    changed = old.model_copy(update={"version": 2, "updated_at": changed_at, "notes": "later"})
    repo.replace(changed, 1, make_event(changed, "order.updated", "api", old))
    assert _order_row(hub, "SO-B0")["gsi2pk"]["S"] == "U#acme#2026-11-25"
    later = invoke("list_orders", query={"updated_start": "2026-11-25", "updated_end": "2026-11-25"}).body
    assert [o["order_no"] for o in later["data"]["outbounds"]] == ["SO-B0"]
    before = invoke("list_orders", query={"updated_start": "2026-11-23", "updated_end": "2026-11-24"}).body
    assert [o["order_no"] for o in before["data"]["outbounds"]] == ["SO-B3", "SO-B2", "SO-B1"]
    # updated lists: the newest day of the last change first, then the newest created
    since = invoke("list_orders", query={"updated_start": "2026-11-23", "updated_end": "2026-11-25"}).body
    assert [o["order_no"] for o in since["data"]["outbounds"]] == ["SO-B0", "SO-B3", "SO-B2", "SO-B1"]


def test_the_day_counts_count_each_order_once(invoke: Invoke) -> None:
    assert invoke("create_order").status == 200
    assert invoke("create_order").headers["x-idempotent-replay"] == "true"  # the replay adds nothing
    assert invoke("create_order", body=order_body(so_number="SO-2", warehouse_id="WH-CGK09")).status == 200
    assert invoke("create_order", tenant="rival").status == 200  # another tenant counts apart
    listed = invoke("list_orders", query={})
    assert listed.body["pagination"]["total_elements"] == 2 and listed.body["pagination"]["total_exact"] is True
    assert invoke("list_orders", tenant="rival", query={}).body["pagination"]["total_elements"] == 1


def test_status_changes_rewrite_the_created_index_entry_only_when_the_order_ends(hub: Hub, invoke: Invoke) -> None:
    """by_created is written at the create and once more at the end: not at each status change in between."""
    indexes = load_template()["Resources"]["OrdersTable"]["Properties"]["GlobalSecondaryIndexes"]
    gsi = next(g for g in indexes if g["IndexName"] == "by_created")
    index = IndexSpec("by_created", ("gsi1pk", "gsi1sk"), "INCLUDE", frozenset(gsi["Projection"]["NonKeyAttributes"]))
    invoke("create_order", body=order_body(so_number="SO-IDX"))
    repo = wiring.order_repository()
    entries = [projected(_order_row(hub, "SO-IDX"), index, ("pk", "sk"))]
    for status in (ApiStatus.CREATED, ApiStatus.ALLOCATED, ApiStatus.CLOSED):
        old = repo.get("acme", WH, "SO-IDX")
        assert old is not None
        new = old.model_copy(update={"status": status, "version": old.version + 1})
        repo.replace(new, old.version, make_event(new, "order.status_changed", "poller", old))
        assert _order_row(hub, "SO-IDX")["version"]["N"] == str(new.version)
        entries.append(projected(_order_row(hub, "SO-IDX"), index, ("pk", "sk")))
    created, *in_flight, ended = entries
    assert created is not None and ended is not None and in_flight == [created, created]  # CREATED, ALLOCATED: no write
    assert ended == {**created, "so_status": {"S": "CLOSED"}}  # the end: one index write
    closed = invoke("list_orders", query={"so_status": "CLOSED"}).body
    assert [o["order_no"] for o in closed["data"]["outbounds"]] == ["SO-IDX"]
    assert invoke("list_orders", query={"so_status": "CREATED"}).body["data"]["outbounds"] == []


def test_lists_of_an_ended_status_read_the_index_and_of_one_in_flight_the_orders_in_flight(
    hub: Hub, invoke: Invoke, reads: Reads
) -> None:
    repo = wiring.order_repository()
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=1)
    orders = sample_orders("acme", 400, 1, now)
    ended = [o.model_copy(update={"status": ApiStatus.CLOSED, "version": 2}) for o in orders[:300]]
    repo.bulk_load(ended + orders[300:])  # the newest 100 still REGISTERED
    stamp = now + timedelta(minutes=30)  # the newest order, stored before
    older = orders[0].model_copy(update={"order_no": "SO-OLDER", "status": ApiStatus.ALLOCATED, "created_at": stamp})
    repo.bulk_load([older])
    client = dynamodb_client()  # an item written before the index kept only ended statuses: every status, and in_wms
    key = {"pk": {"S": f"ORDER#acme#{WH}#SO-OLDER"}, "sk": {"S": "ORDER"}}
    client.update_item(
        TableName=hub.tables["OrdersTable"],
        Key=key,
        UpdateExpression="SET so_status = :s, in_wms = :w",
        ExpressionAttributeValues={":s": {"S": "ALLOCATED"}, ":w": {"S": "1"}},
    )
    invoke("list_orders")  # warms the auth cache

    _, body = _page_cost(invoke, reads, so_status="CLOSED", page="10")  # 180 ended orders before the page
    assert [o["order_no"] for o in body["data"]["outbounds"]] == [o.order_no for o in reversed(ended[-200:-180])]
    assert body["pagination"]["total_elements"] == 220
    assert reads.orders == 20  # the page's own orders: the index decided the 220 before and after it

    _, body = _page_cost(invoke, reads, so_status="REGISTERED", page="2")
    assert [o["order_no"] for o in body["data"]["outbounds"]] == [o.order_no for o in reversed(orders[-40:-20])]
    assert reads.orders == 60  # in flight: the orders up to the end of the next page, never an ended one

    _, body = _page_cost(invoke, reads, so_status="ALLOCATED")
    assert [o["order_no"] for o in body["data"]["outbounds"]] == ["SO-OLDER"]  # the older entry's status counts...
    assert reads.orders == 101  # ... unread; the 100 in flight are read (the budget), then the page's order

    reads.orders = 0
    body = invoke("list_orders", path_parameters={"outbound_type": "WMS"}, query={"limit": "100"}).body
    outbounds = [o["order_no"] for o in body["data"]["outbounds"]]
    assert outbounds == ["SO-OLDER"] + [o.order_no for o in reversed(ended[-99:])]  # REGISTERED: not in the WMS
    assert reads.orders == 200  # the 100 in flight, tested on the orders, and the page's 100
