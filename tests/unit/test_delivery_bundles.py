"""Delivery queue bundles (issue 15): up to 10 deliveries a message, an event's together.

The worker attempts each delivery of a bundle on its own; only the ones that must be attempted again
leave as single messages; a crash mid-bundle loses nothing and sends no delivered one twice."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from pydantic import BaseModel

from order_hub.models.endpoints import DeliveryRef, Endpoint
from order_hub.models.messages import MAX_BUNDLE, DeliveryBundle, read_delivery_message
from order_hub.models.order import OrderEvent
from order_hub.ports import SendResult
from order_hub.rendering.callbacks.base import Rendered
from order_hub.services.callback_delivery import MAX_SEND_DELAY, Received, deliver_batch, plan_deliveries
from order_hub.services.dispatch import Planned, bundled, plan_event, send_planned
from order_hub.services.replays import redrive_dead_letters
from tests.fakes import FakeQueue, ScriptedSender
from tests.unit.test_delivery_service import SCHEDULE, T0, Events, Hub, _endpoint, _event

ENDPOINTS = ["a", "b", "c"]


def _bundle(hub: Hub, event: OrderEvent, endpoint_ids: list[str] = ENDPOINTS) -> DeliveryBundle:
    """The event's deliveries to ``endpoint_ids`` in one message, as the dispatcher sends them."""
    [message], _ = bundled([Planned(deliveries=plan_deliveries(event, [hub.endpoints[e] for e in endpoint_ids]))])
    assert isinstance(message, DeliveryBundle)
    return message


def _received(message_id: str, message: BaseModel, receive_count: int = 1) -> Received:
    return Received(message_id, message.model_dump_json(), f"rh-{message_id}", receive_count)


class FailingFor(ScriptedSender):
    """200 for every endpoint but the named ones (500)."""

    def __init__(self, *failing: str) -> None:
        super().__init__()
        self.failing = set(failing)

    def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
        super().send(endpoint, rendered, delivery_id)
        return SendResult(status_code=500, body="down") if endpoint.endpoint_id in self.failing else SendResult(status_code=200)


def _sent_to(hub: Hub) -> list[str]:
    return sorted(endpoint.endpoint_id for endpoint, _, _ in hub.sender.sent)


def test_the_dispatcher_packs_a_batchs_deliveries_into_bundles_an_events_together() -> None:
    hub = Hub(endpoints=[_endpoint(e) for e in ENDPOINTS])
    every = list(hub.endpoints.values())
    plans: list[Planned | None] = [plan_event(_event(f"SO-{n}"), lambda tenant: every) for n in range(5)]
    plans.insert(1, None)  # a record with nothing to send
    assert [p.count for p in plans if p] == [3] * 5

    messages, owners = bundled(plans)

    assert [type(m) for m in messages] == [DeliveryBundle, DeliveryBundle] and owners == [0, 4]
    first, second = messages
    assert isinstance(first, DeliveryBundle) and isinstance(second, DeliveryBundle)
    assert [d.order_no for d in first.deliveries] == ["SO-0"] * 3 + ["SO-1"] * 3 + [
        "SO-2"
    ] * 3  # 9: the next event's 3 do not fit
    assert [d.endpoint_id for d in second.deliveries] == ENDPOINTS * 2
    assert read_delivery_message(first.model_dump_json()) == first

    alone, _ = bundled([plan_event(_event(), lambda tenant: [hub.endpoints["a"]])])
    assert [type(m) for m in alone] == [DeliveryRef]  # the single shape replays and retries use

    many = [_endpoint(f"e{n}") for n in range(MAX_BUNDLE + 2)]
    split, owners = bundled([plans[0], plan_event(_event("SO-9"), lambda tenant: many)])
    assert [len(m.deliveries) for m in split if isinstance(m, DeliveryBundle)] == [3, MAX_BUNDLE, 2] and owners == [0, 1, 1]


def test_a_bundle_with_one_failing_endpoint_retries_only_that_one() -> None:
    hub = Hub(endpoints=[_endpoint(e) for e in ENDPOINTS])
    hub.worker.sender = hub.sender = FailingFor("b")
    event = _event()
    queue, dlq = FakeQueue(), FakeQueue()

    outcome = deliver_batch([_received("m1", _bundle(hub, event))], hub.worker, Events(event), queue, dlq, 10)

    settled = outcome.settled["m1"]
    assert not settled.comes_back and settled.step.action == "ack"  # the bundle is acknowledged
    assert [(p.message.endpoint_id, p.step.outcome) for p in settled.parts if p.message] == [
        ("a", "delivered"),
        ("b", "retry"),
        ("c", "delivered"),
    ]
    assert queue.retries == []  # no visibility change: the bundle is done with
    [again] = queue.sent  # b alone, after the schedule's first delay
    assert isinstance(again, DeliveryRef) and again.endpoint_id == "b" and queue.delays == [SCHEDULE[0]]

    hub.sender.failing.clear()
    hub.clock.now += timedelta(seconds=SCHEDULE[0])
    retried = deliver_batch([_received("m2", again)], hub.worker, Events(event), FakeQueue(), dlq, 10)
    assert retried.settled["m2"].step.outcome == "delivered"
    assert _sent_to(hub) == ["a", "b", "b", "c"]  # a and c once; b failed once, then delivered
    assert all(hub.log.get(d.delivery_id).status == "delivered" for d in _bundle(hub, event).deliveries)  # type: ignore[union-attr]


class Crash(BaseException):
    """The function dies (timeout, out of memory) while a request is in flight."""


def test_a_crash_mid_bundle_loses_nothing_and_sends_no_delivered_one_twice() -> None:
    hub = Hub(endpoints=[_endpoint(e) for e in ENDPOINTS])
    crashed: list[str] = []

    class CrashOnB(ScriptedSender):
        def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
            if endpoint.endpoint_id == "b" and not crashed:
                crashed.append(delivery_id)
                raise Crash()
            return super().send(endpoint, rendered, delivery_id)

    hub.worker.sender = hub.sender = CrashOnB()
    event = _event()
    bundle = _bundle(hub, event)
    queue, dlq = FakeQueue(), FakeQueue()
    with pytest.raises(Crash):
        deliver_batch([_received("m1", bundle)], hub.worker, Events(event), queue, dlq, concurrency=1)
    assert crashed, "the worker died mid-bundle"

    # nothing acknowledged the bundle: SQS hands it over again after its visibility timeout; run the
    # queue until it is empty, the clock moving as SQS would
    inbox: list[BaseModel] = [bundle]
    receives = 1
    while inbox:
        hub.clock.now += timedelta(seconds=MAX_SEND_DELAY)
        queue = FakeQueue()
        batch = {f"m{receives}-{n}": message for n, message in enumerate(inbox)}
        received = [_received(message_id, message, receive_count=2) for message_id, message in batch.items()]
        outcome = deliver_batch(received, hub.worker, Events(event), queue, dlq, concurrency=10)
        inbox = [message for message_id, message in batch.items() if outcome.settled[message_id].comes_back]
        inbox += queue.sent
        receives += 1
        assert receives < 10
    assert dlq.sent == []
    assert _sent_to(hub) == ENDPOINTS  # each endpoint got the event exactly once
    assert all(hub.log.get(d.delivery_id).status == "delivered" for d in bundle.deliveries)  # type: ignore[union-attr]


def test_a_retry_longer_than_sqs_delays_waits_in_a_bundle_of_one_until_it_is_due() -> None:
    hub = Hub(endpoints=[_endpoint(e) for e in ENDPOINTS])
    hub.worker.retry_schedule = (2400,)
    hub.worker.sender = hub.sender = FailingFor("c")
    event = _event()
    queue = FakeQueue()

    deliver_batch([_received("m1", _bundle(hub, event))], hub.worker, Events(event), queue, FakeQueue(), 10)

    [later] = queue.sent
    assert isinstance(later, DeliveryBundle) and [d.endpoint_id for d in later.deliveries] == ["c"]
    assert later.due_at == T0 + timedelta(seconds=2400) and queue.delays == [MAX_SEND_DELAY]

    hub.clock.now = T0 + timedelta(seconds=MAX_SEND_DELAY)  # SQS hands it over after 900 s: not due yet
    early, queue = FakeQueue(), FakeQueue()
    outcome = deliver_batch([_received("m2", later)], hub.worker, Events(event), early, FakeQueue(), 10)
    assert outcome.settled["m2"].comes_back and early.retries == [("rh-m2", 2400 - MAX_SEND_DELAY)] and early.sent == []
    assert _sent_to(hub) == ENDPOINTS  # no early attempt

    hub.sender.failing.clear()
    hub.clock.now = T0 + timedelta(seconds=2400)
    due = deliver_batch([_received("m3", later)], hub.worker, Events(event), queue, FakeQueue(), 10)
    assert [p.step.outcome for p in due.settled["m3"].parts] == ["delivered"] and not due.settled["m3"].comes_back


def test_a_dead_delivery_of_a_bundle_goes_to_the_dlq_alone_and_a_dead_lettered_bundle_is_redriven() -> None:
    hub = Hub(endpoints=[_endpoint(e) for e in ENDPOINTS])

    class GoneForB(ScriptedSender):
        def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
            super().send(endpoint, rendered, delivery_id)
            return SendResult(status_code=400 if endpoint.endpoint_id == "b" else 200)

    hub.worker.sender = hub.sender = GoneForB()
    event = _event()
    bundle = _bundle(hub, event)
    queue, dlq = FakeQueue(), FakeQueue()
    outcome = deliver_batch([_received("m1", bundle)], hub.worker, Events(event), queue, dlq, 10)
    assert not outcome.settled["m1"].comes_back and queue.sent == []
    assert [m.model_dump()["delivery_id"] for m in dlq.sent] == [bundle.deliveries[1].delivery_id]

    # SQS's own redrive (maxReceiveCount) can leave a whole bundle in the DLQ: its undelivered parts move back alone
    redriven = FakeQueue()
    counts = redrive_dead_letters(hub.log, FakeQueue([("r1", bundle.model_dump_json())]), redriven, T0)
    assert counts == {"moved": 1, "skipped": 2, "failed": 0}
    assert [type(m) for m in redriven.sent] == [DeliveryRef]
    assert [m.model_dump()["endpoint_id"] for m in redriven.sent] == ["b"]


class PrefixQueue(FakeQueue):
    """Accepts the first ``accept`` messages of a send and refuses the rest, as a refused batch entry does."""

    def __init__(self, accept: int) -> None:
        super().__init__()
        self.accept = accept
        self.calls: list[int] = []

    def send_accepted(self, messages: object) -> int:
        batch = list(messages)  # type: ignore[call-overload]
        self.calls.append(len(batch))
        accepted = min(self.accept, len(batch))
        self.send(batch[:accepted])
        return accepted


def test_send_planned_reports_the_first_record_a_queue_refused_and_sends_nothing_after_it() -> None:
    hub = Hub(endpoints=[_endpoint(e) for e in ENDPOINTS])
    plans: list[Planned | None] = [plan_event(_event(f"SO-{n}"), lambda tenant: list(hub.endpoints.values())) for n in range(6)]
    plans.insert(2, None)  # a record with nothing to send: bundles of records 0, 1, 3 and of 4, 5, 6

    forward, deliveries = PrefixQueue(accept=100), PrefixQueue(accept=1)
    assert send_planned(plans, forward, deliveries) == 4  # the refused bundle's first record
    assert forward.calls == [6] and deliveries.calls == [2]

    forward, deliveries = PrefixQueue(accept=2), PrefixQueue(accept=100)
    assert send_planned(plans, forward, deliveries) == 3  # record 3 holds the 3rd forward (record 2 has none)
    assert deliveries.calls == [1]  # records 0 and 1 only: nothing after a refusal is sent
    [sent] = deliveries.sent
    assert isinstance(sent, DeliveryBundle) and {d.order_no for d in sent.deliveries} == {"SO-0", "SO-1"}


def test_deliveries_that_no_longer_fit_in_the_invocation_are_sent_again_not_lost_to_the_timeout() -> None:
    hub = Hub(endpoints=[_endpoint(e) for e in ENDPOINTS])

    class SlowA(ScriptedSender):
        def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
            if endpoint.endpoint_id == "a":
                time.sleep(1.2)  # past the point where a further attempt would not fit
            return super().send(endpoint, rendered, delivery_id)

    hub.worker.sender = hub.sender = SlowA()
    first, second = _event("SO-1"), _event("SO-1", 1)  # endpoint a gets them one after the other
    queue = FakeQueue()
    received = [_received("m1", _bundle(hub, first)), _received("m2", _bundle(hub, second))]

    # 2 s left: no attempt starts after 1 s (half of it: less than the worker's timeout cap + 10 s)
    outcome = deliver_batch(received, hub.worker, Events(first, second), queue, FakeQueue(), 10, remaining_seconds=2.0)

    def parts(message_id: str) -> dict[str, str]:
        return {p.message.endpoint_id: p.step.outcome for p in outcome.settled[message_id].parts if p.message}

    assert parts("m1") == {"a": "delivered", "b": "delivered", "c": "delivered"}
    assert parts("m2") == {"a": "deferred", "b": "delivered", "c": "delivered"}
    assert not any(s.comes_back for s in outcome.settled.values())
    assert _sent_to(hub) == ["a", "b", "b", "c", "c"]
    [again] = queue.sent  # a's second event alone, right away
    assert isinstance(again, DeliveryRef) and (again.endpoint_id, again.seq) == ("a", second.seq)


def test_a_batch_of_bundles_has_every_delivery_in_flight_at_once_as_single_messages_would() -> None:
    """4 bundles of 3 endpoints with 4 threads per message's worth: all 12 requests at the same time
    (a barrier all must reach), so one slow endpoint holds up no other delivery of the batch."""
    barrier = threading.Barrier(12, timeout=5)

    class BarrierSender(ScriptedSender):
        def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
            barrier.wait()  # raises BrokenBarrierError if the others are not in flight
            return super().send(endpoint, rendered, delivery_id)

    hub = Hub(endpoints=[_endpoint(e) for e in ENDPOINTS])
    hub.worker.sender = hub.sender = BarrierSender()
    events = [_event(f"SO-{n}") for n in range(4)]
    received = [_received(f"m{n}", _bundle(hub, event)) for n, event in enumerate(events)]

    outcome = deliver_batch(received, hub.worker, Events(*events), FakeQueue(), FakeQueue(), concurrency=4)

    assert [p.step.outcome for s in outcome.settled.values() for p in s.parts] == ["delivered"] * 12
