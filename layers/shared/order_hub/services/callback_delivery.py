"""Callback delivery: fan an event out to its endpoints, then attempt each delivery.

Design §4. A delivery is one event for one endpoint, identified by ``event_id.endpoint_id`` so
a stream redelivery or a duplicate queue message can never produce a second delivery record. A
first attempt sends without a claim and then records its outcome in one conditional write (the
record's creation); retries and replays claim the record (a conditional write) before they send.
A delivered, failed or skipped record is never attempted again unless an operator replays it, so
nothing is sent twice once an attempt is recorded; two copies of a message attempted at the same
instant, before either is recorded, may both send, with the same dedupe id (``webhook-id`` =
delivery id, Increff ``messageId``), and only the first to record counts.

Order (``Worker.attempt``): the dispatcher links each delivery to the order's previous event planned
for the same endpoint (``prev_seq``, from the event chain stored with the events: ``DeliveryChain``);
the worker reads that delivery's record (eventually consistent) after its own (consistent) and goes once
it is settled, waits while it holds (in flight under a claim, waiting for its retry, deferred), and
waits briefly while it does not exist yet (queued or in its first attempt) until ``ABSENT_LAPSE``
after the event, when it goes anyway (counted: ``DeliveryGateLapsed``).

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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import ValidationError

from order_hub.models.endpoints import Attempt, Delivery, Endpoint, EventChain, delivery_id_for
from order_hub.models.messages import DeadDelivery, DeliveryBundle, DeliveryRef, UnreadableDelivery, read_delivery_message
from order_hub.models.order import OrderEvent
from order_hub.ports import CallbackSender, DeliveryLog, EventChainStore, EventStore, MessageQueue, SendResult
from order_hub.rendering import callbacks
from order_hub.rendering.callbacks.base import MissingField, Verdict
from order_hub.services.orders import event_id_of

RESPONSE_LOG_LIMIT = 512
GATE_MARGIN = 1
"""Seconds after an earlier event's retry is due before the later events look again."""
GATE_LAPSE = 300
"""A hold lapses this long after its retry was due (a worker that crashed holds nobody for ever)."""
ABSENT_LAPSE = 900
"""Seconds after its event a delivery stops waiting for the previous event's record to appear (that
event is queued or in its first attempt; a lost message must not block an order for ever)."""
ABSENT_DELAY_MAX = 60
"""The longest wait between two looks at a previous event whose record does not exist yet."""
MESSAGE_ID_BLOCK = 100
"""Increff ``messageId``s a dispatcher container takes from an endpoint's counter at once (one write)."""
DELIVERY_MAX_RECEIVES = 100
"""The delivery queue's ``maxReceiveCount`` (template.yaml ``DeliveryQueue``; a test keeps them equal)."""
MAX_SEND_DELAY = 900
"""SQS ``DelaySeconds`` limit: longer deferrals go back through visibility."""


NUMBERED_FORMATS = frozenset({"increff"})
"""Formats whose receivers dedupe on a number unique per endpoint (Increff ``messageId``, a Long)."""


def plan_deliveries(event: OrderEvent, endpoints: list[Endpoint], chain: DeliveryChain | None = None) -> list[DeliveryRef]:
    """One message per enabled endpoint that subscribes to the event and whose format emits it.

    With ``chain`` (the dispatcher) the messages are linked to the order's previous event at each
    endpoint (``prev_seq``) and numbered (Increff ``message_id``), and the event is stored with its
    chain before they are queued (``DeliveryChain.link``).
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
    if chain is None or not planned:
        return planned
    return chain.link(event, planned, {endpoint.endpoint_id: endpoint.format for endpoint in endpoints})


@dataclass
class MessageIds:
    """Increff ``messageId``s of an endpoint, from its counter in blocks of ``block`` (one counter write
    per block, not per id), the block kept in the container per tenant and endpoint.

    Unique per endpoint: each block is a range no other container gets. Growing along an order's
    events: ``next(key, above)`` never returns an id at or below ``above`` (the id the order's previous
    event at the endpoint got); when the container's block cannot do that it takes a new one, and a
    new block lies above every block taken before it, so above every id handed out anywhere."""

    allocate: Callable[[str, int], int]  # DeliveryLog.allocate_message_ids
    block: int = MESSAGE_ID_BLOCK
    _ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # tenant#endpoint -> (next, last)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, key: str, above: int = 0) -> int:
        with self._lock:
            first, last = self._ranges.get(key, (1, 0))
            if first > last or first <= above:
                first = self.allocate(key, self.block)
                last = first + self.block - 1
            self._ranges[key] = (first + 1, last)
            return first


def link_deliveries(
    seq: int, planned: list[DeliveryRef], latest: EventChain | None, formats: dict[str, str], ids: MessageIds
) -> tuple[list[DeliveryRef], EventChain]:
    """``planned`` linked to the order's previous event at each endpoint, numbered, and the event's chain.

    ``latest`` is the chain of the order's latest stored event at or before ``seq``: an earlier event's
    (its ``last_at`` names each endpoint's previous event), or ``seq``'s own when the stream brings the
    record again (its links and message ids are kept: a receiver never sees an id change)."""
    own = latest if latest is not None and latest.seq == seq else None
    last_at = dict(latest.last_at) if latest else {}
    message_ids = dict(latest.message_ids) if latest else {}
    prev_at = dict(own.prev_at) if own else {}
    linked: list[DeliveryRef] = []
    for message in planned:
        endpoint_id = message.endpoint_id
        if own is not None and own.last_at.get(endpoint_id) == seq:  # planned here before: the same links
            prev, number = own.prev_at.get(endpoint_id), own.message_ids.get(endpoint_id)
        else:
            prev, number = last_at.get(endpoint_id), None
        if number is None and formats.get(endpoint_id) in NUMBERED_FORMATS:
            number = ids.next(f"{message.tenant_id}#{endpoint_id}", above=message_ids.get(endpoint_id, 0))
        if prev is not None:
            prev_at[endpoint_id] = prev
        last_at[endpoint_id] = seq
        if number is not None:
            message_ids[endpoint_id] = number
        linked.append(message.model_copy(update={"prev_seq": prev, "message_id": number}))
    return linked, EventChain(seq=seq, last_at=last_at, prev_at=prev_at, message_ids=message_ids)


@dataclass
class DeliveryChain:
    """The dispatcher's links between an order's deliveries at each endpoint (design §4, order).

    Each event with deliveries is stored with its chain; the next event of the order reads the latest
    stored chain (one consistent Query, Limit 1), or takes it from memory when the order's previous
    event was dispatched earlier in the same batch (``new_batch`` forgets)."""

    store: EventChainStore
    message_ids: MessageIds
    _recent: dict[tuple[str, str, str], tuple[int, EventChain]] = field(default_factory=dict)

    def new_batch(self) -> None:
        self._recent.clear()

    def link(self, event: OrderEvent, planned: list[DeliveryRef], formats: dict[str, str]) -> list[DeliveryRef]:
        order = (event.tenant_id, event.warehouse_id, event.order_no)
        remembered = self._recent.get(order)
        latest = remembered[1] if remembered is not None and remembered[0] == event.seq - 1 else self.store.latest_chain(event)
        linked, chain = link_deliveries(event.seq, planned, latest, formats, self.message_ids)
        if chain != latest:  # a stream record seen before finds its own chain unchanged: nothing to write
            self.store.store_event(event, chain)  # before the messages: the worker reads it
        if len(self._recent) >= 1000:  # a container that is never told of its batches stays small
            self._recent.clear()
        self._recent[order] = (event.seq, chain)
        return linked


StepOutcome = Literal["", "delivered", "retry", "failed", "deferred", "skipped", "duplicate", "error"]
SETTLED = frozenset({"delivered", "failed", "skipped"})


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
    holds: bool = False  # its record holds the order's later events at the endpoint (a retry, a deferral behind a hold)
    gate_lapsed: bool = False  # went although the previous event's record never appeared (ABSENT_LAPSE)


@dataclass
class Worker:
    """Everything one attempt needs; built by ``wiring.callback_worker()`` (tests pass fakes)."""

    log: DeliveryLog
    sender: CallbackSender
    endpoint_of: Callable[[str, str, bool], Endpoint | None]  # (tenant, endpoint, consistent)
    disable_endpoint: Callable[[Endpoint, str], None]
    retry_schedule: tuple[int, ...]
    timeout_cap: float = 45.0
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def max_attempts(self) -> int:
        return len(self.retry_schedule) + 1

    def _record(self, delivery: Delivery, status: str, attempt: Attempt, last_error: str = "", first: bool = False) -> bool:
        """Write the attempt's outcome: the record's one write on a first attempt (False when a concurrent
        copy recorded first: nothing written), else the claimed record's finish."""
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
        if first:
            return self.log.record_first(finished, attempt, hold)
        self.log.finish(finished, attempt, hold)
        return True

    def attempt(self, message: DeliveryRef, event: OrderEvent | None, last_receive: bool = False) -> Step:
        """One attempt. ``last_receive``: SQS would dead-letter the message if it came back, so a
        due retry fails for good here instead (recorded, never lost)."""
        now = self.now()
        # Eventually consistent (half the RRU): an edit or a disable of the last second may not show yet.
        # Only a go is taken from that read; a skip (gone or disabled) is confirmed by a consistent one, so a
        # replica a moment behind never drops a delivery to an endpoint just registered or enabled again.
        endpoint = self.endpoint_of(message.tenant_id, message.endpoint_id, False)
        if endpoint is None or not endpoint.enabled:
            endpoint = self.endpoint_of(message.tenant_id, message.endpoint_id, True)
        timeout = min(endpoint.timeout_seconds if endpoint else 15.0, self.timeout_cap)
        lease = int(timeout * 2) + 30
        previous = previous_delivery(message)
        own = self.log.states([message.delivery_id]).get(message.delivery_id)  # consistent: a replay reopened it a moment ago
        if own is not None and own.status in SETTLED:
            return Step("ack", outcome="duplicate", reason=f"delivery is {own.status}")
        if own is not None and own.leased(now) and own.lease_until is not None:  # another attempt holds it (or crashed)
            wait = max(1, math.ceil((own.lease_until - now).total_seconds()) + 1)
            return deferral(wait, "another attempt holds the delivery", last_receive)
        lapsed = False
        if endpoint is not None and endpoint.enabled and previous is not None:
            # Eventually consistent (half the RRU): a record only moves on towards settled (a replay
            # reopens one, but a replayed record holds nobody), so a stale view of the previous one
            # shows it less settled, and this one waits a little longer; it never goes early.
            earlier = self.log.states([previous], consistent=False).get(previous)
            if earlier is None:  # the previous event is still queued or in its first attempt
                age = (now - event.at).total_seconds() if event is not None else math.inf
                if age < ABSENT_LAPSE:
                    reason = f"the order's previous event at the endpoint (seq {message.prev_seq}) is not recorded yet"
                    return deferral(absent_delay(age), reason, last_receive)
                lapsed = True
                _count_lapse(message, age)
            elif earlier.holds(now):  # in flight under a claim, waiting for its retry, or deferred: wait behind it
                due = earlier.hold_due or now
                delay = max(1, math.ceil((due - now).total_seconds()))
                return self.wait_behind(
                    message, delay, f"an earlier event of the order (seq {message.prev_seq}) is waiting", last_receive
                )
        if endpoint is not None and endpoint.enabled and endpoint.rate_limit_per_second:
            key = f"{endpoint.tenant_id}#{endpoint.endpoint_id}"
            if not self.log.take_token(key, endpoint.rate_limit_per_second, now):
                return Step("requeue", delay=1, outcome="deferred", reason="endpoint rate limit reached")
        fresh = Delivery(**message.model_dump(), created_at=now, updated_at=now)
        if own is None:  # a first attempt: no claim, one write when it is over
            step = self._attempt(fresh.model_copy(update={"attempt_count": 1}), endpoint, event, now, last_receive, first=True)
        else:
            claim = self.log.claim(fresh, now, lease_seconds=lease)
            if not claim.granted:
                status = claim.delivery.status if claim.delivery else "unknown"
                if status == "delivering":  # another attempt took it meanwhile: look again after its lease
                    return deferral(lease, "another attempt holds the delivery", last_receive)
                return Step("ack", outcome="duplicate", reason=f"delivery is {status}")
            step = self._attempt(claim.delivery or fresh, endpoint, event, now, last_receive, first=False)
        return replace(step, gate_lapsed=True) if lapsed else step

    def _attempt(
        self,
        delivery: Delivery,
        endpoint: Endpoint | None,
        event: OrderEvent | None,
        now: datetime,
        last_receive: bool,
        first: bool,
    ) -> Step:
        """Send ``delivery`` (claimed, or a first attempt's) and record the outcome."""
        n = delivery.attempt_count
        if endpoint is None or not endpoint.enabled:
            reason = "endpoint deleted" if endpoint is None else f"endpoint disabled {endpoint.disabled_reason}".strip()
            attempt = Attempt(n=n, at=now, outcome="failed", reason=reason)
            step = Step("ack", outcome="skipped", reason=reason, attempt=attempt)
            return self._settled(step, delivery, "skipped", reason, first)
        if event is None:
            return self._fail(delivery, Attempt(n=n, at=now, outcome="failed", reason="event expired from the outbox"), first)
        try:
            rendered = callbacks.render(endpoint, event, message_id=delivery.message_id)
        except MissingField as error:
            return self._fail(delivery, Attempt(n=n, at=now, outcome="failed", reason=str(error)), first)
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
            step = Step("ack", outcome="delivered", attempt=attempt, lag_seconds=(now - event.at).total_seconds())
            return self._settled(step, delivery, "delivered", "", first)
        if verdict.outcome == "failed":
            if endpoint.format == "standard" and result.status_code == 410:
                self.disable_endpoint(endpoint, f"410 Gone at {now.isoformat()}")
            return self._fail(delivery, attempt, first)
        done = delivery.round_attempts
        if done >= self.max_attempts:
            last = attempt.model_copy(update={"outcome": "failed", "reason": f"{attempt.reason} (attempt {done}, the last)"})
            return self._fail(delivery, last, first)
        if last_receive:
            reason = f"{attempt.reason} (SQS receive limit {DELIVERY_MAX_RECEIVES} reached)"
            return self._fail(delivery, attempt.model_copy(update={"outcome": "failed", "reason": reason}), first)
        delay = self.retry_schedule[done - 1]
        retrying = delivery.model_copy(update={"next_attempt_at": now + timedelta(seconds=delay)})
        step = Step("retry", delay=delay, outcome="retry", reason=attempt.reason, attempt=attempt, holds=True)
        return self._settled(step, retrying, "retrying", attempt.reason, first)

    def _settled(self, step: Step, delivery: Delivery, status: str, last_error: str, first: bool) -> Step:
        """``step`` once its outcome is recorded; a first attempt that a concurrent copy recorded before
        it is a duplicate (that copy's record stands; this one's request went with the same dedupe id)."""
        assert step.attempt is not None
        if self._record(delivery, status, step.attempt, last_error, first=first):
            return step
        reason = "a concurrent copy of the message recorded its attempt first"
        return Step("ack", outcome="duplicate", reason=reason, attempt=step.attempt)

    def wait_behind(self, message: DeliveryRef, delay: int, reason: str, last_receive: bool = False) -> Step:
        """Defer ``message`` behind an earlier event of its order; it holds the later ones in turn, so
        the deferred events come back and go one after the other, in ``seq`` order."""
        step = deferral(delay, reason, last_receive)
        now = self.now()
        due = now + timedelta(seconds=step.delay + GATE_MARGIN)
        pending = Delivery(**message.ref().model_dump(), created_at=now, updated_at=now)
        self.log.hold(pending, due, due + timedelta(seconds=GATE_LAPSE))
        return replace(step, holds=True)

    def _fail(self, delivery: Delivery, attempt: Attempt, first: bool = False) -> Step:
        failed = attempt.model_copy(update={"outcome": "failed"})
        step = Step("dead", outcome="failed", reason=failed.reason, attempt=failed)
        return self._settled(step, delivery.model_copy(update={"next_attempt_at": None}), "failed", failed.reason, first)

    @staticmethod
    def _verdict(endpoint: Endpoint, result: SendResult) -> Verdict:
        if result.refused:
            return Verdict("failed", result.error)
        if result.status_code is None:
            return Verdict("retry", result.error or "no response")
        return callbacks.judge(endpoint.format, result.status_code, result.body)


def _count_lapse(message: DeliveryRef, age: float) -> None:
    from order_hub.observability import logger, metrics

    metrics.add_metric(name="DeliveryGateLapsed", unit="Count", value=1)
    logger.warning(
        "previous event's delivery never recorded: going on without it",
        extra={"delivery_id": message.delivery_id, "prev_seq": message.prev_seq, "age_seconds": round(age)},
    )


def deferral(delay: int, reason: str, last_receive: bool = False) -> Step:
    """Not an attempt: the message comes back after ``delay`` without counting a receive when it can
    (sent again; a longer delay goes through visibility, except on the message's last receive)."""
    if last_receive:
        delay = min(delay, MAX_SEND_DELAY)
    return Step("requeue" if delay <= MAX_SEND_DELAY else "retry", delay=delay, outcome="deferred", reason=reason)


def absent_delay(age: float) -> int:
    """How long to wait before looking again for a previous event's record that does not exist yet:
    1 s at first, then a tenth of the event's age (2 s at 15 s, 30 s at 5 minutes), at most a minute."""
    return max(1, min(ABSENT_DELAY_MAX, math.ceil(age / 10)))


def previous_delivery(message: DeliveryRef) -> str | None:
    """The delivery id of the order's previous event planned for the message's endpoint (event ids
    derive from (tenant, warehouse, order, version)), or None for the first."""
    if message.prev_seq is None:
        return None
    previous = event_id_of(message.tenant_id, message.warehouse_id, message.order_no, message.prev_seq)
    return delivery_id_for(previous, message.endpoint_id)


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
                if blocked.holds:  # a retry or a deferral behind a hold: this one holds the later ones in turn
                    try:
                        step = worker.wait_behind(message, blocked.delay, "an earlier event is waiting", final)
                    except Exception:  # the hold could not be written: defer all the same
                        step = deferral(blocked.delay, "an earlier event is waiting", final)
                else:  # a short wait: its own missing record holds the later events
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
