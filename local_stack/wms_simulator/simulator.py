"""``WmsSimulator``: the WMS simulator as one object. It composes the state machine (``state``), the
Shipper API (``api``), the control API (``control``), the webhook outbox and sender (``webhooks``,
``sender``), the clock and the loopback server, and offers the control API as Python methods."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from local_stack.loopback_http import LoopbackServer, LoopbackService
from local_stack.wms_simulator.api import DEFAULT_TIMEOUT_HOLD_MS, FaultInjector, WmsApi
from local_stack.wms_simulator.clock import Clock
from local_stack.wms_simulator.control import handle_control
from local_stack.wms_simulator.model import (
    CODE_INTERNAL,
    SimResponse,
    SimulatorError,
    TenantConfig,
    Transport,
    error_entry,
    plain,
    utc_now,
)
from local_stack.wms_simulator.sender import WEBHOOK_ATTEMPTS, WEBHOOK_RETRY_DELAY_S, WEBHOOK_TIMEOUT_S, http_transport
from local_stack.wms_simulator.server import SimServer
from local_stack.wms_simulator.state import Warehouse
from local_stack.wms_simulator.views import control_view
from local_stack.wms_simulator.webhooks import WebhookOutbox

log = logging.getLogger(__name__)


def _split_target(target: str) -> tuple[str, str]:
    """(decoded path without a trailing slash, raw query) of a request target."""
    raw_path, _, query = target.partition("?")
    if raw_path.startswith(("http://", "https://")):
        raw_path = urlsplit(raw_path).path or "/"
    path = unquote(raw_path)
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path, query


class WmsSimulator(LoopbackService):
    """A Shipper-fulfilment-compatible WMS on 127.0.0.1. Nothing binds before ``start()``."""

    service_name = "simulator"
    thread_name = "wms-sim-http"

    def __init__(
        self,
        port: int = 0,
        tenants: dict[str, TenantConfig] | None = None,
        hub_url: str | None = None,
        *,
        now: Callable[[], datetime] | None = None,
        transport: Transport | None = None,
        webhook_attempts: int = WEBHOOK_ATTEMPTS,
        webhook_retry_delay_s: float = WEBHOOK_RETRY_DELAY_S,
        webhook_timeout_s: float = WEBHOOK_TIMEOUT_S,
    ) -> None:
        """``now`` replaces the wall clock for order timestamps; ``transport`` replaces HTTP for webhooks (tests)."""
        super().__init__(port)
        self._now = now or utc_now
        self._lock = threading.RLock()
        sender_options = {
            "transport": transport or http_transport,
            "attempts": webhook_attempts,
            "retry_delay_s": webhook_retry_delay_s,
            "timeout_s": webhook_timeout_s,
        }
        self._outbox = WebhookOutbox(self._lock, self._secret_for, sender_options)
        self._warehouse = Warehouse(self._now, self._lock, self._outbox)
        self._warehouse.tenants.update(tenants or {})
        self.set_hub_url(hub_url)
        self._faults = FaultInjector()
        self._api = WmsApi(self._warehouse, self._faults, self._now, self._stopping)
        self._clock = Clock(self.tick)

    def _secret_for(self, tenant_id: str) -> str | None:
        return self._warehouse.secret_for(tenant_id)

    # ---- lifecycle -------------------------------------------------------------------------

    def _new_server(self, address: tuple[str, int]) -> LoopbackServer:
        return SimServer(address, self)

    def start(self) -> None:
        """Serve (see ``LoopbackService.start``) and start the webhook sender."""
        if self._server is None:
            super().start()
            self._outbox.sender.start()
            log.info("WMS simulator on %s", self.url)

    def stop(self) -> None:
        """Stop the clock, the server (held requests are released without a reply) and the sender."""
        self._stopping.set()
        self.set_clock(enabled=False)
        super().stop()
        self._outbox.sender.stop()

    def __enter__(self) -> WmsSimulator:
        self.start()
        return self

    # ---- configuration ---------------------------------------------------------------------

    def add_tenant(self, tenant_id: str, config: TenantConfig) -> None:
        with self._lock:
            self._warehouse.tenants[tenant_id] = config

    def set_hub_url(self, url: str | None) -> None:
        with self._lock:
            self._outbox.hub_url = url.rstrip("/") if url else None

    # ---- control (Python API) ---------------------------------------------------------------

    def orders(self) -> list[dict[str, Any]]:
        """Every order with status, quantities and the history of status changes."""
        with self._lock:
            return [control_view(order) for order in self._warehouse.orders.values()]

    def order(self, warehouse_id: str, order_no: str, tenant_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            return control_view(self._warehouse.find(warehouse_id, order_no, tenant_id))

    def advance(
        self,
        warehouse_id: str,
        order_no: str,
        to: str | None = None,
        steps: int | None = None,
        ship_qty: Mapping[str, int] | None = None,
        tenant_id: str | None = None,
    ) -> dict[str, Any]:
        """Walk the order forward (to ``to``, or ``steps`` steps, default 1), firing webhooks on the way.

        ``to`` may also be ``CLOSED`` (the warehouse cancels) or ``CANCELLED``; ``ship_qty``
        ({sku: qty}) ships less than ordered. Raises ``SimulatorError`` (400/404) when refused.
        """
        with self._lock:
            order = self._warehouse.find(warehouse_id, order_no, tenant_id)
            self._warehouse.advance(order, to, steps, ship_qty)
            return control_view(order)

    def ship_rest(self, warehouse_id: str, order_no: str, tenant_id: str | None = None) -> dict[str, Any]:
        """A second package of a partly shipped order: the rest, under a new AWB, with its own PGI."""
        with self._lock:
            order = self._warehouse.find(warehouse_id, order_no, tenant_id)
            self._warehouse.ship_rest(order)
            return control_view(order)

    def cancel_rest(self, warehouse_id: str, order_no: str, tenant_id: str | None = None) -> dict[str, Any]:
        """Close a partly shipped order short: the open rest is cancelled (WMS ``CLOSED``, shipped quantities
        kept); no webhook, the hub's poll finds it."""
        with self._lock:
            order = self._warehouse.find(warehouse_id, order_no, tenant_id)
            self._warehouse.cancel_rest(order)
            return control_view(order)

    def hold(self, warehouse_id: str, order_no: str, hold: bool = True, tenant_id: str | None = None) -> None:
        """Keep the clock ticker from moving this order (``hold=False`` lets it go again)."""
        with self._lock:
            self._warehouse.find(warehouse_id, order_no, tenant_id).hold = hold

    def touch(
        self,
        warehouse_id: str,
        order_no: str,
        status: str,
        tenant_id: str | None = None,
        updated_at: datetime | str | None = None,
    ) -> None:
        """Set one order's status directly (any status, any direction), without webhooks."""
        with self._lock:
            self._warehouse.touch(self._warehouse.find(warehouse_id, order_no, tenant_id), status, updated_at)

    def set_faults(
        self,
        mode: str = "none",
        status: int = 500,
        count: int | None = None,
        delay_ms: int = 3000,
        paths: Iterable[str] | None = None,
        hold_ms: int = DEFAULT_TIMEOUT_HOLD_MS,
    ) -> dict[str, Any]:
        """Make the next ``count`` API requests (or all, if None) under ``paths`` fail.

        ``error``: answer ``status`` (code 803 for 5xx, else 810); ``slow``: answer after
        ``delay_ms``; ``timeout``: hold the request ``hold_ms`` (or until ``stop()``) and close the
        connection without answering; ``none``: back to normal. The control API is never affected.
        """
        return self._faults.configure(mode, status, count, delay_ms, paths, hold_ms)

    def faults(self) -> dict[str, Any]:
        return self._faults.view()

    def set_webhooks(
        self,
        drop: bool | None = None,
        duplicate: bool | None = None,
        reorder: bool | None = None,
        enabled: bool | None = None,
    ) -> dict[str, bool]:
        """Change how webhooks are sent (None leaves a setting as is); applies to webhooks raised from now on.

        ``enabled=False``: raise none; ``drop``: record but do not send; ``duplicate``: send each
        twice; ``reorder``: hold each order confirmation until the PGI of the same order was sent
        (or the order is cancelled, or reorder is switched off).
        """
        return self._outbox.configure(enabled=enabled, drop=drop, duplicate=duplicate, reorder=reorder)

    def webhook_settings(self) -> dict[str, bool]:
        with self._lock:
            return self._outbox.settings.view()

    def webhook_log(self) -> list[dict[str, Any]]:
        """Every delivery attempt (and every dropped/undeliverable webhook), oldest first."""
        return self._outbox.log()

    def wait_webhooks_idle(self, timeout: float = 10.0) -> bool:
        """True once every queued webhook has been delivered or given up (sender thread running)."""
        return self._outbox.sender.wait_idle(timeout)

    def deliver_pending_webhooks(self) -> None:
        """Deliver queued webhooks now, in this thread (when not started, e.g. in unit tests)."""
        self._outbox.sender.drain()

    def set_clock(self, enabled: bool, interval_ms: int | None = None) -> dict[str, Any]:
        """Start or stop the ticker that advances every non-terminal, non-held order one step per tick."""
        return self._clock.set(enabled, interval_ms)

    def clock(self) -> dict[str, Any]:
        return self._clock.view()

    def tick(self) -> int:
        """One clock tick by hand: every non-terminal, non-held order one step forward; how many moved."""
        return self._warehouse.tick()

    def reset(self) -> None:
        """Forget orders, faults, webhook settings, held and queued webhooks and the delivery log."""
        with self._lock:
            self._warehouse.reset()
            self._faults.configure("none", 500, None, 3000, None, DEFAULT_TIMEOUT_HOLD_MS)
            self._outbox.reset()

    def saved_orders(self) -> dict[str, Any]:
        """The warehouse's orders and number sequences as JSON (the local stack's snapshot)."""
        return self._warehouse.saved()

    def restore_orders(self, saved: Mapping[str, Any]) -> int:
        """Put back what ``saved_orders`` returned, without webhooks; how many orders."""
        return self._warehouse.restore(saved)

    def bulk_load(self, orders: Iterable[Mapping[str, Any]]) -> int:
        """Preload orders without webhooks (fast: 10,000 in well under a second). Returns how many.

        Keys: ``order_no``, ``warehouse_id`` (required); ``status`` (default OPEN); ``updated_at``
        and ``created_at`` (datetime or ISO text, default now); ``tenant_id`` (default: the only
        configured tenant); ``items`` ([{sku, qty}], default one line ``SKU-1`` x 1);
        ``express_code``, ``customer_id``, ``consignee`` (optional).
        """
        return self._warehouse.load(orders)

    # ---- HTTP entry point --------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> SimResponse:
        """Answer one HTTP request (header names in any case). No socket involved."""
        path, query = _split_target(target)
        method = method.upper()
        control = path == "/_sim" or path.startswith("/_sim/")
        try:
            if control:
                return handle_control(self, method, path, query, body)
            return self._api.handle(method, path, query, {name.lower(): value for name, value in headers.items()}, body)
        except SimulatorError as error:
            if path.startswith("/_sim"):
                return plain(error.status, {"error": error.message, "field": error.field})
            return self._api.envelope(path, error.status, errors=[error_entry(error.code, error.message, error.field)])
        except Exception:
            log.exception("WMS simulator failed on %s %s", method, target)
            return self._api.envelope(path, 500, errors=[error_entry(CODE_INTERNAL, "internal error")])
