"""Delivery fan-out, attempts, retries, permanent failures, ordering and concurrency (in-memory fakes)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local_stack.template import load_template
from order_hub.errors import InvalidInput
from order_hub.models.api import CreateOrderRequest
from order_hub.models.endpoints import Delivery, DeliveryRef, Endpoint
from order_hub.models.order import OrderEvent
from order_hub.ports import SendResult
from order_hub.rendering.callbacks.base import Rendered
from order_hub.services import orders
from order_hub.services.callback_delivery import (
    ABSENT_LAPSE,
    DELIVERY_MAX_RECEIVES,
    DeliveryChain,
    MessageIds,
    Received,
    Step,
    Worker,
    attempt_batch,
    deliver_batch,
    plan_deliveries,
)
from order_hub.services.replays import redrive_dead_letters, replay_delivery, replay_endpoint
from order_hub.services.tenants import create_tenant
from tests.fakes import (
    FakeQueue,
    InMemoryDeliveryLog,
    InMemoryOrderRepository,
    InMemoryOutbox,
    InMemoryTenantDirectory,
    ScriptedSender,
)
from tests.payloads import order_body

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)


def _endpoint(endpoint_id: str = "erp", fmt: str = "standard", **extra: object) -> Endpoint:
    return Endpoint.model_validate(
        {
            "tenant_id": "acme",
            "endpoint_id": endpoint_id,
            "url": f"https://{endpoint_id}.example.com/hook",
            "format": fmt,
            "created_at": T0,
            "updated_at": T0,
            **extra,
        }
    )


def _event(order_no: str = "SO-1", seq_bump: int = 0) -> OrderEvent:
    directory = InMemoryTenantDirectory()
    tenant = create_tenant(directory, "acme", "Acme", ["WH-TGR04"])
    repo = InMemoryOrderRepository()
    orders.create_order(tenant, CreateOrderRequest.model_validate(order_body(so_number=order_no)), repo)
    event = repo.events[-1]
    seq = event.seq + seq_bump
    return event.model_copy(update={"seq": seq, "event_id": orders.event_id_of("acme", event.warehouse_id, order_no, seq)})


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Hub:
    def __init__(self, *results: SendResult, endpoints: list[Endpoint] | None = None) -> None:
        self.log = InMemoryDeliveryLog()
        self.sender = ScriptedSender(*results)
        self.endpoints = {e.endpoint_id: e for e in endpoints or [_endpoint()]}
        self.disabled: list[tuple[str, str]] = []
        self.clock = Clock()
        self.replica: dict[str, Endpoint | None] = {}  # what an eventually consistent read sees, when behind
        self.endpoint_reads: list[bool] = []  # consistent? per read

        def endpoint_of(tenant: str, endpoint_id: str, consistent: bool) -> Endpoint | None:
            self.endpoint_reads.append(consistent)
            if not consistent and endpoint_id in self.replica:
                return self.replica[endpoint_id]
            return self.endpoints.get(endpoint_id)

        self.worker = Worker(
            log=self.log,
            sender=self.sender,
            endpoint_of=endpoint_of,
            disable_endpoint=lambda endpoint, reason: self.disabled.append((endpoint.endpoint_id, reason)),
            retry_schedule=SCHEDULE,
            now=self.clock,
        )
        self.outbox = InMemoryOutbox()
        self.chain = DeliveryChain(self.outbox, MessageIds(self.log.allocate_message_ids))
        self.planned: dict[str, dict[str, DeliveryRef]] = {}

    def dispatch(self, *events: OrderEvent) -> None:
        """Plan the events' deliveries as the dispatcher does (in the stream's order: by seq)."""
        for event in sorted(events, key=lambda e: e.seq):
            if event.event_id not in self.planned:
                planned = plan_deliveries(event, list(self.endpoints.values()), self.chain)
                self.planned[event.event_id] = {m.endpoint_id: m for m in planned}

    def message(self, event: OrderEvent, endpoint_id: str = "erp") -> DeliveryRef:
        self.dispatch(event)
        return self.planned[event.event_id][endpoint_id]


def test_plan_matches_enabled_endpoints_their_event_filter_and_what_the_format_emits() -> None:
    event = _event()
    endpoints = [
        _endpoint("all"),
        _endpoint("only-shipped", events=["order.shipped"]),
        _endpoint("created", events=["order.created"]),
        _endpoint("off", enabled=False),
        _endpoint("pos", fmt="unicommerce"),  # Unicommerce only hears about dispatches
    ]

    planned = plan_deliveries(event, endpoints)

    assert [m.endpoint_id for m in planned] == ["all", "created"]
    assert planned[0].delivery_id == f"{event.event_id}.all"  # deterministic: event id + endpoint id
    assert plan_deliveries(event, endpoints) == planned  # a redelivered stream record plans the same ids


def test_a_delivered_callback_is_logged_and_never_sent_twice() -> None:
    hub = Hub(SendResult(status_code=204, latency_ms=12))
    event = _event()
    message = hub.message(event)

    first = hub.worker.attempt(message, event)
    duplicate = hub.worker.attempt(message, event)  # the same message again (stream or SQS redelivery)

    assert (first.action, first.outcome) == ("ack", "delivered")
    assert (duplicate.action, duplicate.outcome) == ("ack", "duplicate")
    assert len(hub.sender.sent) == 1
    record = hub.log.get(message.delivery_id)
    assert record is not None and record.status == "delivered" and record.delivered_at == T0
    assert [(a.n, a.status_code, a.latency_ms) for a in record.attempts] == [(1, 204, 12)]


def test_failures_follow_the_retry_schedule_then_go_to_the_dlq() -> None:
    hub = Hub(SendResult(status_code=503, body="down"))
    event = _event()
    message = hub.message(event)
    steps = []
    for _ in range(len(SCHEDULE) + 1):
        step = hub.worker.attempt(message, event)
        steps.append(step)
        hub.clock.now += timedelta(seconds=step.delay or 1)

    assert [s.delay for s in steps[:-1]] == list(SCHEDULE)
    assert all(s.action == "retry" for s in steps[:-1])
    assert steps[-1].action == "dead" and "the last" in steps[-1].reason
    record = hub.log.get(message.delivery_id)
    assert record is not None and record.status == "failed" and record.attempt_count == 8
    assert [a.n for a in record.attempts] == [6, 7, 8] and record.attempts_dropped == 5  # the last 3 in full
    assert record.attempts[0].response == "down" and record.attempts[0].outcome == "retry"
    assert hub.worker.attempt(message, event).outcome == "duplicate"  # failed for good: not attempted again


def test_recovery_after_retries_keeps_the_same_delivery_id() -> None:
    hub = Hub(SendResult(status_code=500), SendResult(status_code=500), SendResult(status_code=200))
    event = _event()
    message = hub.message(event)

    outcomes = [hub.worker.attempt(message, event).outcome for _ in range(3)]

    assert outcomes == ["retry", "retry", "delivered"]
    assert {delivery_id for _, _, delivery_id in hub.sender.sent} == {message.delivery_id}


def test_an_attempt_in_flight_elsewhere_defers_instead_of_dropping_the_message() -> None:
    hub = Hub()
    event = _event()
    message = hub.message(event)
    hub.log.claim(Delivery(**message.model_dump(), created_at=T0, updated_at=T0), T0, lease_seconds=60)  # another worker

    step = hub.worker.attempt(message, event)

    assert (step.action, step.outcome) == ("requeue", "deferred") and step.delay > 0
    assert hub.sender.sent == []


def test_gone_disables_a_standard_endpoint_and_fails_the_delivery() -> None:
    hub = Hub(SendResult(status_code=410))
    event = _event()

    step = hub.worker.attempt(hub.message(event), event)

    assert step.action == "dead" and step.reason.startswith("gone")
    assert [endpoint_id for endpoint_id, _ in hub.disabled] == ["erp"]


def test_a_permanent_client_error_is_not_retried_but_a_429_is() -> None:
    hub = Hub(SendResult(status_code=400), endpoints=[_endpoint()])
    event = _event()
    assert hub.worker.attempt(hub.message(event), event).action == "dead"

    hub = Hub(SendResult(status_code=429))
    assert hub.worker.attempt(hub.message(event), event).action == "retry"


def test_missing_vendor_fields_fail_for_good_without_sending() -> None:
    hub = Hub(endpoints=[_endpoint("omni", fmt="increff")])
    event = _event()

    step = hub.worker.attempt(hub.message(event, "omni"), event)

    assert step.action == "dead" and "partner_code" in step.reason
    assert hub.sender.sent == []


def test_disabled_or_deleted_endpoints_skip_the_delivery() -> None:
    hub = Hub()
    event = _event()
    message = hub.message(event)
    hub.endpoints["erp"] = hub.endpoints["erp"].model_copy(update={"enabled": False, "disabled_reason": "by ops"})

    step = hub.worker.attempt(message, event)

    assert (step.action, step.outcome) == ("ack", "skipped") and "by ops" in step.reason
    record = hub.log.get(message.delivery_id)
    assert record is not None and record.status == "skipped"
    assert hub.sender.sent == []


def test_the_endpoint_is_read_eventually_consistent_and_a_skip_only_on_a_consistent_read() -> None:
    """A replica a moment behind may send once more to an endpoint disabled a moment ago, but never
    drops a delivery to one registered or enabled again a moment ago."""
    hub = Hub(SendResult(status_code=200), SendResult(status_code=200))
    first, second = _event("SO-1"), _event("SO-2")
    hub.replica["erp"] = None  # registered a moment ago: the replica does not know it yet

    assert hub.worker.attempt(hub.message(first), first).outcome == "delivered"
    assert hub.endpoint_reads == [False, True]  # not found on the replica: asked for sure

    enabled = hub.endpoints["erp"]
    hub.replica["erp"] = enabled.model_copy(update={"enabled": False, "disabled_reason": "by ops"})  # enabled again just now
    hub.endpoint_reads.clear()
    assert hub.worker.attempt(hub.message(second), second).outcome == "delivered"
    assert hub.endpoint_reads == [False, True]

    third = _event("SO-3")
    hub.replica.clear()
    hub.endpoint_reads.clear()
    assert hub.worker.attempt(hub.message(third), third).outcome == "delivered"
    assert hub.endpoint_reads == [False]  # an enabled endpoint: one read at half the cost


def test_an_expired_event_or_a_refused_address_fails_for_good() -> None:
    hub = Hub(SendResult(refused=True, error="refused: 10.0.0.1 is a private address"))
    event = _event()

    assert hub.worker.attempt(hub.message(event), None).reason == "event expired from the outbox"
    other = _event("SO-2")
    step = hub.worker.attempt(hub.message(other), other)
    assert step.action == "dead" and "private" in step.reason


def test_rate_limited_endpoints_defer_without_spending_an_attempt() -> None:
    hub = Hub(endpoints=[_endpoint(rate_limit_per_second=1)])
    first, second = _event("SO-1"), _event("SO-2")

    sent = hub.worker.attempt(hub.message(first), first)
    held = hub.worker.attempt(hub.message(second), second)

    assert sent.outcome == "delivered"
    assert (held.action, held.outcome, held.delay) == ("requeue", "deferred", 1)
    assert hub.log.get(hub.message(second).delivery_id) is None  # no attempt recorded


def test_a_batch_sends_to_different_endpoints_concurrently() -> None:
    """Two endpoints' requests must be in flight at the same time (a barrier both must reach)."""
    barrier = threading.Barrier(2, timeout=5)

    class BarrierSender(ScriptedSender):
        def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
            barrier.wait()  # raises BrokenBarrierError if the other request is not in flight
            return super().send(endpoint, rendered, delivery_id)

    hub = Hub(endpoints=[_endpoint("a"), _endpoint("b")])
    hub.worker.sender = BarrierSender(SendResult(status_code=200))
    event = _event()
    messages = {"m1": hub.message(event, "a"), "m2": hub.message(event, "b")}

    steps = attempt_batch(hub.worker, messages, {m.event_key: event for m in messages.values()}, concurrency=10)

    assert {k: s.outcome for k, s in steps.items()} == {"m1": "delivered", "m2": "delivered"}


def test_an_orders_events_go_in_sequence_and_wait_behind_a_retry() -> None:
    hub = Hub(SendResult(status_code=500), SendResult(status_code=200))
    first, second, third = _event("SO-1"), _event("SO-1", 1), _event("SO-1", 2)
    hub.dispatch(first, second, third)
    messages = {"m3": hub.message(third), "m1": hub.message(first), "m2": hub.message(second)}
    events = {
        m.event_key: e for m, e in ((hub.message(first), first), (hub.message(second), second), (hub.message(third), third))
    }

    steps = attempt_batch(hub.worker, messages, events, concurrency=10)

    assert steps["m1"].outcome == "retry"
    assert (steps["m2"].outcome, steps["m2"].delay) == ("deferred", SCHEDULE[0])
    assert steps["m3"].outcome == "deferred"
    assert [delivery_id for _, _, delivery_id in hub.sender.sent] == [hub.message(first).delivery_id]

    hub.sender.results = [SendResult(status_code=200)]
    again = attempt_batch(hub.worker, messages, events, concurrency=10)
    assert [again[k].outcome for k in ("m1", "m2", "m3")] == ["delivered"] * 3
    assert [d for _, _, d in hub.sender.sent][1:] == [hub.message(e).delivery_id for e in (first, second, third)]


class Events:
    def __init__(self, *events: OrderEvent) -> None:
        self.events = {(e.tenant_id, e.warehouse_id, e.order_no, e.seq): e for e in events}

    def get_events(self, keys: list[tuple[str, str, str, int]]) -> dict[tuple[str, str, str, int], OrderEvent]:
        return {key: self.events[key] for key in keys if key in self.events}


def _received(message_id: str, message: DeliveryRef, receive_count: int = 1) -> Received:
    return Received(message_id, message.model_dump_json(), f"rh-{message_id}", receive_count)


def test_a_retry_is_settled_when_its_attempt_ends_not_after_the_batch() -> None:
    """The failing endpoint's retry visibility is set while the slow endpoint's request is still in flight."""
    queue, dlq = FakeQueue(), FakeQueue()
    settled_first = threading.Event()

    class Slow(ScriptedSender):
        def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
            if endpoint.endpoint_id == "slow":
                settled_first.wait(timeout=5)  # only returns early if the other message was already settled
                return SendResult(status_code=200, body="{}")
            return SendResult(status_code=500, body="down")

    class SettleWatch(FakeQueue):
        def retry_later(self, receipt_handle: str, seconds: int) -> None:
            super().retry_later(receipt_handle, seconds)
            settled_first.set()

    queue = SettleWatch()
    hub = Hub(endpoints=[_endpoint("slow"), _endpoint("failing")])
    hub.worker.sender = Slow()
    event = _event()
    received = [_received("m1", hub.message(event, "slow")), _received("m2", hub.message(event, "failing"))]

    outcome = deliver_batch(received, hub.worker, Events(event), queue, dlq, concurrency=10)

    assert settled_first.is_set() and queue.retries == [("rh-m2", SCHEDULE[0])]
    assert outcome.settled["m2"].comes_back and outcome.settled["m1"].step.outcome == "delivered"


def test_deferrals_are_sent_again_with_a_delay_and_count_no_receive() -> None:
    queue, dlq = FakeQueue(), FakeQueue()
    hub = Hub(endpoints=[_endpoint(rate_limit_per_second=1)])
    first, second = _event("SO-1"), _event("SO-2")
    received = [_received("m1", hub.message(first)), _received("m2", hub.message(second))]

    outcome = deliver_batch(received, hub.worker, Events(first, second), queue, dlq, concurrency=10)

    assert sorted(s.step.outcome for s in outcome.settled.values()) == ["deferred", "delivered"]
    assert queue.retries == [] and queue.delays == [1] and len(queue.sent) == 1
    assert not any(s.comes_back for s in outcome.settled.values())  # both copies acknowledged


def test_on_its_last_receive_a_retry_fails_for_good_recorded_instead_of_being_dead_lettered_silently() -> None:
    queue, dlq = FakeQueue(), FakeQueue()
    hub = Hub(SendResult(status_code=500, body="down"))
    event = _event()
    message = hub.message(event)

    outcome = deliver_batch(
        [_received("m1", message, receive_count=DELIVERY_MAX_RECEIVES)], hub.worker, Events(event), queue, dlq, 10
    )

    assert outcome.settled["m1"].step.action == "dead" and queue.retries == []
    assert [m.model_dump()["delivery_id"] for m in dlq.sent] == [message.delivery_id]
    record = hub.log.get(message.delivery_id)
    assert record is not None and record.status == "failed" and "receive limit" in record.last_error
    assert [d.delivery_id for d in hub.log.list_problems("acme", 10)] == [message.delivery_id]


def test_an_earlier_event_waiting_on_its_last_receive_sends_the_later_one_again() -> None:
    queue, dlq = FakeQueue(), FakeQueue()
    hub = Hub(SendResult(status_code=500))
    first, second = _event("SO-1"), _event("SO-1", 1)
    hub.dispatch(first, second)
    received = [_received("m1", hub.message(first)), _received("m2", hub.message(second), DELIVERY_MAX_RECEIVES)]

    outcome = deliver_batch(received, hub.worker, Events(first, second), queue, dlq, concurrency=10)

    assert outcome.settled["m2"].step.action == "requeue" and queue.delays == [SCHEDULE[0]]
    assert queue.retries == [("rh-m1", SCHEDULE[0])]


def test_the_worker_knows_the_delivery_queues_max_receive_count() -> None:
    template = load_template()
    policy = template["Resources"]["DeliveryQueue"]["Properties"]["RedrivePolicy"]
    assert int(policy["maxReceiveCount"]) == DELIVERY_MAX_RECEIVES


def test_replays_reopen_and_requeue_under_the_same_delivery_id() -> None:
    hub = Hub(SendResult(status_code=400))
    event = _event()
    message = hub.message(event)
    hub.worker.attempt(message, event)  # failed for good
    queued = FakeQueue()

    reopened = replay_delivery(hub.log, queued, message.delivery_id, T0)

    assert reopened.status == "pending" and reopened.replays == 1
    assert queued.bodies == [message.model_dump(mode="json")]
    with pytest.raises(InvalidInput, match="no delivery"):
        replay_delivery(hub.log, queued, message.delivery_id, T0, tenant_id="rival")
    hub.sender.results = [SendResult(status_code=200)]
    assert hub.worker.attempt(message, event).outcome == "delivered"  # a fresh schedule, same id


def test_replay_endpoint_since_a_time_picks_unfinished_deliveries() -> None:
    hub = Hub(SendResult(status_code=400), SendResult(status_code=200))
    failed, delivered = _event("SO-1"), _event("SO-2")
    hub.worker.attempt(hub.message(failed), failed)
    hub.worker.attempt(hub.message(delivered), delivered)
    queued = FakeQueue()

    ids = replay_endpoint(hub.log, queued, "acme", "erp", T0 - timedelta(hours=1), T0)
    all_ids = replay_endpoint(hub.log, queued, "acme", "erp", T0 - timedelta(hours=1), T0, include_delivered=True)

    assert ids == [hub.message(failed).delivery_id]
    assert all_ids == [hub.message(delivered).delivery_id]  # the failed one is queued (pending) already
    assert replay_endpoint(hub.log, queued, "acme", "erp", T0 + timedelta(hours=1), T0) == []


def test_redrive_moves_dead_letters_back_and_keeps_unreadable_ones() -> None:
    hub = Hub(SendResult(status_code=400))
    event = _event()
    message = hub.message(event)
    hub.worker.attempt(message, event)
    dlq = FakeQueue([("r1", message.model_dump_json()), ("r2", "not json")])
    queued = FakeQueue()

    counts = redrive_dead_letters(hub.log, dlq, queued, T0)

    assert counts == {"moved": 1, "skipped": 0, "failed": 1}
    assert dlq.deleted == ["r1"] and queued.bodies == [message.model_dump(mode="json")]
    record = hub.log.get(message.delivery_id)
    assert record is not None and record.status == "pending"


class EndlessDlq(FakeQueue):
    """A DLQ that never runs dry: what it holds comes back on every receive (the 10,000-loop of issue 13)."""

    def __init__(self, *messages: tuple[str, str]) -> None:
        super().__init__()
        self.messages = list(messages)
        self.receives = 0

    def receive(self) -> list[tuple[str, str]]:
        self.receives += 1
        return list(self.messages)


def test_redrive_moves_each_message_once_skips_delivered_ones_and_ends() -> None:
    hub = Hub(SendResult(status_code=400), SendResult(status_code=200))
    failed, delivered = _event("SO-1"), _event("SO-2")
    hub.worker.attempt(hub.message(failed), failed)  # failed for good: dead-lettered
    hub.worker.attempt(hub.message(delivered), delivered)  # delivered (say, by a replay) after it was dead-lettered
    dlq = EndlessDlq(("r1", hub.message(failed).model_dump_json()), ("r2", hub.message(delivered).model_dump_json()))
    queued = FakeQueue()

    counts = redrive_dead_letters(hub.log, dlq, queued, T0)

    assert counts == {"moved": 1, "skipped": 1, "failed": 0} and dlq.receives == 2
    assert [m.model_dump()["delivery_id"] for m in queued.sent] == [hub.message(failed).delivery_id]
    assert sorted(dlq.deleted) == ["r1", "r2"]
    record = hub.log.get(hub.message(delivered).delivery_id)
    assert record is not None and record.status == "delivered"


def test_redrive_leaves_a_message_in_the_dlq_when_it_cannot_be_sent() -> None:
    hub = Hub(SendResult(status_code=400))
    event = _event()
    hub.worker.attempt(hub.message(event), event)

    class Down(FakeQueue):
        def send(self, messages: object, delay_seconds: int = 0) -> None:
            raise RuntimeError("SQS unavailable")

    dlq = FakeQueue([("r1", hub.message(event).model_dump_json())])
    assert redrive_dead_letters(hub.log, dlq, Down(), T0) == {"moved": 0, "skipped": 0, "failed": 1}
    assert dlq.deleted == []


# -- per (endpoint, order) ordering across retries and batches -------------------------------------


def test_a_later_event_waits_in_another_batch_while_an_earlier_one_waits_for_its_retry() -> None:
    hub = Hub(SendResult(status_code=500), endpoints=[_endpoint("erp"), _endpoint("crm")])
    first, second, other_order = _event("SO-1"), _event("SO-1", 1), _event("SO-2")
    hub.dispatch(first, second, other_order)

    assert hub.worker.attempt(hub.message(first), first).outcome == "retry"
    hub.clock.now += timedelta(seconds=1)
    held = hub.worker.attempt(hub.message(second), second)  # a later batch
    hub.sender.results = [SendResult(status_code=200)]
    other = hub.worker.attempt(hub.message(other_order), other_order)  # another order: not held
    unsent = hub.worker.attempt(hub.message(second, "crm"), second)  # crm's own first event is not sent yet
    assert hub.log.get(hub.message(second, "crm").delivery_id) is None  # a short wait writes nothing
    assert hub.worker.attempt(hub.message(first, "crm"), first).outcome == "delivered"
    elsewhere = hub.worker.attempt(hub.message(second, "crm"), second)  # another endpoint: erp's retry holds it not

    assert (unsent.action, unsent.outcome, unsent.delay) == ("requeue", "deferred", 1)
    assert (held.action, held.outcome) == ("requeue", "deferred") and held.delay == SCHEDULE[0]  # due + 1 s - 1 s
    waiting = hub.log.get(hub.message(second).delivery_id)
    assert waiting is not None and (waiting.status, waiting.attempt_count) == ("pending", 0)  # no attempt spent
    assert (other.outcome, elsewhere.outcome) == ("delivered", "delivered")

    hub.clock.now = T0 + timedelta(seconds=SCHEDULE[0])
    assert hub.worker.attempt(hub.message(first), first).outcome == "delivered"
    assert hub.worker.attempt(hub.message(second), second).outcome == "delivered"
    erp = [d for e, _, d in hub.sender.sent if e.endpoint_id == "erp"]
    ids = [hub.message(e).delivery_id for e in (first, other_order, first, second)]
    assert erp == ids  # the later event only after the earlier one was delivered


def test_an_earlier_event_dead_lettered_no_longer_holds_the_later_ones() -> None:
    hub = Hub(SendResult(status_code=500))
    first, second = _event("SO-1"), _event("SO-1", 1)
    hub.dispatch(first, second)
    assert hub.worker.attempt(hub.message(first), first).outcome == "retry"
    hub.sender.results = [SendResult(status_code=400)]  # now a permanent failure: dead-lettered
    assert hub.worker.attempt(hub.message(first), first).action == "dead"

    hub.sender.results = [SendResult(status_code=200)]
    assert hub.worker.attempt(hub.message(second), second).outcome == "delivered"


def test_an_event_in_flight_holds_the_later_ones_and_a_lapsed_hold_holds_nobody() -> None:
    hub = Hub()
    first, second = _event("SO-1"), _event("SO-1", 1)
    hub.dispatch(first, second)
    assert hub.log.claim(Delivery(**hub.message(first).model_dump(), created_at=T0, updated_at=T0), T0, 60).granted
    # first is in flight elsewhere (claimed, lease 60 s)

    held = hub.worker.attempt(hub.message(second), second)
    hub.clock.now = T0 + timedelta(seconds=61)  # that worker crashed: its hold lapsed
    sent = hub.worker.attempt(hub.message(second), second)

    assert (held.outcome, held.delay) == ("deferred", 1) and sent.outcome == "delivered"


def _at(event: OrderEvent, when: datetime = T0) -> OrderEvent:
    return event.model_copy(update={"at": when})


def test_a_later_event_waits_while_the_earlier_one_is_queued_or_in_flight_and_goes_once_it_is_recorded() -> None:
    """The earlier event's first attempt writes nothing until it is over: its record's absence holds the later one."""
    hub = Hub()
    first, second, third = _at(_event("SO-1")), _at(_event("SO-1", 1)), _at(_event("SO-1", 2))
    hub.dispatch(first, second, third)
    assert (hub.message(second).prev_seq, hub.message(third).prev_seq) == (first.seq, second.seq)

    waits = [hub.worker.attempt(hub.message(e), e) for e in (second, third)]  # first still queued
    hub.clock.now += timedelta(seconds=30)
    later = hub.worker.attempt(hub.message(second), second)  # still not recorded: it waits longer

    assert [(s.action, s.outcome, s.delay) for s in waits] == [("requeue", "deferred", 1)] * 2
    assert (later.outcome, later.delay) == ("deferred", 3)  # growing: a tenth of the event's age
    assert hub.sender.sent == [] and hub.log.records == {}  # no attempt, no write while waiting

    class InFlight(ScriptedSender):  # while the first event's request is out, the second is received
        def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
            if delivery_id == hub.message(first).delivery_id:
                seen.append(hub.worker.attempt(hub.message(second), second))
            return super().send(endpoint, rendered, delivery_id)

    seen: list[Step] = []
    hub.worker.sender = InFlight(SendResult(status_code=200))
    assert hub.worker.attempt(hub.message(first), first).outcome == "delivered"
    assert [s.outcome for s in seen] == ["deferred"]
    assert hub.worker.attempt(hub.message(third), third).outcome == "deferred"  # second not recorded yet
    assert [hub.worker.attempt(hub.message(e), e).outcome for e in (second, third)] == ["delivered", "delivered"]
    assert [d for _, _, d in hub.worker.sender.sent] == [hub.message(e).delivery_id for e in (first, second, third)]


def test_the_gate_reads_its_own_record_consistently_and_the_previous_one_eventually_and_a_stale_view_only_waits() -> None:
    hub = Hub()
    first, second = _at(_event("SO-1")), _at(_event("SO-1", 1))
    hub.dispatch(first, second)
    assert hub.worker.attempt(hub.message(first), first).outcome == "delivered"
    own, previous = hub.message(second).delivery_id, hub.message(first).delivery_id
    hub.log.lagging[previous] = None  # the replica has not seen the first one's record yet
    hub.log.state_reads.clear()

    waited = hub.worker.attempt(hub.message(second), second)

    assert hub.log.state_reads == [((own,), True), ((previous,), False)]
    assert (waited.action, waited.outcome) == ("requeue", "deferred")  # waits; never goes on a stale view
    assert hub.worker.attempt(hub.message(second), second).outcome == "delivered"  # the replica caught up
    assert [d for _, _, d in hub.sender.sent] == [previous, own]


def test_a_previous_event_that_never_gets_recorded_holds_the_later_one_until_the_lapse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from order_hub.observability import logger, metrics

    # what the worker counts and logs, taken at the call (the shared metric set and log stream belong to
    # whichever test configured them first)
    counted: list[tuple[str, float]] = []
    warned: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(metrics, "add_metric", lambda name, unit, value, **_: counted.append((name, value)))
    monkeypatch.setattr(logger, "warning", lambda message, extra=None, **_: warned.append((message, extra or {})))
    hub = Hub()
    first, second = _at(_event("SO-1")), _at(_event("SO-1", 1))
    hub.dispatch(first, second)  # the first event's message is lost: it never comes

    hub.clock.now = T0 + timedelta(seconds=ABSENT_LAPSE - 1)
    waiting = hub.worker.attempt(hub.message(second), second)
    hub.clock.now = T0 + timedelta(seconds=ABSENT_LAPSE)
    gone = hub.worker.attempt(hub.message(second), second)

    assert (waiting.outcome, waiting.delay, waiting.gate_lapsed) == ("deferred", 60, False)
    assert (gone.outcome, gone.gate_lapsed) == ("delivered", True)
    assert counted == [("DeliveryGateLapsed", 1)]  # counted
    [(message, extra)] = warned  # and logged
    assert "never recorded" in message and extra["delivery_id"] == hub.message(second).delivery_id


def test_a_deferral_behind_a_retry_holds_the_later_events_longer_than_the_lapse() -> None:
    """A later event deferred behind a long retry writes a hold on its record (pending): the one after it
    waits for that hold, not for the lapse of a missing record."""
    hub = Hub(SendResult(status_code=500))
    first, second, third = _at(_event("SO-1")), _at(_event("SO-1", 1)), _at(_event("SO-1", 2))
    hub.dispatch(first, second, third)
    hub.worker.retry_schedule = (3600, *SCHEDULE[1:])
    assert hub.worker.attempt(hub.message(first), first).outcome == "retry"  # next attempt in an hour
    assert hub.worker.attempt(hub.message(second), second).delay == 3601  # just after the retry is due

    hub.clock.now = T0 + timedelta(seconds=ABSENT_LAPSE + 60)
    third_step = hub.worker.attempt(hub.message(third), third)

    assert (third_step.outcome, third_step.gate_lapsed) == ("deferred", False)
    assert third_step.delay == 3601 + 1 - ABSENT_LAPSE - 60  # until just after the second one looks again
    assert len(hub.sender.sent) == 1


def test_two_copies_attempted_at_once_both_send_with_one_id_and_only_one_records() -> None:
    """Before any attempt is recorded two copies may both send (same webhook-id); the second to record
    is a duplicate and changes nothing; once recorded, no copy sends again."""
    hub = Hub()
    event = _at(_event())
    message = hub.message(event)
    inner: list[Step] = []
    racing = threading.Event()

    class Racing(ScriptedSender):
        def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
            if not racing.is_set():  # the other copy arrives while this request is out, and finishes first
                racing.set()
                inner.append(hub.worker.attempt(message, event))
                return SendResult(status_code=500, body="late")
            return super().send(endpoint, rendered, delivery_id)

    hub.worker.sender = Racing(SendResult(status_code=200))
    outer = hub.worker.attempt(message, event)

    assert [s.outcome for s in inner] == ["delivered"] and outer.outcome == "duplicate"
    record = hub.log.get(message.delivery_id)
    assert record is not None and (record.status, record.attempt_count) == ("delivered", 1)  # not overwritten
    assert [(a.n, a.status_code) for a in record.attempts] == [(1, 200)]
    assert hub.worker.attempt(message, event).outcome == "duplicate" and len(hub.worker.sender.sent) == 1


def test_a_first_attempt_is_recorded_in_one_write_and_retries_claim() -> None:
    class Counting(InMemoryDeliveryLog):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[str] = []

        def record_first(self, *args: object, **kwargs: object) -> bool:
            self.calls.append("record_first")
            return super().record_first(*args, **kwargs)  # type: ignore[arg-type]

        def claim(self, *args: object, **kwargs: object) -> Any:
            self.calls.append("claim")
            return super().claim(*args, **kwargs)  # type: ignore[arg-type]

        def finish(self, *args: object, **kwargs: object) -> None:
            self.calls.append("finish")
            super().finish(*args, **kwargs)  # type: ignore[arg-type]

    hub = Hub(SendResult(status_code=500), SendResult(status_code=200))
    hub.worker.log = hub.log = log = Counting()
    event = _at(_event())
    message = hub.message(event)

    assert hub.worker.attempt(message, event).outcome == "retry"
    assert log.calls == ["record_first"]
    assert hub.worker.attempt(message, event).outcome == "delivered"
    assert log.calls == ["record_first", "claim", "finish"]
    record = log.get(message.delivery_id)
    assert record is not None and [a.n for a in record.attempts] == [1, 2] and record.attempt_count == 2


def test_a_stream_record_dispatched_again_keeps_its_links_and_message_ids() -> None:
    hub = Hub(endpoints=[_endpoint("omni", fmt="increff"), _endpoint("erp")])
    first, second = _at(_event("SO-1")), _at(_event("SO-1", 1))
    hub.dispatch(first, second)
    again = plan_deliveries(
        first, list(hub.endpoints.values()), DeliveryChain(hub.outbox, MessageIds(hub.log.allocate_message_ids))
    )
    writes = hub.outbox.writes
    twice = plan_deliveries(second, list(hub.endpoints.values()), hub.chain)

    assert again == list(hub.planned[first.event_id].values())  # another container: the ids it stored
    assert twice == list(hub.planned[second.event_id].values()) and hub.outbox.writes == writes  # nothing rewritten
    assert hub.message(second, "omni").prev_seq == first.seq and hub.message(second, "omni").message_id == 2
    assert hub.message(first, "erp").message_id is None  # only Increff endpoints are numbered


def test_the_chain_reads_the_latest_stored_event_unless_the_previous_one_was_in_the_same_batch() -> None:
    hub = Hub()
    first, second, third = _at(_event("SO-1")), _at(_event("SO-1", 1)), _at(_event("SO-1", 2))

    hub.dispatch(first, second)
    reads = hub.outbox.reads
    hub.chain.new_batch()
    hub.dispatch(third)

    assert reads == 1  # the first event looked for an earlier one; the second took it from the batch
    assert hub.outbox.reads == 2 and hub.message(third).prev_seq == second.seq


def test_message_ids_are_unique_per_endpoint_and_grow_along_each_orders_events_across_blocks() -> None:
    log = InMemoryDeliveryLog()
    containers = [MessageIds(log.allocate_message_ids, block=3) for _ in range(2)]
    endpoints = [_endpoint("omni", fmt="increff")]
    outboxes = InMemoryOutbox()
    chains = [DeliveryChain(outboxes, ids) for ids in containers]
    base = _at(_event("SO-0"))
    ids: dict[str, list[int]] = {}
    for n in range(12):  # orders of 3 events each, events alternating between the two containers
        order_no = f"SO-{n % 4}"
        seq = n // 4 + 1
        event = base.model_copy(
            update={"order_no": order_no, "seq": seq, "event_id": orders.event_id_of("acme", base.warehouse_id, order_no, seq)}
        )
        [message] = plan_deliveries(event, endpoints, chains[(n + seq) % 2])
        assert message.message_id is not None
        ids.setdefault(order_no, []).append(message.message_id)

    every = [i for order_ids in ids.values() for i in order_ids]
    assert len(every) == len(set(every)) == 12  # unique per endpoint
    assert all(order_ids == sorted(order_ids) and len(set(order_ids)) == 3 for order_ids in ids.values())  # growing
    assert log.counters["acme#omni"] <= 3 * 12 and max(every) > 3  # several blocks, one counter write each
    rival = MessageIds(log.allocate_message_ids, block=3)
    assert rival.next("rival#omni") == 1  # per tenant and endpoint


def test_events_waiting_behind_a_short_deferral_in_their_batch_write_nothing() -> None:
    """Behind a rate-limited earlier event the later ones of the batch wait as long, without a hold:
    the earlier one's missing record holds them (only a wait behind a hold writes one)."""
    hub = Hub(endpoints=[_endpoint(rate_limit_per_second=1)])
    other, first, second = _at(_event("SO-2")), _at(_event("SO-1")), _at(_event("SO-1", 1))
    hub.dispatch(other, first, second)
    assert hub.worker.attempt(hub.message(other), other).outcome == "delivered"  # this second's token
    messages = {"m1": hub.message(first), "m2": hub.message(second)}

    events = {hub.message(e).event_key: e for e in (first, second)}
    steps = attempt_batch(hub.worker, messages, events, concurrency=10)

    assert [(s.outcome, s.delay, s.holds) for s in steps.values()] == [("deferred", 1, False)] * 2
    assert sorted(hub.log.records) == [hub.message(other).delivery_id]  # nothing written for SO-1
