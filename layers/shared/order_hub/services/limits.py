"""DynamoDB's item limit, held at the edge.

An order is one item (``doc`` = the order JSON, with its last change's event) and an event with
deliveries is kept as an item carrying a full copy of it; DynamoDB refuses any item over 400 KB (attribute names + values,
UTF-8 bytes). So an order is accepted only when its stored form still fits after the worst growth
its later life can bring, and every part that grows after acceptance is bounded here:

- ``history``: the last ``MAX_HISTORY`` status changes, notes cut to ``NOTE_BYTES``;
- ``logistics``: the last ``MAX_FACTS`` logistics facts, texts cut to ``NOTE_BYTES``;
- ``shipments``: at most ``MAX_SHIPMENTS``; their items together at most the order's line count
  plus ``EXTRA_SHIPMENT_ITEMS`` (a PGI beyond that keeps its quantities on the lines and its
  surplus items as a count, ``items_omitted``); every item text cut to ``ITEM_TEXT_BYTES``;
- ``forward.last_error`` cut to ``ERROR_BYTES``, ``wms_status`` to ``WMS_STATUS_BYTES``;
- ``webhook_marks``: the last ``KEPT_MARKS`` marks of ``MARK_CHARS`` characters (services.webhooks).

Cuts are measured in the bytes the text takes inside the stored JSON (escapes included), so
``worst_case`` (every bounded part full, every text at its cap) is an upper bound of what any
webhook, poll repair or cancel can make of an accepted order.

The orders table stores ``doc`` zlib-compressed, and sizes are what is stored. ``worst_case``
therefore fills every text that can grow with random printable ASCII (no two alike): the densest
JSON a vendor can send, which compresses least (about 6.6 bits a byte; UTF-8 multi-byte text,
escapes and real codes compress better). ``check_fits`` also keeps ``SAFETY_BYTES`` free.
"""

from __future__ import annotations

import functools
import json
import random
import string
from datetime import UTC, datetime

from order_hub.errors import InvalidInput
from order_hub.models.order import (
    CancelInfo,
    ForwardState,
    LogisticsFact,
    LogisticsStatus,
    Order,
    OrderEvent,
    Shipment,
    ShipmentItem,
    StatusChange,
)
from order_hub.models.status import ApiStatus
from order_hub.ports import OrderRepository

ITEM_LIMIT_BYTES = 400 * 1024
"""DynamoDB's maximum item size: 400 KB = 409,600 bytes, attribute names and values in UTF-8."""
SAFETY_BYTES = 8 * 1024
"""Kept free below the limit at acceptance (compression of real data is not exactly that of the worst case)."""
MAX_HISTORY = 30
MAX_FACTS = 20
MAX_SHIPMENTS = 10
EXTRA_SHIPMENT_ITEMS = 20
NOTE_BYTES = 200
ERROR_BYTES = 500
WMS_STATUS_BYTES = 30
CODE_BYTES = 64
KEPT_MARKS = 4
"""Webhook marks an order keeps (services.webhooks): a vendor's retry after a crash between the order's
write and the inbox row's is recognised while fewer than this many other webhooks changed the order."""
MARK_CHARS = 12
"""Characters of one webhook mark (72 bits of SHA-256, URL-safe base64)."""
CARRIER_NAME_BYTES = 200
ITEM_TEXT_BYTES: dict[str, int] = {
    "line_id": 60,
    "sku": 50,
    "batch_no": 64,
    "serial_no": 64,
    "mfg_date": 32,
    "exp_date": 32,
    "stock_condition": 1,
}
"""Caps of a shipment item's texts (the PGI webhook's caps; a poll repair's texts are cut to them)."""

_WIDEST = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)  # microseconds make the longest ISO text
_LONGEST_STATUS = max(ApiStatus, key=lambda status: len(status.value))


def json_bytes(text: str) -> int:
    """Bytes ``text`` takes inside a JSON document, quotes excluded."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def clamp(text: str, limit: int) -> str:
    """``text`` cut so it takes at most ``limit`` bytes inside JSON (never splitting a character)."""
    if len(text) <= limit and text.isascii() and json_bytes(text) == len(text):
        return text
    kept: list[str] = []
    used = 0
    for char in text:
        cost = json_bytes(char)
        if used + cost > limit:
            break
        kept.append(char)
        used += cost
    return "".join(kept)


def keep_history(history: list[StatusChange], change: StatusChange) -> list[StatusChange]:
    """History with ``change`` appended: its note cut to ``NOTE_BYTES``, the last ``MAX_HISTORY`` kept."""
    bounded = change.model_copy(update={"note": clamp(change.note, NOTE_BYTES)})
    return [*history, bounded][-MAX_HISTORY:]


def keep_fact(facts: list[LogisticsFact], fact: LogisticsFact) -> list[LogisticsFact]:
    """Logistics facts with ``fact`` appended (texts cut), the last ``MAX_FACTS`` kept."""
    return [*facts, bounded_fact(fact)][-MAX_FACTS:]


def bounded_fact(fact: LogisticsFact) -> LogisticsFact:
    update = {name: clamp(getattr(fact, name), NOTE_BYTES) for name in ("name", "description", "note", "state")}
    update |= {name: clamp(getattr(fact, name), CODE_BYTES) for name in ("tracking_id", "awb", "shipment_code")}
    return fact.model_copy(update=update)


def bounded_item(item: ShipmentItem) -> ShipmentItem:
    update = {
        name: clamp(value, ITEM_TEXT_BYTES[name]) for name, value in item if isinstance(value, str) and name in ITEM_TEXT_BYTES
    }
    return item.model_copy(update=update)


def shipment_item_budget(order: Order) -> int:
    """How many shipment items an order keeps over all its shipments."""
    return len(order.lines) + EXTRA_SHIPMENT_ITEMS


# -- the worst case ---------------------------------------------------------------------------------
_PRINTABLE = "".join(c for c in string.printable if c not in '"\\' and c.isprintable())
_POOL_BYTES = 96 * 1024  # larger than deflate's 32 KB window: slices of it never match each other


@functools.cache
def _pool() -> str:
    """Uniformly random printable ASCII (without JSON escapes), made once per container."""
    symbols = len(_PRINTABLE)
    usable = 256 - 256 % symbols  # bytes >= usable are dropped, so every symbol is equally likely
    table = bytes(ord(_PRINTABLE[b % symbols]) for b in range(256))
    drawn = random.Random(0).randbytes(_POOL_BYTES * 2).translate(table, bytes(range(usable, 256)))
    return drawn[:_POOL_BYTES].decode("ascii")


class _Filler:
    """Successive slices of the random pool: every call a new text."""

    def __init__(self) -> None:
        self._offset = 0

    def __call__(self, limit: int) -> str:
        pool = _pool()
        if self._offset + limit > len(pool):
            self._offset = 0
        text = pool[self._offset : self._offset + limit]
        self._offset += limit
        return text


def worst_case(order: Order) -> Order:
    """``order`` grown as far as the bounds allow: what its item can at most become after acceptance."""
    _full = _Filler()
    max_qty = 1_000_000
    history = [_change(_full) for _ in range(MAX_HISTORY)]
    facts = [_fact(_full) for _ in range(MAX_FACTS)]
    items = [
        ShipmentItem(qty=max_qty, **{name: _full(limit) for name, limit in ITEM_TEXT_BYTES.items()})
        for _ in range(shipment_item_budget(order))
    ]
    per_shipment = -(-len(items) // MAX_SHIPMENTS)
    shipments = [
        Shipment(
            shipment_code=_full(CODE_BYTES),
            awb=_full(CODE_BYTES),
            carrier_id=_full(CODE_BYTES),
            carrier_name=_full(CARRIER_NAME_BYTES),
            status=_full(NOTE_BYTES),
            pgi_at=_WIDEST,
            items=items[start : start + per_shipment],
            items_omitted=10**9,
            tracking_id=_full(CODE_BYTES),
            logistics_status=LogisticsStatus(
                code=-(10**18), name=_full(NOTE_BYTES), description=_full(NOTE_BYTES), status_date=_WIDEST
            ),
            delivered_at=_WIDEST,
        )
        for start in range(0, MAX_SHIPMENTS * per_shipment, per_shipment)
    ]
    quantities = dict.fromkeys(("qty_cancelled", "qty_allocated", "qty_picked", "qty_shipped"), max_qty)
    lines = [line.model_copy(update=quantities) for line in order.lines]
    forward = ForwardState(
        state="waiting_for_courier",
        wms_order_no=_full(CODE_BYTES),
        forwarded_body_hash=_full(CODE_BYTES),
        attempts=10**9,
        last_error=_full(ERROR_BYTES),
        last_attempt_at=_WIDEST,
    )
    return order.model_copy(
        update={
            "status": _LONGEST_STATUS,
            "wms_status": _full(WMS_STATUS_BYTES),
            "version": 10**9,
            "updated_at": _WIDEST,
            "courier": order.courier.model_copy(update={"awb": _full(CODE_BYTES), "tracking_id": _full(CODE_BYTES)}),
            "lines": lines,
            "shipments": shipments,
            "history": history,
            "logistics": facts,
            "forward": forward,
            "cancel": CancelInfo(reason=_full(NOTE_BYTES), at=_WIDEST, by=_full(CODE_BYTES)),
            "webhook_marks": [_full(MARK_CHARS) for _ in range(KEPT_MARKS)],
        }
    )


def _change(_full: _Filler) -> StatusChange:
    return StatusChange(
        at=_WIDEST,
        source="logistics_webhook",
        from_status=_LONGEST_STATUS,
        to_status=_LONGEST_STATUS,
        applied=False,
        note=_full(NOTE_BYTES),
    )


def _fact(_full: _Filler) -> LogisticsFact:
    return LogisticsFact(
        kind="tracking",
        received_at=_WIDEST,
        status_date=_WIDEST,
        tracking_id=_full(CODE_BYTES),
        awb=_full(CODE_BYTES),
        code=-(10**18),
        name=_full(NOTE_BYTES),
        description=_full(NOTE_BYTES),
        state=_full(NOTE_BYTES),
        shipment_code=_full(CODE_BYTES),
        applied=False,
        note=_full(NOTE_BYTES),
    )


def worst_event(order: Order) -> OrderEvent:
    """The largest event item the worst case of ``order`` can produce."""
    grown = worst_case(order)
    return OrderEvent(
        event_id="e" * CODE_BYTES,
        type="order.logistics_updated",
        tenant_id=order.tenant_id,
        warehouse_id=order.warehouse_id,
        order_no=order.order_no,
        seq=grown.version,
        at=_WIDEST,
        source="logistics_webhook",
        previous_status=_LONGEST_STATUS,
        order=grown,
    )


def check_fits(order: Order, repo: OrderRepository) -> int:
    """Refuse (400/810) an order whose stored items, grown to the worst case, would exceed the limit.

    Returns the worst-case size in bytes (for logs and tests).
    """
    event = worst_event(order)
    size = repo.stored_size(event.order, event)
    if size > ITEM_LIMIT_BYTES - SAFETY_BYTES:
        raise InvalidInput(
            f"the order is too large to store: with room for its shipments and history it takes {size:,} bytes "
            f"(compressed), over the {ITEM_LIMIT_BYTES - SAFETY_BYTES:,} bytes the hub allows an order item "
            f"(DynamoDB's item limit is {ITEM_LIMIT_BYTES:,} bytes); send fewer items or shorter texts",
            field="items",
        )
    return size
