"""Poll a tenant's WMS order list and repair what webhooks missed.

Per warehouse, a cursor remembers how far the list has been read: the window being read
(``updated_start``..``updated_end``, days, as the WMS filters by day), the next page, and, once a
window is done, the time it was read up to. A new window starts ``OVERLAP`` before that time, so
an order updated at the boundary is never missed. A run that runs out of time stores the next
page and the next run continues there. Only real changes are written (the status authority
decides), so a quiet list costs reads, not writes.

Because the WMS filters by whole days, every run lists all of the day's updated orders again.
A listed order whose WMS ``updated_at`` is older than ``synced_until - OVERLAP`` was reconciled
by an earlier complete run and is not read again: a quiet day costs WMS list pages, not a
DynamoDB read per order per run. A run in which a write lost a race keeps the old
``synced_until``, so the next run reads those orders again.

One run at a time per (tenant, warehouse): a run takes the warehouse's poll lease (on the cursor
item, until the invocation's time is up) before it reads the cursor, and its cursor write
releases it. A warehouse whose lease another run holds is skipped (``busy``); a lease left by a
crashed run lapses at its ``until``. A list that came sorted by ``updated_at`` is read from the
page where the last complete run's reconciled head ended (checked, and looked behind when it moved);
any other list from page 1. See docs/poller.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from order_hub.errors import ConcurrentModification, WmsError
from order_hub.models.order import EventType, Order, ShipmentItem
from order_hub.models.status import TERMINAL, ApiStatus, api_status_for_wms
from order_hub.models.wms import WmsOutbound
from order_hub.ports import CursorStore, OrderRepository, WmsClient, WmsDirectory
from order_hub.services.orders import Clock, make_event, utc_now
from order_hub.services.status import Fact, apply_fact, remainder_cancelled, rest_already_cancelled
from order_hub.services.webhooks import ship

OVERLAP = timedelta(minutes=10)
FIRST_LOOKBACK = timedelta(days=1)
PAGE_SIZE = 100
LEASE_SECONDS = 330
"""Default poll lease: the function's 300 s timeout plus a margin (the handler passes its own)."""


@dataclass
class PollStats:
    pages: int = 0
    seen: int = 0
    written: int = 0
    conflicts: int = 0
    unknown_orders: int = 0
    unknown_statuses: int = 0
    raced: int = 0
    skipped: int = 0  # listed again but unchanged since an earlier complete run: not read
    busy: int = 0  # warehouses another run was polling: left to it
    pages_skipped: int = 0  # pages of a sorted list's reconciled head not listed again
    completed: bool = True
    lag_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def add(self, other: PollStats) -> None:
        counted = ("pages", "seen", "written", "conflicts", "unknown_orders", "unknown_statuses", "raced", "skipped")
        for name in (*counted, "busy", "pages_skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.completed = self.completed and other.completed
        self.lag_seconds = max(self.lag_seconds, other.lag_seconds)
        self.notes.extend(other.notes)


@dataclass
class PollRun:
    """A whole run: every polled warehouse's stats added up, and the warehouses that failed."""

    total: PollStats = field(default_factory=PollStats)
    failed_warehouses: int = 0

    def summary(self) -> dict[str, int | bool]:
        total = self.total
        return {
            "pages": total.pages,
            "seen": total.seen,
            "written": total.written,
            "conflicts": total.conflicts,
            "unknown_orders": total.unknown_orders,
            "unknown_statuses": total.unknown_statuses,
            "raced": total.raced,
            "skipped": total.skipped,
            "busy": total.busy,
            "pages_skipped": total.pages_skipped,
            "completed": total.completed,
            "failed_warehouses": self.failed_warehouses,
        }


def poll_all(
    directory: CursorStore,
    wms_directory: WmsDirectory,
    repo: OrderRepository,
    out_of_time: Callable[[], bool],
    now: Clock = utc_now,
    lease_seconds: int = LEASE_SECONDS,
) -> PollRun:
    """Poll every warehouse of every active tenant that has a WMS. A warehouse whose WMS fails
    waits for the next run; the others go on. ``lease_seconds``: how long this run may hold a
    warehouse (at least the time the invocation has left)."""
    from order_hub.observability import logger

    run = PollRun()
    owner = uuid.uuid4().hex
    for tenant in directory.list_tenants():
        if tenant.status != "active":
            continue
        wms = wms_directory.client_for(tenant.tenant_id)
        if wms is None:
            continue
        for warehouse_id in tenant.warehouse_ids:
            try:
                stats = poll_warehouse(
                    tenant.tenant_id,
                    warehouse_id,
                    wms,
                    repo,
                    directory,
                    out_of_time,
                    now,
                    owner=owner,
                    lease_seconds=lease_seconds,
                )
            except WmsError as error:
                run.failed_warehouses += 1
                logger.warning(
                    "poll failed", extra={"tenant_id": tenant.tenant_id, "warehouse_id": warehouse_id, "error": str(error)}
                )
                continue
            run.total.add(stats)
    return run


def poll_warehouse(
    tenant_id: str,
    warehouse_id: str,
    wms: WmsClient,
    repo: OrderRepository,
    cursors: CursorStore,
    out_of_time: Callable[[], bool],
    now: Clock = utc_now,
    page_size: int = PAGE_SIZE,
    owner: str | None = None,
    lease_seconds: int = LEASE_SECONDS,
) -> PollStats:
    stats = PollStats()
    started = now()
    owner = owner or uuid.uuid4().hex
    taken = cursors.take_poll_lease(tenant_id, warehouse_id, owner, started, started + timedelta(seconds=lease_seconds))
    if taken is None:  # another run polls this warehouse right now
        stats.busy = 1
        return stats
    try:
        return _poll_leased(
            tenant_id, warehouse_id, wms, repo, cursors, out_of_time, now, page_size, owner, taken, stats, started
        )
    except Exception:
        cursors.put_cursor(tenant_id, warehouse_id, taken, owner)  # release: the next run tries again at once
        raise


def _poll_leased(
    tenant_id: str,
    warehouse_id: str,
    wms: WmsClient,
    repo: OrderRepository,
    cursors: CursorStore,
    out_of_time: Callable[[], bool],
    now: Clock,
    page_size: int,
    owner: str,
    cursor: dict[str, Any],
    stats: PollStats,
    started: datetime,
) -> PollStats:
    head = cursor.get("head") or {}
    if "window_start" in cursor:  # resume an interrupted window
        window_start = date.fromisoformat(cursor["window_start"])
        window_end = date.fromisoformat(cursor["window_end"])
        window_read_at = datetime.fromisoformat(cursor["window_read_at"])
        page = int(cursor["next_page"])
        head = {}  # the pages before next_page were not seen in this window: no head to learn
    else:
        synced_until = datetime.fromisoformat(cursor["synced_until"]) if "synced_until" in cursor else started - FIRST_LOOKBACK
        stats.lag_seconds = (started - synced_until).total_seconds()
        window_start, window_end, window_read_at, page = (synced_until - OVERLAP).date(), started.date(), started, 1
    # Orders the WMS last changed before this instant were reconciled by an earlier complete run.
    reconciled_before = (
        datetime.fromisoformat(cursor["synced_until"]) - OVERLAP if "synced_until" in cursor else datetime.min.replace(tzinfo=UTC)
    )
    # A list that came sorted by updated_at last time: skip its reconciled head (docs/poller.md).
    probing = False
    if page == 1 and head.get("window_start") == window_start.isoformat() and head.get("page_size") == page_size:
        page = max(1, int(head["pages"]))
        probing = page > 1
        stats.pages_skipped = page - 1
    learn_head = "window_start" not in cursor
    in_order, head_pages, last_seen = True, -1, datetime.min.replace(tzinfo=UTC)
    next_boundary = window_read_at - OVERLAP  # the next complete run's reconciled_before
    while True:
        if out_of_time():
            cursors.put_cursor(
                tenant_id,
                warehouse_id,
                {
                    **({"synced_until": cursor["synced_until"]} if "synced_until" in cursor else {}),
                    "window_start": window_start.isoformat(),
                    "window_end": window_end.isoformat(),
                    "window_read_at": window_read_at.isoformat(),
                    "next_page": page,
                },
                owner,
            )
            stats.completed = False
            return stats
        listing = wms.list_outbounds(warehouse_id, window_start, window_end, page, page_size)
        stats.pages += 1
        if probing:  # the first page after the skipped head must still start with a reconciled order
            first = listing.items[0] if listing.items else None
            if first is None or first.updated_at is None or first.updated_at >= reconciled_before:
                page = max(1, page // 2)  # the head shrank (orders moved to the tail): look further back
                probing = page > 1
                stats.pages_skipped = page - 1
                continue
            probing = False
        if head_pages < 0:  # the pages before this one are the (verified) reconciled head
            head_pages = page - 1
        times = [item.updated_at for item in listing.items]
        ordered = [t for t in times if t is not None]
        if len(ordered) < len(times) or any(b < a for a, b in zip([last_seen, *ordered], ordered, strict=False)):
            in_order = False
            if stats.pages_skipped:  # the skip relied on an order the list no longer keeps: read it all
                page, stats.pages_skipped = 1, 0
                continue
        elif ordered:
            last_seen = ordered[-1]
            if in_order and last_seen < next_boundary and head_pages == page - 1:
                head_pages = page
        fresh = [item for item in listing.items if item.updated_at is None or item.updated_at >= reconciled_before]
        stats.skipped += len(listing.items) - len(fresh)
        # Eventually consistent (half the RRU): an order read a moment before another writer's change
        # loses its conditional write, and is then read again consistently and reconciled once more.
        stored = repo.get_many(tenant_id, warehouse_id, [item.order_no for item in fresh], consistent=False) if fresh else {}
        missing = [item.order_no for item in fresh if item.order_no not in stored]
        if missing:  # not found on a replica: asked for sure (the orders the hub does not know, mostly)
            stored |= repo.get_many(tenant_id, warehouse_id, missing)
        for item in fresh:
            stats.seen += 1
            order = stored.get(item.order_no)
            if order is None:
                stats.unknown_orders += 1
                continue
            raced = stats.raced
            _reconcile(order, item, wms, repo, now, stats)
            latest = repo.get_many(tenant_id, warehouse_id, [item.order_no]) if stats.raced > raced else {}
            if item.order_no in latest:  # a stale read, or a writer just before: once more, on the latest version
                stats.raced = raced
                _reconcile(latest[item.order_no], item, wms, repo, now, stats)
        if page >= listing.total_pages or not listing.items:
            break
        page += 1
    if stats.raced and "synced_until" in cursor:  # a lost race: look at this window's orders again next time
        cursors.put_cursor(tenant_id, warehouse_id, {"synced_until": cursor["synced_until"]}, owner)
        return stats
    done: dict[str, Any] = {"synced_until": window_read_at.astimezone(UTC).isoformat()}
    if learn_head and in_order and head_pages > 0:
        done["head"] = {"window_start": next_boundary.date().isoformat(), "page_size": page_size, "pages": head_pages}
    cursors.put_cursor(tenant_id, warehouse_id, done, owner)
    return stats


def _reconcile(order: Order, item: WmsOutbound, wms: WmsClient, repo: OrderRepository, now: Clock, stats: PollStats) -> None:
    status = api_status_for_wms(item.so_status)
    if status is None:
        stats.unknown_statuses += 1
        stats.notes.append(f"{item.order_no}: unknown WMS status {item.so_status!r}")
        return
    changed: Order | None
    event: EventType
    fact = Fact("poller", now(), status, item.so_status.upper())
    if status == ApiStatus.CANCELLED and not order.shipments and order.status not in TERMINAL:
        # Closed by the warehouse: if part of it shipped first (the PGI webhook never came), that shipment
        # is recorded before the rest is cancelled, so clients hear of both in order.
        shipped = _shipment_before_close(order, wms, now)
        if shipped is not None:
            if not _write(shipped, order, "order.shipped", repo, stats):
                return
            order = shipped
    if status == ApiStatus.CLOSED and not order.shipments and order.status != ApiStatus.CLOSED:
        changed, event = _repair_shipment(order, item, wms, now)  # the PGI webhook never came
    elif (rest := remainder_cancelled(order, fact)) is not None:
        changed, event = rest, "order.partially_cancelled"  # shipped in part, the rest closed by the warehouse
    elif rest_already_cancelled(order, fact):
        return
    else:
        outcome = apply_fact(order, fact)
        stats.conflicts += int(outcome.conflict)
        changed, event = outcome.order, "order.status_changed" if outcome.moved else "order.fact_recorded"
    if changed is not None:
        _write(changed, order, event, repo, stats)


def _write(changed: Order, order: Order, event: EventType, repo: OrderRepository, stats: PollStats) -> bool:
    try:
        repo.replace(changed, order.version, make_event(changed, event, "poller", order))
    except ConcurrentModification:
        stats.raced += 1  # a webhook or the API got there first; the next poll looks again
        return False
    stats.written += 1
    return True


def _repair_shipment(order: Order, item: WmsOutbound, wms: WmsClient, now: Clock) -> tuple[Order | None, EventType]:
    detail = wms.get_outbound(order.warehouse_id, order.order_no) or item
    items = [ShipmentItem(sku=line.sku, qty=line.qty_shipped) for line in detail.details if line.qty_shipped > 0]
    awb = detail.delivery_no or item.delivery_no or f"{order.order_no}-unknown-awb"
    changed, event, _ = ship(order, awb, "", detail.carrier_name or item.carrier_name, None, items, "poller", now)
    return changed, event


def _shipment_before_close(order: Order, wms: WmsClient, now: Clock) -> Order | None:
    """The order with the shipment a warehouse-closed order's detail shows, or None when nothing shipped."""
    detail = wms.get_outbound(order.warehouse_id, order.order_no)
    if detail is None:
        return None
    items = [ShipmentItem(sku=line.sku, qty=line.qty_shipped) for line in detail.details if line.qty_shipped > 0]
    if not items:
        return None
    awb = detail.delivery_no or f"{order.order_no}-unknown-awb"
    shipped, _, _ = ship(order, awb, "", detail.carrier_name, None, items, "poller", now)
    return shipped
