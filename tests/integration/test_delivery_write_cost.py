"""What the delivery log costs in DynamoDB writes, counted on the real adapter (moto) with every
call sized by the cost model's meter: a delivered callback, and one that fails all its attempts."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from benchmarks.cost_model import Meter, table_specs
from local_stack.template import load_template
from local_stack.testkit import MotoHubFactory, order_body
from order_hub import wiring
from order_hub.models.api import CreateOrderRequest
from order_hub.models.endpoints import Endpoint
from order_hub.models.order import OrderEvent
from order_hub.ports import SendResult
from order_hub.services import orders
from order_hub.services.callback_delivery import Worker, plan_deliveries
from tests.fakes import InMemoryOrderRepository, InMemoryTenantDirectory, ScriptedSender

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
WRITES = ("dynamodb.UpdateItem", "dynamodb.PutItem", "dynamodb.DeleteItem", "dynamodb.BatchWriteItem")


@pytest.fixture
def meter(moto_hub_factory: MotoHubFactory) -> Iterator[Meter]:
    hub = moto_hub_factory()
    counted = Meter(table_specs(load_template(), hub.resources), memory_mb=512)
    counted.current = "worker"
    try:
        yield counted
    finally:
        counted.close()


def _event(order_no: str = "SO-1", seq: int | None = None) -> OrderEvent:
    from order_hub.services.tenants import create_tenant

    tenant = create_tenant(InMemoryTenantDirectory(), "acme", "Acme", ["WH-TGR04"])
    repo = InMemoryOrderRepository()
    orders.create_order(tenant, CreateOrderRequest.model_validate(order_body(so_number=order_no)), repo)
    event = repo.events[-1]
    if seq is None:
        return event
    return event.model_copy(update={"seq": seq, "event_id": orders.event_id_of("acme", event.warehouse_id, order_no, seq)})


def _worker(sender: ScriptedSender, clock: list[datetime]) -> tuple[Worker, Endpoint]:
    endpoint = Endpoint.model_validate(
        {
            "tenant_id": "acme",
            "endpoint_id": "erp",
            "url": "https://erp.example.com/hook",
            "format": "standard",
            "created_at": T0,
            "updated_at": T0,
        }
    )
    worker = Worker(
        log=wiring.delivery_log(),
        sender=sender,
        endpoint_of=lambda tenant, endpoint_id, consistent: endpoint,
        disable_endpoint=lambda endpoint, reason: None,
        retry_schedule=SCHEDULE,
        now=lambda: clock[0],
    )
    return worker, endpoint


def _writes(meter: Meter) -> int:
    usage = meter.usage["worker"]
    return sum(count for name, count in usage.calls.items() if name in WRITES)


def test_a_delivered_callback_costs_one_small_write(meter: Meter) -> None:
    worker, endpoint = _worker(ScriptedSender(SendResult(status_code=204, body="ok")), [T0])
    first, later = _event(seq=3), _event(seq=5)
    [message] = plan_deliveries(first, [endpoint])  # the order's first event at the endpoint: no previous one
    [linked] = [m.model_copy(update={"prev_seq": 3}) for m in plan_deliveries(later, [endpoint])]

    assert worker.attempt(message, first).outcome == "delivered"

    usage = meter.usage["worker"]
    assert _writes(meter) == 1  # no claim: the record is written once, with the outcome
    assert usage.calls["dynamodb.Query"] == 0 and usage.calls["dynamodb.DeleteItem"] == 0
    assert usage.wru == 2  # the record (1 KB) + its KEYS_ONLY by_endpoint entry
    assert usage.rru == 1  # its own record (consistent, missing: 1)
    assert usage.calls["dynamodb.BatchGetItem"] == 1  # the gate: one read call
    assert worker.attempt(message, first).outcome == "duplicate" and _writes(meter) == 1  # a copy writes nothing

    assert worker.attempt(linked, later).outcome == "delivered"  # the previous event at the endpoint is recorded
    assert _writes(meter) == 2 and usage.wru == 4
    assert usage.rru == 1 + 1 + 1.5  # the copy read its own record; the later one its own and (eventually) the previous one's
    assert usage.calls["dynamodb.BatchGetItem"] == 4  # one each, and the previous record's


def test_a_callback_failing_all_eight_attempts_writes_a_bounded_amount(meter: Meter) -> None:
    clock = [T0]
    body = secrets.token_urlsafe(4000)  # an error page that hardly compresses: the worst case
    worker, endpoint = _worker(ScriptedSender(SendResult(status_code=503, body=body)), clock)
    event = _event()
    [message] = plan_deliveries(event, [endpoint])
    steps = []
    for _ in range(len(SCHEDULE) + 1):
        steps.append(worker.attempt(message, event))
        clock[0] += timedelta(seconds=steps[-1].delay or 1)

    assert [s.action for s in steps] == ["retry"] * 7 + ["dead"]
    usage = meter.usage["worker"]
    assert _writes(meter) == 15  # the first attempt's record, then one claim and one finish per retry, nothing else
    # the record keeps the last 3 attempts (responses cut to 512 bytes): at most ~4 KB, and the problem
    # index entry is written once (KEYS_ONLY, its key fixed while the delivery stays a problem)
    assert usage.wru <= 32, usage.wru  # 15 writes of at most 2 KB (zlib doc), 2 index entries; main: 123-367
    record = wiring.delivery_log().get(message.delivery_id)
    assert record is not None and record.status == "failed" and record.attempts_dropped == 5


def test_events_are_read_eventually_consistent_and_only_missing_ones_again_consistently(meter: Meter) -> None:
    """A stored event never changes: the worker's read needs only its existence, so it costs half."""
    stored, unstored = _event("SO-E1"), _event("SO-E2")
    wiring.outbox().store_event(stored)
    key, missing = ((event.tenant_id, event.warehouse_id, event.order_no, event.seq) for event in (stored, unstored))
    calls: list[bool] = []

    def seen(params: dict[str, object], **_: object) -> None:
        for request in params["RequestItems"].values():  # type: ignore[attr-defined]
            calls.append(bool(request.get("ConsistentRead")))

    client = wiring.event_store().client
    client.meta.events.register("provide-client-params.dynamodb.BatchGetItem", seen)
    try:
        found = wiring.event_store().get_events([key, missing])
        assert calls == [False, True]  # both eventually consistent, then the missing one consistently
        assert set(found) == {key}
        calls.clear()
        assert set(wiring.event_store().get_events([key])) == {key} and calls == [False]
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.BatchGetItem", seen)
