"""The WMS simulator's state machine: the orders of every tenant and how their warehouse status moves.

Every public method takes the state lock. Status changes raise webhooks through the outbox
(order confirmation on create, PGI on ``SHIPPED``); ``touch`` and ``bulk_load`` raise none.
"""

from __future__ import annotations

import dataclasses
import hmac
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from local_stack.wms_simulator.bulk import order_from_spec
from local_stack.wms_simulator.model import (
    ALLOCATED,
    CANCELLED,
    CANCELLED_STATUSES,
    CHANGEABLE,
    CLOSED,
    FLOW,
    OPEN,
    PACKED,
    RANK,
    SHIPPED,
    STATUSES,
    TERMINAL,
    Line,
    Order,
    OrderKey,
    SimulatorError,
    TenantConfig,
    carrier_for,
    iso_z,
    parse_moment,
    whole_seconds,
)
from local_stack.wms_simulator.validation import require_int
from local_stack.wms_simulator.webhooks import KIND_CONFIRMATION, KIND_PGI, WebhookOutbox, confirmation_payload, pgi_payload


class Warehouse:
    """Orders keyed by (tenant, warehouse, order number), their statuses and their side effects."""

    def __init__(self, now: Callable[[], datetime], lock: threading.RLock, outbox: WebhookOutbox) -> None:
        self._now = now
        self.lock = lock
        self.outbox = outbox
        self.tenants: dict[str, TenantConfig] = {}
        self.orders: dict[OrderKey, Order] = {}
        self._order_seq = itertools.count(1)
        self._awb_seq = itertools.count(1)
        self._version = 0
        self._list_cache: tuple[tuple[Any, ...], list[OrderKey]] | None = None

    # ---- tenants -------------------------------------------------------------------------------

    def tenant_for_key(self, api_key: str | None) -> str | None:
        if not api_key:
            return None
        with self.lock:
            for tenant_id, config in self.tenants.items():
                if hmac.compare_digest(config.api_key.encode(), api_key.encode()):
                    return tenant_id
        return None

    def secret_for(self, tenant_id: str) -> str | None:
        tenant = self.tenants.get(tenant_id)
        return tenant.webhook_secret if tenant else None

    # ---- lookups (callers hold the lock) -------------------------------------------------------

    def get(self, tenant_id: str, warehouse_id: str, order_no: str) -> Order:
        order = self.orders.get((tenant_id, warehouse_id, order_no))
        if order is None:
            raise SimulatorError(404, f"order {order_no} not found in warehouse {warehouse_id}", field="order_no")
        return order

    def find(self, warehouse_id: str, order_no: str, tenant_id: str | None) -> Order:
        """The order, by tenant if given, else the only tenant's that has it."""
        if tenant_id is not None:
            return self.get(tenant_id, warehouse_id, order_no)
        found = [order for key, order in self.orders.items() if key[1:] == (warehouse_id, order_no)]
        if not found:
            raise SimulatorError(404, f"order {order_no} not found in warehouse {warehouse_id}", field="order_no")
        if len(found) > 1:
            raise SimulatorError(409, f"order {order_no} exists for several tenants; pass tenant_id", field="tenant_id")
        return found[0]

    def listed_keys(self, tenant_id: str, warehouse_id: str | None, start: date | None, end: date | None) -> list[OrderKey]:
        """Matching order keys by (updated_at, order_no); cached until the next change (paging is cheap)."""
        cache_key = (self._version, tenant_id, warehouse_id, start, end)
        if self._list_cache is not None and self._list_cache[0] == cache_key:
            return self._list_cache[1]
        matching = [
            order
            for order in self.orders.values()
            if order.tenant_id == tenant_id
            and (warehouse_id is None or order.warehouse_id == warehouse_id)
            and (start is None or order.updated_at.date() >= start)
            and (end is None or order.updated_at.date() <= end)
        ]
        matching.sort(key=lambda order: (order.updated_at, order.order_no, order.warehouse_id))
        keys = [order.key for order in matching]
        self._list_cache = (cache_key, keys)
        return keys

    # ---- the client's changes (the WMS API) ----------------------------------------------------

    def create(self, tenant_id: str, fields: Mapping[str, Any]) -> Order:
        now = whole_seconds(self._now())
        with self.lock:
            key = (tenant_id, fields["warehouse_id"], fields["so_number"])
            if key in self.orders:
                raise SimulatorError(409, f"order {key[2]} in warehouse {key[1]} already exists", field="so_number")
            order = Order(
                tenant_id=tenant_id,
                warehouse_id=key[1],
                order_no=key[2],
                wms_order_no=self._next_wms_order_no(),
                customer_id=fields["customer_id"],
                consignee_name=fields["consignee"],
                express_code=fields["express_code"],
                lines=fields["lines"],
                order_time=fields["order_time"] or now,
                created_at=now,
                updated_at=now,
                history=[{"status": OPEN, "at": iso_z(now), "source": "api"}],
            )
            self.orders[key] = order
            self._bump()
            self.outbox.raise_webhook(order, KIND_CONFIRMATION, confirmation_payload(order))
            return order

    def update(self, tenant_id: str, fields: Mapping[str, Any]) -> Order:
        with self.lock:
            order = self.get(tenant_id, fields["warehouse_id"], fields["so_number"])
            if order.status not in CHANGEABLE:
                raise SimulatorError(400, order.refusal("updated"), field="so_number")
            order.lines = fields["lines"]
            order.customer_id = fields["customer_id"]
            order.consignee_name = fields["consignee"]
            order.express_code = fields["express_code"]
            if fields["order_time"] is not None:
                order.order_time = fields["order_time"]
            order.updated_at = whole_seconds(self._now())
            self._bump()
            return order

    def cancel(self, tenant_id: str, warehouse_id: str, order_no: str) -> None:
        """Cancel before allocation; cancelling a cancelled order again changes nothing."""
        with self.lock:
            order = self.get(tenant_id, warehouse_id, order_no)
            if order.status in CANCELLED_STATUSES:
                return
            if order.status not in CHANGEABLE:
                raise SimulatorError(400, order.refusal("cancelled"), field="data.cancellation.order_no")
            self._set_status(order, CANCELLED, "api")

    def confirm_pgi(self, tenant_id: str, warehouse_id: str, doc_no: str, delivery_no: str) -> Order:
        """The hub forwarded a PGI back (seed 002 step 7): it must match a shipped order."""
        with self.lock:
            order = self.orders.get((tenant_id, warehouse_id, doc_no))
            if order is None:
                raise SimulatorError(404, f"order {doc_no} not found", field="doc_no")
            shipped = order.status == SHIPPED or order.rest_cancelled
            if not shipped or delivery_no not in (order.delivery_no, *order.later_awbs):
                raise SimulatorError(400, f"order {order.order_no} has no PGI {delivery_no}", field="delivery_no")
            order.pgi_confirmations += 1
            return order

    # ---- the warehouse's changes (control) -----------------------------------------------------

    def advance(self, order: Order, to: str | None, steps: int | None, ship_qty: Mapping[str, int] | None) -> None:
        """Walk ``order`` forward (to ``to``, or ``steps`` steps, default 1), firing webhooks on the way."""
        if to is not None and steps is not None:
            raise SimulatorError(400, "give either 'to' or 'steps', not both")
        with self.lock:
            target = self._target(order, to, steps)
            if ship_qty is not None:
                self._plan_shipment(order, ship_qty)
            if target in CANCELLED_STATUSES:
                self._set_status(order, target, "advance")
                return
            for status in FLOW[RANK[order.status] + 1 : RANK[target] + 1]:
                self._set_status(order, status, "advance")

    def ship_rest(self, order: Order) -> None:
        """A second package: ship what a partial shipment left open, under a new AWB, with its own
        PGI webhook (only this package's quantities). Refused (400) when nothing is open."""
        with self.lock:
            rest = order.open_rest()
            if order.status != SHIPPED or not any(rest):
                raise SimulatorError(400, f"order {order.order_no} has no open quantity to ship", field="order_no")
            moment = whole_seconds(self._now())
            for line in order.lines:
                line.to_ship = None  # everything ordered is shipped now
            first_awb, order.delivery_no = order.delivery_no, ""
            self._apply_side_effects(order, moment)  # a new AWB for the second package
            payload = pgi_payload(order, moment)
            for detail, qty in zip(payload["details"], rest, strict=True):
                detail["qty_shipped"] = qty
            order.updated_at = moment
            order.history.append({"status": SHIPPED, "at": iso_z(moment), "source": f"ship_rest {order.delivery_no}"})
            self._bump()
            self.outbox.raise_webhook(order, KIND_PGI, payload)
            order.later_awbs.append(order.delivery_no)
            order.delivery_no = first_awb  # the order's AWB stays the first package's

    def cancel_rest(self, order: Order) -> None:
        """The warehouse closes a partly shipped order short: what shipped stays shipped, the open rest is
        cancelled. The order becomes ``CLOSED`` (Shipper's "void, cancelled or any other reason", API
        ``CANCELLED``) with its shipped quantities kept in the detail; no webhook (Shipper documents none
        for a cancellation): the hub learns it from its poll. Refused (400) when nothing is open."""
        with self.lock:
            rest = order.open_rest()
            if order.status != SHIPPED or not any(rest):
                raise SimulatorError(400, f"order {order.order_no} has no open quantity to cancel", field="order_no")
            moment = whole_seconds(self._now())
            order.status = CLOSED
            order.rest_cancelled = True
            order.updated_at = moment
            cancelled = ", ".join(f"{qty} x {line.sku}" for line, qty in zip(order.lines, rest, strict=True) if qty)
            order.history.append({"status": CLOSED, "at": iso_z(moment), "source": f"cancel_rest {cancelled}"})
            self._bump()

    def touch(self, order: Order, status: str, updated_at: datetime | str | None) -> None:
        """Set the status directly (any status, any direction), without webhooks."""
        status = status.strip().upper()
        if status not in STATUSES:
            raise SimulatorError(400, f"unknown status {status!r}", field="status")
        with self.lock:
            moment = parse_moment(updated_at, "updated_at") if updated_at is not None else None
            self._set_status(order, status, "touch", webhooks=False, at=moment)

    def tick(self) -> int:
        """Every non-terminal, non-held order one step forward; how many moved."""
        moved = 0
        with self.lock:
            for order in list(self.orders.values()):
                if order.status in TERMINAL or order.hold:
                    continue
                self._set_status(order, FLOW[RANK[order.status] + 1], "clock")
                moved += 1
        return moved

    def reset(self) -> None:
        with self.lock:
            self.orders.clear()
            self._order_seq = itertools.count(1)
            self._awb_seq = itertools.count(1)
            self._bump()

    def saved(self) -> dict[str, Any]:
        """Every order as it is, and the number sequences (JSON: the local stack's snapshot)."""
        with self.lock:
            orders = [dataclasses.asdict(order) for order in self.orders.values()]
            for order in orders:
                for name in ("order_time", "created_at", "updated_at"):
                    order[name] = order[name].isoformat()
            return {"orders": orders, "next_order_seq": self._peek("_order_seq"), "next_awb_seq": self._peek("_awb_seq")}

    def restore(self, saved: Mapping[str, Any]) -> int:
        """Put back what ``saved`` returned (replacing the orders); how many orders."""
        with self.lock:
            self.orders.clear()
            for document in saved.get("orders", []):
                fields = dict(document)
                fields["lines"] = [Line(**line) for line in fields["lines"]]
                for name in ("order_time", "created_at", "updated_at"):
                    fields[name] = datetime.fromisoformat(fields[name])
                order = Order(**fields)
                self.orders[order.key] = order
            self._order_seq = itertools.count(int(saved.get("next_order_seq", 1)))
            self._awb_seq = itertools.count(int(saved.get("next_awb_seq", 1)))
            self._bump()
            return len(self.orders)

    def _peek(self, name: str) -> int:
        """The next number of the ``itertools.count`` at ``self.<name>`` (it keeps counting from there)."""
        upcoming = next(getattr(self, name))
        setattr(self, name, itertools.count(upcoming))
        return int(upcoming)

    def load(self, specs: Iterable[Mapping[str, Any]]) -> int:
        """Add orders as they are, without webhooks (see ``WmsSimulator.bulk_load``)."""
        now = whole_seconds(self._now())
        with self.lock:
            default_tenant = next(iter(self.tenants)) if len(self.tenants) == 1 else None
            loaded = 0
            for spec in specs:
                order = order_from_spec(spec, default_tenant, now, self.orders, self._next_wms_order_no)
                self._apply_side_effects(order, order.updated_at)
                self.orders[order.key] = order
                loaded += 1
            self._bump()
        return loaded

    # ---- internals (callers hold the lock) -----------------------------------------------------

    def _bump(self) -> None:
        self._version += 1
        self._list_cache = None

    def _next_wms_order_no(self) -> str:
        return f"WMSO-{next(self._order_seq):06d}"

    def _target(self, order: Order, to: str | None, steps: int | None) -> str:
        if order.status in TERMINAL:
            raise SimulatorError(400, f"order {order.order_no} is {order.status}, it cannot move", field="to")
        if to is None:
            return FLOW[min(RANK[order.status] + (1 if steps is None else steps), len(FLOW) - 1)]
        target = to.strip().upper()
        if target not in STATUSES:
            raise SimulatorError(400, f"unknown status {to!r}", field="to")
        if target not in CANCELLED_STATUSES and RANK[target] < RANK[order.status]:
            raise SimulatorError(400, f"order {order.order_no} is {order.status}; {target} would move it backwards", field="to")
        return target

    def _plan_shipment(self, order: Order, ship_qty: Mapping[str, int]) -> None:
        ordered: dict[str, int] = {}
        for line in order.lines:
            ordered[line.sku] = ordered.get(line.sku, 0) + line.qty
        for sku, qty in ship_qty.items():
            if sku not in ordered:
                raise SimulatorError(400, f"ship_qty: SKU {sku!r} is not on the order", field="ship_qty")
            require_int(qty, f"ship_qty.{sku}", 0, ordered[sku])
        for sku, qty in ship_qty.items():
            left = qty
            for line in order.lines:
                if line.sku == sku:
                    line.to_ship = min(line.qty, left)
                    left -= line.to_ship

    def _set_status(self, order: Order, status: str, source: str, *, webhooks: bool = True, at: datetime | None = None) -> None:
        moment = at or whole_seconds(self._now())
        order.status = status
        order.updated_at = moment
        order.history.append({"status": status, "at": iso_z(moment), "source": source})
        self._apply_side_effects(order, moment)
        self._bump()
        if not webhooks:
            return
        if status == SHIPPED:
            self.outbox.raise_webhook(order, KIND_PGI, pgi_payload(order, moment))
        if status == SHIPPED or status in CANCELLED_STATUSES:
            self.outbox.release_held(order.key)

    def _apply_side_effects(self, order: Order, moment: datetime) -> None:
        """Batch data (batch, serial, dates) from allocation on, an AWB from PACKED on."""
        rank = RANK.get(order.status)
        if rank is None:
            return
        if rank >= RANK[ALLOCATED]:
            for number, line in enumerate(order.lines, start=1):
                if not line.batch_no:
                    line.batch_no = f"B{moment:%Y%m%d}"
                    line.serial_no = f"SN-{order.order_no}-{number}"
                    line.mfg_date = (moment - timedelta(days=60)).strftime("%Y-%m-%d")
                    line.exp_date = (moment + timedelta(days=365)).strftime("%Y-%m-%d")
        if rank >= RANK[PACKED] and not order.delivery_no:
            carrier_id, _ = carrier_for(order.express_code)
            prefix = re.sub(r"[^A-Z0-9]", "", carrier_id.upper().split()[0])[:6] or "AWB"
            order.delivery_no = f"{prefix}{10**11 + next(self._awb_seq):d}"
