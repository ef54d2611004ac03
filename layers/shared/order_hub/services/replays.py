"""Operator actions on deliveries: list problems, replay one, replay an endpoint since a time,
and redrive the delivery DLQ. A replay reopens the delivery record (its attempt log is kept and
the retry schedule starts over) and queues it again under the same delivery id, so receivers see
the same dedupe keys as before."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from order_hub.errors import InvalidInput, NotFound
from order_hub.models.endpoints import Delivery
from order_hub.models.messages import DeliveryBundle, DeliveryRef, read_delivery_message
from order_hub.ports import DeliveryLog, EndpointRegistry, MessageQueue

REPLAYABLE = frozenset({"failed", "retrying", "skipped"})


def message_for(delivery: Delivery) -> DeliveryRef:
    return delivery.ref()


def delivery_summary(delivery: Delivery) -> dict[str, Any]:
    """A delivery for humans (CLI/admin API): the log without the bulky response bodies of old attempts."""
    data = json.loads(delivery.model_dump_json())
    data["attempts"] = data["attempts"][-10:]
    return data


def get_delivery(log: DeliveryLog, delivery_id: str, tenant_id: str | None = None) -> Delivery:
    """One delivery; with ``tenant_id``, another tenant's delivery is "not found" (existence never leaks)."""
    delivery = log.get(delivery_id)
    if delivery is None or (tenant_id is not None and delivery.tenant_id != tenant_id):
        raise NotFound(f"no delivery '{delivery_id}'", field="delivery_id")
    return delivery


def replay_delivery(
    log: DeliveryLog, queue: MessageQueue, delivery_id: str, now: datetime, tenant_id: str | None = None
) -> Delivery:
    """Send one delivery again, whatever its status (a delivered one is sent once more, on purpose)."""
    get_delivery(log, delivery_id, tenant_id)
    reopened = log.reopen(delivery_id, now)
    if reopened is None:
        raise NotFound(f"no delivery '{delivery_id}'", field="delivery_id")
    queue.send([message_for(reopened)])
    return reopened


def replay_endpoint(
    log: DeliveryLog,
    queue: MessageQueue,
    tenant_id: str,
    endpoint_id: str,
    since: datetime,
    now: datetime,
    include_delivered: bool = False,
    limit: int = 10_000,
) -> list[str]:
    """Replay an endpoint's deliveries created since ``since`` (failed, retrying and skipped ones;
    delivered ones too with ``include_delivered``), oldest first."""
    replayed: list[str] = []
    messages: list[DeliveryRef] = []
    for delivery in log.list_for_endpoint(tenant_id, endpoint_id, since, limit):
        if delivery.status not in REPLAYABLE and not (include_delivered and delivery.status == "delivered"):
            continue
        try:
            reopened = log.reopen(delivery.delivery_id, now)
        except InvalidInput:
            continue  # being attempted right now: it needs no replay
        if reopened is not None:
            messages.append(message_for(reopened))
            replayed.append(reopened.delivery_id)
    if messages:
        queue.send(messages)
    return replayed


def replay_known_endpoint(
    registry: EndpointRegistry,
    log: DeliveryLog,
    queue: MessageQueue,
    tenant_id: str,
    endpoint_id: str,
    since: datetime,
    now: datetime,
    include_delivered: bool = False,
) -> list[str]:
    """``replay_endpoint`` for one of the tenant's own endpoints: an unknown one is ``NotFound``."""
    from order_hub.services.endpoints import get_endpoint

    get_endpoint(registry, tenant_id, endpoint_id)
    return replay_endpoint(log, queue, tenant_id, endpoint_id, since, now, include_delivered=include_delivered)


def list_problems(log: DeliveryLog, tenant_id: str, limit: int) -> list[Delivery]:
    """The tenant's deliveries that failed for good or wait for a retry, newest first."""
    return log.list_problems(tenant_id, limit)


def redrive_dead_letters(
    log: DeliveryLog,
    dlq: MessageQueue,
    queue: MessageQueue,
    now: datetime,
    limit: int = 10_000,
) -> dict[str, int]:
    """Move the DLQ's messages back to the delivery queue, each at most once per call.

    The call reads the DLQ until a receive brings nothing it has not seen (by delivery id, or body
    for an unreadable message): a delivery that fails again and returns to the DLQ while the call
    runs is left there, so the call ends, and never moves one delivery twice. Per message:
    ``moved`` (record reopened, sent to the delivery queue, deleted from the DLQ); ``skipped`` (the
    delivery was delivered meanwhile, e.g. by a replay, or is being attempted right now: deleted
    from the DLQ, never sent again); ``failed`` (unreadable, or the send failed: it stays in the DLQ).
    """
    counts = {"moved": 0, "skipped": 0, "failed": 0}
    seen: set[str] = set()
    while sum(counts.values()) < limit:
        batch = dlq.receive()
        fresh = False
        for receipt, body in batch:
            try:
                message: DeliveryBundle | DeliveryRef | None = read_delivery_message(body)
            except ValueError:
                message = None
            if isinstance(message, DeliveryBundle):  # dead-lettered by SQS itself (maxReceiveCount)
                key = "bundle:" + ",".join(part.delivery_id for part in message.deliveries)
            elif message is not None:
                key = message.delivery_id
            else:
                key = f"unreadable:{hashlib.sha256(body.encode()).hexdigest()}"
            if key in seen:
                continue  # back in the DLQ during this call (or visible again): not moved twice
            seen.add(key)
            fresh = True
            if message is None:
                counts["failed"] += 1
                continue
            for outcome, count in _redrive(log, dlq, queue, receipt, message, now).items():
                counts[outcome] += count
        if not fresh:
            break
    return counts


def _redrive(
    log: DeliveryLog, dlq: MessageQueue, queue: MessageQueue, receipt: str, message: DeliveryBundle | DeliveryRef, now: datetime
) -> dict[str, int]:
    """One DLQ message back to the delivery queue: each of its deliveries (a bundle has several) that
    is not delivered nor being attempted is reopened and sent again as a single delivery."""
    parts = message.deliveries if isinstance(message, DeliveryBundle) else [message]
    counts = {"moved": 0, "skipped": 0, "failed": 0}
    moving: list[DeliveryRef] = []
    for part in parts:
        current = log.get(part.delivery_id)
        if current is not None and current.status == "delivered":
            counts["skipped"] += 1
            continue
        if current is not None:
            try:
                log.reopen(part.delivery_id, now)  # conditional on the attempt count: a concurrent attempt wins
            except InvalidInput:
                counts["skipped"] += 1  # being attempted: that attempt decides (and dead-letters it again if it fails)
                continue
        moving.append(part.ref())
    if moving:
        try:
            queue.send(moving)
        except Exception:  # stays in the DLQ, visible again after the receive's visibility timeout
            return {"moved": 0, "skipped": counts["skipped"], "failed": len(moving)}
    dlq.delete(receipt)
    counts["moved"] = len(moving)
    return counts
