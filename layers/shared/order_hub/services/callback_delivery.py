"""Callback delivery: fan an event out to its endpoints, then attempt each delivery.

Design §4. A delivery is one event for one endpoint, identified by ``event_id.endpoint_id`` so
a stream redelivery or a duplicate queue message can never produce a second delivery: the
worker claims the delivery's record (a conditional write) before every attempt, and a delivered,
failed or skipped record is never attempted again unless an operator replays it.

Retry schedule (``DELIVERY_RETRY_SCHEDULE``): attempt 1 right away, then after 5 s, 5 min, 30 min,
2 h, 5 h, 10 h and 10 h; a delivery that fails its last attempt, or fails permanently (a format's
missing field, a refused address, a permanent 4xx of a standard endpoint), goes to the DLQ.

Settling (``deliver_batch``): each message is settled the moment its own attempt ends, not after
the batch: a retry's visibility is set then, so the first retry comes 5 s after its failure
whatever else the batch waits for. A deferral (the endpoint's rate limit, an attempt in flight
elsewhere, an earlier event of the same order waiting) is not an attempt: the message is sent
again with ``DelaySeconds`` and the received copy acknowledged, so deferrals never count toward the
queue's ``maxReceiveCount`` (``DELIVERY_MAX_RECEIVES``). A message on its last receive never goes
back through visibility: a due retry fails for good (recorded, shown under problems, sent to our
DLQ) and anything else is sent again, so SQS never dead-letters a delivery on its own, unrecorded.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import ValidationError

from order_hub.models.endpoints import Attempt, Delivery, Endpoint, delivery_id_for
from order_hub.models.messages import DeadDelivery, DeliveryBundle, DeliveryRef, UnreadableDelivery, read_delivery_message
from order_hub.models.order import OrderEvent
from order_hub.ports import CallbackSender, DeliveryLog, EventStore, MessageQueue, SendResult
from order_hub.rendering import callbacks
from order_hub.rendering.callbacks.base import MissingField, Verdict
from order_hub.services.orders import event_id_of

RESPONSE_LOG_LIMIT = 512
GATE_MARGIN = 1
"""Seconds after an earlier event's retry is due before the later events look again."""
GATE_LAPSE = 300
"""A hold lapses this long after its retry was due (a worker that crashed holds nobody for ever)."""
GATE_LOOKBACK = 10
"""How many of the order's earlier versions a delivery looks at for a hold (their records, by id):
a deferred event holds the ones after it in turn, so a longer wait is covered while the endpoint
hears about at least one of every ``GATE_LOOKBACK`` consecutive versions."""
DELIVERY_MAX_RECEIVES = 100
"""The delivery queue's ``maxReceiveCount`` (template.yaml ``DeliveryQueue``; a test keeps them equal)."""
MAX_SEND_DELAY = 900
"""SQS ``DelaySeconds`` limit: longer deferrals go back through visibility."""


NUMBERED_FORMATS = frozenset({"increff"})
"""Formats whose receivers dedupe on a number unique per endpoint (Increff ``messageId``, a Long)."""


def plan_deliveries(
    event: OrderEvent, endpoints: list[Endpoint], allocate: Callable[[str, int], int] | None = None
) -> list[DeliveryRef]:
    """One message per enabled endpoint that subscribes to the event and whose format emits it.

    Increff endpoints get a ``message_id`` from the endpoint's counter (``allocate``): the
    dispatcher reads an order's events in order, so the ids grow with the order's events, and
    they are unique across orders. The delivery record keeps the first id it saw, so a stream
    redelivery (which allocates again) never changes the id a receiver sees.
    """
    planned = [
        DeliveryRef(
            delivery_id=delivery_id_for(event.event_id, endpoint.endpoint_id),
            tenant_id=event.tenant_id,
            endpoint_id=endpoint.endpoint_id,
            event_id=event.event_id,
            event_type=event.type,
            warehouse_id=event.warehouse_id,
            order_no=event.order_no,
            seq=event.seq,
        )
        for endpoint in endpoints
        if endpoint.wants(event.type) and callbacks.emits(endpoint.format, event)
    ]
    if allocate is None:
        return planned
    formats = {endpoint.endpoint_id: endpoint.format for endpoint in endpoints}
    return [
        m.model_copy(update={"message_id": allocate(f"{m.tenant_id}#{m.endpoint_id}", 1)})
        if formats[m.endpoint_id] in NUMBERED_FORMATS
        else m
        for m in planned
    ]


StepOutcome = Literal["", "delivered", "retry", "failed", "deferred", "skipped", "duplicate", "error"]


@dataclass(frozen=True)
class Step:
    """What the worker does with the queue message after an attempt."""

    # retry: back through visibility after ``delay``; requeue: sent again with ``delay`` (a deferral,
    # no receive counted), then acknowledged; dead: moved to the DLQ, then acknowledged
    action: Literal["ack", "retry", "requeue", "dead"]
    delay: int = 0
    reason: str = ""
    outcome: StepOutcome = ""
    attempt: Attempt | None = None
    lag_seconds: float | None = None  # event time -> delivered


@dataclass
class Worker:
    """Everything one attempt needs; built by ``wiring.callback_worker()`` (tests pass fakes)."""

    log: DeliveryLog
    sender: CallbackSender
    endpoint_of: Callable[[str, str], Endpoint | None]
    disable_endpoint: Callable[[Endpoint, str], None]
    retry_schedule: tuple[int, ...]
    timeout_cap: float = 45.0
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def max_attempts(self) -> int:
        return len(self.retry_schedule) + 1

    def _record(self, delivery: Delivery, status: str, attempt: Attempt, last_error: str = "") -> None:
        at = attempt.at
        update: dict[str, object] = {"status": status, "updated_at": at, "last_error": last_error}
        if status == "delivered":
            update["delivered_at"] = at
            update["next_attempt_at"] = None
        finished = delivery.model_copy(update=update)
        hold: tuple[datetime, datetime] | None = None
        if status == "retrying" and finished.next_attempt_at is not None:  # later events of the order wait for it
            due = finished.next_attempt_at + timedelta(seconds=GATE_MARGIN)
            hold = (due, due + timedelta(seconds=GATE_LAPSE))
        # delivered, failed for good (dead-lettered) or skipped: no hold, later events go
        self.log.finish(finished, attempt, hold)

    def attempt(self, message: DeliveryRef, event: OrderEvent | None, last_receive: bool = False) -> Step:
        """One attempt. ``last_receive``: SQS would dead-letter the message if it came back, so a
        due retry fails for good here instead (recorded, never lost)."""
        now = self.now()
        endpoint = self.endpoint_of(message.tenant_id, message.endpoint_id)
        fresh = Delivery(**message.model_dump(), created_at=now, updated_at=now)
        if endpoint is not None and endpoint.enabled:
            held = self.log.order_holds(earlier_deliveries(message), now)
            if held:  # an earlier event of the order is in flight or waits for a retry here: wait behind it
                due = max(due for _, due in held)
                delay = max(1, math.ceil((due - now).total_seconds()))
                return self.wait_behind(
                    message, delay, f"an earlier event of the order (seq {held[0][0]}) is waiting", last_receive
                )
        if endpoint is not None and endpoint.enabled and endpoint.rate_limit_per_second:
            key = f"{endpoint.tenant_id}#{endpoint.endpoint_id}"
            if not self.log.take_token(key, endpoint.rate_limit_per_second, now):
                return Step("requeue", delay=1, outcome="deferred", reason="endpoint rate limit reached")
        timeout = min(endpoint.timeout_seconds if endpoint else 15.0, self.timeout_cap)
        lease = int(timeout * 2) + 30
        claim = self.log.claim(fresh, now, lease_seconds=lease)
        if not claim.granted:
            status = claim.delivery.status if claim.delivery else "unknown"
            if status == "delivering":  # another attempt holds it (or crashed): look again after its lease
                return deferral(lease, "another attempt holds the delivery", last_receive)
            return Step("ack", outcome="duplicate", reason=f"delivery is {status}")
        delivery = claim.delivery or fresh
        n = delivery.attempt_count
        if endpoint is None or not endpoint.enabled:
            reason = "endpoint deleted" if endpoint is None else f"endpoint disabled {endpoint.disabled_reason}".strip()
            attempt = Attempt(n=n, at=now, outcome="failed", reason=reason)
            self._record(delivery, "skipped", attempt, reason)
            return Step("ack", outcome="skipped", reason=reason, attempt=attempt)
        if event is None:
            return self._fail(delivery, Attempt(n=n, at=now, outcome="failed", reason="event expired from the outbox"))
        try:
            rendered = callbacks.render(endpoint, event, message_id=delivery.message_id)
        except MissingField as error:
            return self._fail(delivery, Attempt(n=n, at=now, outcome="failed", reason=str(error)))
        result = self.sender.send(endpoint, rendered, delivery.delivery_id)
        verdict = self._verdict(endpoint, result)
        attempt = Attempt(
            n=n,
            at=now,
            outcome="delivered" if verdict.outcome == "delivered" else verdict.outcome,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            reason=verdict.reason[:500],
            response=result.body[:RESPONSE_LOG_LIMIT],
        )
        if verdict.outcome == "delivered":
            self._record(delivery, "delivered", attempt)
            return Step("ack", outcome="delivered", attempt=attempt, lag_seconds=(now - event.at).total_seconds())
        if verdict.outcome == "failed":
            if endpoint.format == "standard" and result.status_code == 410:
                self.disable_endpoint(endpoint, f"410 Gone at {now.isoformat()}")
            return self._fail(delivery, attempt)
        done = delivery.round_attempts
        if done >= self.max_attempts:
            last = attempt.model_copy(update={"outcome": "failed", "reason": f"{attempt.reason} (attempt {done}, the last)"})
            return self._fail(delivery, last)
        if last_receive:
            reason = f"{attempt.reason} (SQS receive limit {DELIVERY_MAX_RECEIVES} reached)"
            return self._fail(delivery, attempt.model_copy(update={"outcome": "failed", "reason": reason}))
        delay = self.retry_schedule[done - 1]
        retrying = delivery.model_copy(update={"next_attempt_at": now + timedelta(seconds=delay)})
        self._record(retrying, "retrying", attempt, attempt.reason)
        return Step("retry", delay=delay, outcome="retry", reason=attempt.reason, attempt=attempt)

    def wait_behind(self, message: DeliveryRef, delay: int, reason: str, last_receive: bool = False) -> Step:
        """Defer ``message`` behind an earlier event of its order; it holds the later ones in turn, so
        the deferred events come back and go one after the other, in ``seq`` order."""
        step = deferral(delay, reason, last_receive)
        now = self.now()
        due = now + timedelta(seconds=step.delay + GATE_MARGIN)
        pending = Delivery(**message.ref().model_dump(), created_at=now, updated_at=now)
        self.log.hold(pending, due, due + timedelta(seconds=GATE_LAPSE))
        return step

    def _fail(self, delivery: Delivery, attempt: Attempt) -> Step:
        failed = attempt.model_copy(update={"outcome": "failed"})
        self._record(delivery.model_copy(update={"next_attempt_at": None}), "failed", failed, failed.reason)
        return Step("dead", outcome="failed", reason=failed.reason, attempt=failed)

    @staticmethod
    def _verdict(endpoint: Endpoint, result: SendResult) -> Verdict:
        if result.refused:
            return Verdict("failed", result.error)
        if result.status_code is None:
            return Verdict("retry", result.error or "no response")
        return callbacks.judge(endpoint.format, result.status_code, result.body)


def deferral(delay: int, reason: str, last_receive: bool = False) -> Step:
    """Not an attempt: the message comes back after ``delay`` without counting a receive when it can
    (sent again; a longer delay goes through visibility, except on the message's last receive)."""
    if last_receive:
        delay = min(delay, MAX_SEND_DELAY)
    return Step("requeue" if delay <= MAX_SEND_DELAY else "retry", delay=delay, outcome="deferred", reason=reason)


def earlier_deliveries(message: DeliveryRef, lookback: int = GATE_LOOKBACK) -> list[tuple[int, str]]:
    """(seq, delivery id) of the order's previous ``lookback`` versions at the message's endpoint:
    event ids derive from (tenant, warehouse, order, version), so no gate item or index is needed
    to find them. A version that produced no delivery there simply has no record."""
    return [
        (seq, delivery_id_for(event_id_of(message.tenant_id, message.warehouse_id, message.order_no, seq), message.endpoint_id))
        for seq in range(max(1, message.seq - lookback), message.seq)
    ]


def attempt_batch(
    worker: Worker,
    messages: dict[str, DeliveryRef],
    events: dict[tuple[str, str, str, int], OrderEvent],
    concurrency: int,
    on_step: Callable[[str, Step], Step] | None = None,
    last_receive: frozenset[str] = frozenset(),
    deadline: float | None = None,
) -> dict[str, Step]:
    """Attempt a batch concurrently, one thread per (endpoint, order) group.

    Within a group the events go in ``seq`` order, one after the other, so a healthy receiver
    sees an order's events in order; when one of them must wait for a retry, the later ones of
    the same group wait as long (deferred, not counted as attempts). ``on_step`` settles each
    message as soon as its step is known (and may change the step); ``last_receive`` names the
    messages SQS would dead-letter if they came back. ``deadline`` (``time.monotonic()``): no attempt
    starts after it; the deliveries left are deferred (sent again at once), not lost to a timeout.
    """
    groups: dict[tuple[str, str, str, str], list[tuple[str, DeliveryRef]]] = defaultdict(list)
    for message_id, message in messages.items():
        groups[(message.tenant_id, message.endpoint_id, message.warehouse_id, message.order_no)].append((message_id, message))

    def run(group: list[tuple[str, DeliveryRef]]) -> dict[str, Step]:
        steps: dict[str, Step] = {}
        blocked: Step | None = None
        for message_id, message in sorted(group, key=lambda pair: pair[1].seq):
            final = message_id in last_receive
            if deadline is not None and time.monotonic() > deadline:  # a bundle-heavy batch near the timeout
                step = Step("requeue", delay=1, outcome="deferred", reason="no time left in this invocation")
            elif blocked is not None:
                try:
                    step = worker.wait_behind(message, blocked.delay, "an earlier event is waiting", final)
                except Exception:  # the hold could not be written: defer all the same
                    step = deferral(blocked.delay, "an earlier event is waiting", final)
            else:
                try:
                    step = worker.attempt(message, events.get(message.event_key), last_receive=final)
                except Exception as error:  # an AWS hiccup: the message comes back; a held lease defers it safely
                    reason = f"{type(error).__name__}: {error}"[:300]
                    step = Step("requeue" if final else "retry", delay=5, outcome="error", reason=reason)
                if step.action in ("retry", "requeue"):
                    blocked = step
            steps[message_id] = on_step(message_id, step) if on_step is not None else step
        return steps

    results: dict[str, Step] = {}
    if len(groups) <= 1:
        for group in groups.values():
            results.update(run(group))
        return results
    with ThreadPoolExecutor(max_workers=min(concurrency, len(groups))) as pool:
        for steps in pool.map(run, groups.values()):
            results.update(steps)
    return results


@dataclass(frozen=True)
class Received:
    """One delivery queue message as SQS handed it over."""

    message_id: str
    body: str
    receipt_handle: str
    receive_count: int = 1  # ApproximateReceiveCount


@dataclass(frozen=True)
class Settled:
    """What became of one received message: its step, its parsed message, and whether it must be
    reported as a batch item failure (SQS brings it back: a retry, or a queue call that failed).

    A bundle's deliveries are settled each on its own (``parts``, in the bundle's order); the bundle
    itself is acknowledged (``step`` "ack", no ``message``) unless a part could not be settled."""

    step: Step
    message: DeliveryRef | None
    comes_back: bool
    error: str = ""
    parts: tuple[Settled, ...] = ()


@dataclass(frozen=True)
class BatchOutcome:
    settled: dict[str, Settled]
    oldest_pending_age: float | None  # seconds since the oldest still-pending delivery's event


def deliver_batch(
    received: list[Received],
    worker: Worker,
    events: EventStore,
    queue: MessageQueue,
    dlq: MessageQueue,
    concurrency: int,
    max_receives: int = DELIVERY_MAX_RECEIVES,
    remaining_seconds: float | None = None,
) -> BatchOutcome:
    """Attempt a batch of delivery queue messages and settle each delivery as soon as its attempt ends.

    A single delivery (``DeliveryRef``): a retry comes back after its delay (``queue.retry_later``), a
    deferral is sent again with a delay, a delivery that failed for good (or an unreadable message)
    goes to the DLQ. A bundle (``DeliveryBundle``, up to 10 deliveries): each delivery that must be
    attempted again is sent again alone (``DelaySeconds`` up to 900; a longer wait as a bundle of one
    with ``due_at``), one that failed for good goes to the DLQ alone, and the bundle is acknowledged
    once every delivery is settled. A crash mid-bundle loses nothing: the bundle comes back, and its
    delivered deliveries are duplicates by their records. ``remaining_seconds`` (the invocation's time
    left): no attempt starts unless one more fits (``timeout_cap`` + 10 s, at most half of it); the
    deliveries left are deferred, sent again at once."""
    by_id = {item.message_id: item for item in received}
    parsed: dict[str, DeliveryBundle | DeliveryRef] = {}
    messages: dict[str, DeliveryRef] = {}  # attempt key (message id, or message id#n in a bundle) -> delivery
    owner: dict[str, str] = {}  # attempt key -> message id
    settled: dict[str, Settled] = {}  # by message id (singles), or by attempt key (a bundle's parts)
    lock = threading.Lock()
    now = worker.now()

    def send_again(message: DeliveryRef, delay: int) -> None:
        if delay <= MAX_SEND_DELAY:
            queue.send([message], delay_seconds=delay)
        else:  # SQS delays at most 900 s: the worker waits out the rest (visibility)
            due = worker.now() + timedelta(seconds=delay)
            queue.send([DeliveryBundle(deliveries=[message], due_at=due)], delay_seconds=MAX_SEND_DELAY)

    def settle(key: str, step: Step) -> Step:
        message_id = owner[key]
        item, message = by_id[message_id], messages.get(key)
        single = not isinstance(parsed.get(message_id), DeliveryBundle)
        try:
            if step.action == "retry" and single:
                queue.retry_later(item.receipt_handle, step.delay)
            elif step.action == "requeue" and single and message is not None:
                queue.send([message], delay_seconds=min(step.delay, MAX_SEND_DELAY))
            elif step.action in ("retry", "requeue") and message is not None:  # a bundle's part leaves alone
                send_again(message, step.delay)
            elif step.action == "dead":
                reason = step.reason[:1000]
                dead = (
                    UnreadableDelivery(raw_body=item.body[:200_000], dead_reason=reason)
                    if message is None
                    else DeadDelivery(**message.model_dump(), dead_reason=reason)
                )
                dlq.send([dead])
        except Exception as error:  # the message comes back and is settled again
            outcome = Settled(step, message, comes_back=True, error=f"{type(error).__name__}: {error}"[:300])
        else:
            outcome = Settled(step, message, comes_back=single and step.action == "retry")
        with lock:
            settled[key] = outcome
        return step

    for item in received:
        owner[item.message_id] = item.message_id
        try:
            parsed[item.message_id] = read_delivery_message(item.body)
        except ValueError as error:
            reason = error.errors()[0]["msg"] if isinstance(error, ValidationError) else str(error)
            settle(item.message_id, Step("dead", outcome="failed", reason=f"malformed delivery message: {reason}"[:1000]))
            continue
        message = parsed[item.message_id]
        if isinstance(message, DeliveryRef):
            messages[item.message_id] = message
            continue
        wait = math.ceil((message.due_at - now).total_seconds()) if message.due_at is not None else 0
        if wait > 1:  # a long retry or deferral, not due yet
            settle_early(item, message, wait, item.receive_count >= max_receives, queue, settled)
            continue
        for n, part in enumerate(message.deliveries):
            key = f"{item.message_id}#{n}"
            owner[key] = item.message_id
            messages[key] = part
    found = events.get_events(list({m.event_key for m in messages.values()}))
    last = frozenset(
        key for key, message_id in owner.items() if key == message_id and by_id[message_id].receive_count >= max_receives
    )
    deadline = (
        None
        if remaining_seconds is None
        else time.monotonic() + remaining_seconds - min(worker.timeout_cap + 10, remaining_seconds / 2)
    )
    # ``concurrency`` threads per message's worth of deliveries: a batch of bundles sends as many
    # requests at once as the same deliveries did one message each, so a slow endpoint holds up no other
    width = max((len(m.deliveries) for m in parsed.values() if isinstance(m, DeliveryBundle)), default=1)
    steps = attempt_batch(worker, messages, found, concurrency * width, on_step=settle, last_receive=last, deadline=deadline)
    now = worker.now()
    ages = [
        (now - found[m.event_key].at).total_seconds()
        for key, m in messages.items()
        if m.event_key in found and steps[key].outcome in ("retry", "deferred", "error")
    ]
    outcome: dict[str, Settled] = {}
    for item in received:
        if item.message_id in settled:
            outcome[item.message_id] = settled[item.message_id]
            continue
        parts = tuple(settled[key] for key, message_id in owner.items() if message_id == item.message_id and key != message_id)
        errors = [part.error for part in parts if part.comes_back]
        outcome[item.message_id] = Settled(
            Step("ack"), None, comes_back=bool(errors), error=errors[0] if errors else "", parts=parts
        )
    return BatchOutcome(outcome, max(ages) if ages else None)


def settle_early(
    item: Received, bundle: DeliveryBundle, wait: int, last_receive: bool, queue: MessageQueue, settled: dict[str, Settled]
) -> None:
    """A bundle received before its ``due_at``: back through visibility for the rest of the wait (or
    sent again with the longest delay SQS allows, on its last receive or for a wait of 900 s or less)."""
    step = deferral(wait, "not due yet", last_receive)
    try:
        if step.action == "retry":
            queue.retry_later(item.receipt_handle, step.delay)
        else:
            queue.send([bundle], delay_seconds=min(step.delay, MAX_SEND_DELAY))
    except Exception as error:
        settled[item.message_id] = Settled(step, None, comes_back=True, error=f"{type(error).__name__}: {error}"[:300])
    else:
        settled[item.message_id] = Settled(step, None, comes_back=step.action == "retry")
