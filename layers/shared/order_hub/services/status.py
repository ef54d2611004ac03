"""The one status authority: API calls, WMS webhooks and poll results all go through ``apply_fact``.

Statuses only move forward; terminal states (CLOSED = shipped, CANCELLED) stay terminal. A late or
conflicting fact (PICKED after PACKED) is recorded in the history, unapplied, and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from order_hub.models.order import ChangeSource, Order, StatusChange
from order_hub.models.status import ApiStatus, moves_forward
from order_hub.services.limits import WMS_STATUS_BYTES, clamp, keep_history


@dataclass(frozen=True)
class Fact:
    source: ChangeSource
    at: datetime
    status: ApiStatus
    wms_status: str = ""
    note: str = ""


@dataclass(frozen=True)
class Outcome:
    order: Order | None  # the changed order (version + 1), or None when nothing is to be written
    moved: bool  # the status moved forward
    conflict: bool  # the fact contradicts the stored status (late, or against a terminal state)


def apply_fact(order: Order, fact: Fact) -> Outcome:
    if moves_forward(order.status, fact.status):
        change = StatusChange(at=fact.at, source=fact.source, from_status=order.status, to_status=fact.status, note=fact.note)
        return Outcome(
            _bump(order, fact, status=fact.status, history=keep_history(order.history, change)), moved=True, conflict=False
        )
    if fact.status == order.status:
        if fact.wms_status and clamp(fact.wms_status, WMS_STATUS_BYTES) != order.wms_status:
            return Outcome(_bump(order, fact), moved=False, conflict=False)  # e.g. PICK -> PICKING
        return Outcome(None, moved=False, conflict=False)
    # Behind the stored status, or against a terminal one: record once, never move back.
    last = order.history[-1] if order.history else None
    if last is not None and not last.applied and last.to_status == fact.status and last.source == fact.source:
        return Outcome(None, moved=False, conflict=True)
    change = StatusChange(
        at=fact.at,
        source=fact.source,
        from_status=order.status,
        to_status=fact.status,
        applied=False,
        note=fact.note or f"ignored: {order.status.value} does not move to {fact.status.value}",
    )
    return Outcome(
        _bump(order, fact, history=keep_history(order.history, change), keep_wms_status=True), moved=False, conflict=True
    )


def _bump(
    order: Order,
    fact: Fact,
    status: ApiStatus | None = None,
    history: list[StatusChange] | None = None,
    keep_wms_status: bool = False,
) -> Order:
    update: dict[str, object] = {"version": order.version + 1, "updated_at": max(fact.at, order.updated_at)}
    if status is not None:
        update["status"] = status
    if history is not None:
        update["history"] = history
    if fact.wms_status and not keep_wms_status:
        update["wms_status"] = clamp(fact.wms_status, WMS_STATUS_BYTES)
    return order.model_copy(update=update)


def remainder_cancelled(order: Order, fact: Fact) -> Order | None:
    """A shipped order whose open rest the warehouse cancelled (WMS ``CLOSED``/``CANCELLED`` after a partial
    shipment): the open quantity of every line becomes ``qty_cancelled``; the status stays ``CLOSED``
    (shipped: what shipped is on its way). None when ``fact`` is no cancellation or nothing is open.

    The change is recorded in the history (``CLOSED`` -> ``CLOSED`` with a note naming what was cancelled)
    and written as ``order.partially_cancelled``; a repeat finds nothing open and changes nothing.
    """
    if fact.status != ApiStatus.CANCELLED or order.status != ApiStatus.CLOSED or not order.partially_shipped:
        return None
    lines, cancelled = [], []
    for line in order.lines:
        rest = line.qty_ordered - line.qty_cancelled - line.qty_shipped
        if rest > 0:
            cancelled.append(f"{rest} x {line.sku}")
            line = line.model_copy(update={"qty_cancelled": line.qty_cancelled + rest})
        lines.append(line)
    note = f"the warehouse cancelled the open rest ({fact.wms_status or 'CANCELLED'}): {', '.join(cancelled)}"
    change = StatusChange(at=fact.at, source=fact.source, from_status=order.status, to_status=order.status, note=note)
    bumped = _bump(order, fact, history=keep_history(order.history, change))
    return bumped.model_copy(update={"lines": lines})


def rest_already_cancelled(order: Order, fact: Fact) -> bool:
    """``fact`` repeats a cancellation of the rest already applied: nothing to record."""
    return (
        fact.status == ApiStatus.CANCELLED
        and order.status == ApiStatus.CLOSED
        and not order.partially_shipped
        and any(line.qty_cancelled for line in order.lines)
    )
