"""A WMS simulator speaking Shipper's fulfilment API, for the local stack, tests and demos.

``WmsSimulator`` keeps its own orders (keyed by tenant, warehouse and order number), moves them
through the raw warehouse statuses (``OPEN -> DUE_OUT -> ALLOCATED -> PICKING -> PICKED ->
PACKING -> PACKED -> SHIPPING -> SHIPPED``, plus ``CANCELLED`` and ``CLOSED`` = cancelled by the
warehouse) on command or on a clock, can be told to fail, and sends signed webhooks to the hub
(order confirmation on create, PGI on ``SHIPPED``) from a background sender thread.

The API key (``x-api-key``) identifies the tenant; every tenant has a ``TenantConfig`` with its key
and its webhook secret. Webhooks are signed ``x-hub-signature: v1=<hex HMAC-SHA256(secret,
f"{timestamp}.".encode() + body)>`` with ``x-hub-timestamp: <epoch seconds>``.

Everything HTTP goes through ``WmsSimulator.handle`` (method, target, headers, body) -> response,
which needs no socket: unit tests call it directly; ``start()`` serves it on 127.0.0.1. The control
API (no auth) lives under ``/_sim/``; each control route has a Python method of the same meaning.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import itertools
import json
import logging
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_stack.loopback_http import LoopbackHandler, LoopbackServer, LoopbackService

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_BODY_BYTES = 10 * 1024 * 1024

# Raw warehouse statuses.
OPEN = "OPEN"
DUE_OUT = "DUE_OUT"
ALLOCATED = "ALLOCATED"
PICKING = "PICKING"
PICKED = "PICKED"
PACKING = "PACKING"
PACKED = "PACKED"
SHIPPING = "SHIPPING"
SHIPPED = "SHIPPED"
CANCELLED = "CANCELLED"
CLOSED = "CLOSED"  # cancelled by the warehouse
FLOW: tuple[str, ...] = (OPEN, DUE_OUT, ALLOCATED, PICKING, PICKED, PACKING, PACKED, SHIPPING, SHIPPED)
STATUSES: tuple[str, ...] = (*FLOW, CANCELLED, CLOSED)
TERMINAL = frozenset({SHIPPED, CANCELLED, CLOSED})
CHANGEABLE = frozenset({OPEN, DUE_OUT})
"""Statuses in which the client may still update or cancel: no stock allocated yet."""
_RANK = {status: rank for rank, status in enumerate(FLOW)}

# Shipper error codes.
CODE_AUTH = 802
CODE_INTERNAL = 803
CODE_INPUT = 810

EVENT_CONFIRMATION = "fulfillment.outbound.order.confirmation"
KIND_CONFIRMATION = "order_confirmation"
KIND_PGI = "pgi"
_WEBHOOK_PATHS = {KIND_CONFIRMATION: "order-confirmation", KIND_PGI: "pgi"}

DEFAULT_CARRIER = "JNE"
CARRIER_NAMES = {
    "JNE": "JNE REG",
    "JNE REG": "JNE REG",
    "JNE YES": "JNE YES",
    "SICEPAT": "SiCepat REG",
    "JNT": "J&T Express",
    "J&T": "J&T Express",
    "ANTERAJA": "AnterAja Regular",
    "NINJA": "Ninja Xpress",
}

DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100
DEFAULT_TIMEOUT_HOLD_MS = 30_000
WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_ATTEMPTS = 3
WEBHOOK_RETRY_DELAY_S = 0.2
DEFAULT_CLOCK_INTERVAL_MS = 500

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Transport = Callable[[str, Mapping[str, str], bytes, float], int]
"""(url, headers, body, timeout seconds) -> HTTP status; raises ``OSError`` on connection errors."""


@dataclass(frozen=True)
class TenantConfig:
    """One tenant as the WMS knows it: the API key it calls with and the secret its webhooks are signed with."""

    api_key: str
    webhook_secret: str


class SimulatorError(Exception):
    """A refused request; ``status`` and ``code`` are what the HTTP API answers."""

    def __init__(self, status: int, message: str, code: int = CODE_INPUT, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class SimResponse:
    """What ``WmsSimulator.handle`` answers; ``no_reply`` means close the connection without answering."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    no_reply: bool = False

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _whole_seconds(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def _space_time(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _iso_z(moment: datetime) -> str:
    """``yyyy-MM-ddTHH:MM:SSZ`` (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_moment(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        return _whole_seconds(value)
    if isinstance(value, str):
        try:
            return _whole_seconds(datetime.fromisoformat(value))
        except ValueError:
            pass
    raise ValueError(f"{name}: expected a datetime or ISO 8601 text, got {value!r}")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _http_status_text(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``x-hub-signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def carrier_for(express_code: str) -> tuple[str, str]:
    """(carrier_id, carrier_name) for an order's ``express_code``."""
    carrier_id = express_code.strip() or DEFAULT_CARRIER
    return carrier_id, CARRIER_NAMES.get(carrier_id.upper(), carrier_id)


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


@dataclass
class _Line:
    sku: str
    qty: int
    to_ship: int | None = None  # None: ship what was ordered
    batch_no: str = ""
    serial_no: str = ""
    mfg_date: str = ""
    exp_date: str = ""


@dataclass
class _Order:
    tenant_id: str
    warehouse_id: str
    order_no: str
    wms_order_no: str
    customer_id: str
    consignee_name: str
    express_code: str
    lines: list[_Line]
    order_time: datetime
    created_at: datetime
    updated_at: datetime
    status: str = OPEN
    delivery_no: str = ""
    hold: bool = False
    history: list[dict[str, str]] = field(default_factory=list)
    pgi_confirmations: int = 0  # PGI webhooks the hub forwarded back (seed 002 step 7)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.tenant_id, self.warehouse_id, self.order_no)

    def quantities(self, line: _Line) -> tuple[int, int, int]:
        """(allocated, picked, shipped) of ``line`` at the current status."""
        if self.status in (CANCELLED, CLOSED):
            return 0, 0, 0
        rank = _RANK[self.status]
        allocated = line.qty if rank >= _RANK[ALLOCATED] else 0
        picked = line.qty if rank >= _RANK[PICKED] else 0
        shipped = (line.qty if line.to_ship is None else line.to_ship) if self.status == SHIPPED else 0
        return allocated, picked, shipped

    @property
    def released(self) -> bool:
        return self.status in _RANK and _RANK[self.status] >= _RANK[ALLOCATED]


@dataclass
class _Faults:
    mode: str = "none"
    status: int = 500
    remaining: int | None = None  # None: until reset
    delay_ms: int = 3000
    hold_ms: int = DEFAULT_TIMEOUT_HOLD_MS
    paths: tuple[str, ...] = ()

    def view(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "status": self.status,
            "count": self.remaining,
            "delay_ms": self.delay_ms,
            "hold_ms": self.hold_ms,
            "paths": list(self.paths),
        }


@dataclass
class _WebhookSettings:
    enabled: bool = True
    drop: bool = False
    duplicate: bool = False
    reorder: bool = False

    def view(self) -> dict[str, bool]:
        return {"enabled": self.enabled, "drop": self.drop, "duplicate": self.duplicate, "reorder": self.reorder}


@dataclass
class _WebhookJob:
    webhook_id: str
    kind: str
    tenant_id: str
    warehouse_id: str
    order_no: str
    url: str | None
    secret: str | None
    payload: dict[str, Any]
    body: bytes
    copy: int = 1
    drop: bool = False
    generation: int = 0  # reset() starts a new one; late records of older ones are ignored


# --------------------------------------------------------------------------------------------
# Webhook sender
# --------------------------------------------------------------------------------------------


def http_transport(url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> int:
    """POST ``body`` to ``url`` with the standard library; the response status."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or HOST, parts.port, timeout=timeout)
    try:
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        connection.request("POST", target, body=body, headers=dict(headers))
        response = connection.getresponse()
        response.read()
        return int(response.status)
    finally:
        connection.close()


class _WebhookSender:
    """One background thread delivering queued webhooks in order, with retries."""

    def __init__(
        self,
        transport: Transport,
        record: Callable[[_WebhookJob, int, int | None, str | None, dict[str, str]], None],
        attempts: int,
        retry_delay_s: float,
        timeout_s: float,
    ) -> None:
        self._transport = transport
        self._record = record
        self.attempts = attempts
        self.retry_delay_s = retry_delay_s
        self.timeout_s = timeout_s
        self._queue: deque[_WebhookJob] = deque()
        self._pending = 0
        self._condition = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def submit(self, job: _WebhookJob) -> None:
        with self._condition:
            self._queue.append(job)
            self._pending += 1
            self._condition.notify_all()

    def clear(self) -> None:
        """Forget queued (not yet started) deliveries."""
        with self._condition:
            self._pending -= len(self._queue)
            self._queue.clear()
            self._condition.notify_all()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="wms-sim-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        with self._condition:
            self._condition.notify_all()
        if thread is not None:
            thread.join(timeout=2)  # a delivery still in flight is abandoned at shutdown

    def _next(self) -> _WebhookJob | None:
        with self._condition:
            while not self._queue and not self._stop.is_set():
                self._condition.wait()
            if self._stop.is_set():
                return None
            return self._queue.popleft()

    def _run(self) -> None:
        while (job := self._next()) is not None:
            self._process(job)

    def _process(self, job: _WebhookJob) -> None:
        try:
            self._deliver(job)
        except Exception:  # never let one bad job kill the sender
            log.exception("webhook %s failed unexpectedly", job.webhook_id)
        finally:
            with self._condition:
                self._pending -= 1
                self._condition.notify_all()

    def _deliver(self, job: _WebhookJob) -> None:
        assert job.url is not None and job.secret is not None
        for attempt in range(1, self.attempts + 1):
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "wms-simulator/1",
                "x-hub-timestamp": str(timestamp),
                "x-hub-signature": sign(job.secret, timestamp, job.body),
            }
            status: int | None = None
            error: str | None = None
            try:
                status = self._transport(job.url, headers, job.body, self.timeout_s)
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
            self._record(job, attempt, status, error, headers)
            if status is not None and 200 <= status < 300:
                return
            if attempt < self.attempts and self._stop.wait(self.retry_delay_s):
                return

    def drain(self) -> None:
        """Deliver everything queued in the calling thread (only when the sender thread is not running)."""
        if self._thread is not None:
            raise RuntimeError("the sender thread is running; use wait_idle()")
        while True:
            with self._condition:
                if not self._queue:
                    return
                job = self._queue.popleft()
            self._process(job)

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
            return True


# --------------------------------------------------------------------------------------------
# HTTP server
# --------------------------------------------------------------------------------------------


class _SimServer(LoopbackServer):
    def __init__(self, address: tuple[str, int], simulator: WmsSimulator) -> None:
        self.simulator = simulator
        super().__init__(address, _SimRequestHandler, thread_name="wms-sim-conn")


class _SimRequestHandler(LoopbackHandler):
    server_version = "wms-simulator"
    max_body_bytes = MAX_BODY_BYTES
    server: _SimServer

    def _handle(self) -> None:
        body = self.read_body()
        if body is None:
            response = SimResponse(413, _dumps({"message": "Request Too Long"}))
            self.close_connection = True
        else:
            headers = {name.lower(): value for name, value in self.headers.items()}
            response = self.server.simulator.handle(self.command, self.path, headers, body)
        if response.no_reply:
            self.close_connection = True
            log.info("%s %s -> (no reply)", self.command, self.path)
            return
        self.send_response_only(response.status)
        self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        log.info("%s %s -> %d", self.command, self.path, response.status)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


# --------------------------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------------------------


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
        self._now = now or _utc_now
        self._lock = threading.RLock()
        self._tenants: dict[str, TenantConfig] = dict(tenants or {})
        self._hub_url = hub_url.rstrip("/") if hub_url else None
        self._orders: dict[tuple[str, str, str], _Order] = {}
        self._faults = _Faults()
        self._webhooks = _WebhookSettings()
        self._held: dict[tuple[str, str, str], list[_WebhookJob]] = {}
        self._deliveries: list[dict[str, Any]] = []
        self._order_seq = itertools.count(1)
        self._awb_seq = itertools.count(1)
        self._webhook_seq = itertools.count(1)
        self._delivery_seq = itertools.count(1)
        self._version = 0
        self._generation = 0
        self._list_cache: tuple[tuple[Any, ...], list[tuple[str, str, str]]] | None = None
        self._clock_lock = threading.Lock()
        self._clock_interval_ms = DEFAULT_CLOCK_INTERVAL_MS
        self._clock_stop: threading.Event | None = None
        self._clock_thread: threading.Thread | None = None
        self._sender = _WebhookSender(
            transport or http_transport,
            self._record_attempt,
            attempts=webhook_attempts,
            retry_delay_s=webhook_retry_delay_s,
            timeout_s=webhook_timeout_s,
        )

    # ---- lifecycle -------------------------------------------------------------------------

    def _new_server(self, address: tuple[str, int]) -> LoopbackServer:
        return _SimServer(address, self)

    def start(self) -> None:
        """Serve (see ``LoopbackService.start``) and start the webhook sender."""
        if self._server is None:
            super().start()
            self._sender.start()
            log.info("WMS simulator on %s", self.url)

    def stop(self) -> None:
        """Stop the clock, the server (held requests are released without a reply) and the sender."""
        self._stopping.set()
        self.set_clock(enabled=False)
        super().stop()
        self._sender.stop()

    def __enter__(self) -> WmsSimulator:
        self.start()
        return self

    # ---- configuration ---------------------------------------------------------------------

    def add_tenant(self, tenant_id: str, config: TenantConfig) -> None:
        with self._lock:
            self._tenants[tenant_id] = config

    def set_hub_url(self, url: str | None) -> None:
        with self._lock:
            self._hub_url = url.rstrip("/") if url else None

    def _tenant_for_key(self, api_key: str | None) -> str | None:
        if not api_key:
            return None
        with self._lock:
            for tenant_id, config in self._tenants.items():
                if hmac.compare_digest(config.api_key.encode(), api_key.encode()):
                    return tenant_id
        return None

    # ---- control (Python API) ---------------------------------------------------------------

    def orders(self) -> list[dict[str, Any]]:
        """Every order with status, quantities and the history of status changes."""
        with self._lock:
            return [self._control_view(order) for order in self._orders.values()]

    def order(self, warehouse_id: str, order_no: str, tenant_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            return self._control_view(self._find(warehouse_id, order_no, tenant_id))

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
        if to is not None and steps is not None:
            raise SimulatorError(400, "give either 'to' or 'steps', not both")
        with self._lock:
            order = self._find(warehouse_id, order_no, tenant_id)
            target = self._target(order, to, steps)
            if ship_qty is not None:
                self._plan_shipment(order, ship_qty)
            if target in (CANCELLED, CLOSED):
                self._set_status(order, target, "advance")
            else:
                for status in FLOW[_RANK[order.status] + 1 : _RANK[target] + 1]:
                    self._set_status(order, status, "advance")
            return self._control_view(order)

    def hold(self, warehouse_id: str, order_no: str, hold: bool = True, tenant_id: str | None = None) -> None:
        """Keep the clock ticker from moving this order (``hold=False`` lets it go again)."""
        with self._lock:
            self._find(warehouse_id, order_no, tenant_id).hold = hold

    def touch(
        self,
        warehouse_id: str,
        order_no: str,
        status: str,
        tenant_id: str | None = None,
        updated_at: datetime | str | None = None,
    ) -> None:
        """Set one order's status directly (any status, any direction), without webhooks."""
        status = status.strip().upper()
        if status not in STATUSES:
            raise SimulatorError(400, f"unknown status {status!r}", field="status")
        with self._lock:
            order = self._find(warehouse_id, order_no, tenant_id)
            moment = _parse_moment(updated_at, "updated_at") if updated_at is not None else None
            self._set_status(order, status, "touch", webhooks=False, at=moment)

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
        if mode not in ("none", "error", "timeout", "slow"):
            raise SimulatorError(400, f"unknown fault mode {mode!r}", field="mode")
        _require_int(status, "status", 100, 599)
        if count is not None:
            _require_int(count, "count", 1)
        _require_int(delay_ms, "delay_ms", 0)
        _require_int(hold_ms, "hold_ms", 0)
        prefixes = tuple(paths or ())
        if not all(isinstance(prefix, str) for prefix in prefixes):
            raise SimulatorError(400, "paths must be a list of path prefixes", field="paths")
        with self._lock:
            self._faults = (
                _Faults() if mode == "none" else _Faults(mode, status, count, delay_ms=delay_ms, hold_ms=hold_ms, paths=prefixes)
            )
            return self._faults.view()

    def faults(self) -> dict[str, Any]:
        with self._lock:
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
        with self._lock:
            settings = self._webhooks
            if enabled is not None:
                settings.enabled = enabled
            if drop is not None:
                settings.drop = drop
            if duplicate is not None:
                settings.duplicate = duplicate
            if reorder is not None:
                settings.reorder = reorder
                if not reorder:
                    for key in list(self._held):
                        self._release_held(key)
            return settings.view()

    def webhook_settings(self) -> dict[str, bool]:
        with self._lock:
            return self._webhooks.view()

    def webhook_log(self) -> list[dict[str, Any]]:
        """Every delivery attempt (and every dropped/undeliverable webhook), oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._deliveries]

    def wait_webhooks_idle(self, timeout: float = 10.0) -> bool:
        """True once every queued webhook has been delivered or given up (sender thread running)."""
        return self._sender.wait_idle(timeout)

    def deliver_pending_webhooks(self) -> None:
        """Deliver queued webhooks now, in this thread (when not started, e.g. in unit tests)."""
        self._sender.drain()

    def set_clock(self, enabled: bool, interval_ms: int | None = None) -> dict[str, Any]:
        """Start or stop the ticker that advances every non-terminal, non-held order one step per tick."""
        if interval_ms is not None:
            _require_int(interval_ms, "interval_ms", 1)
        with self._clock_lock:  # never taken while holding self._lock: the ticker needs that one
            if interval_ms is not None:
                self._clock_interval_ms = interval_ms
            if enabled and self._clock_thread is None:
                stop = threading.Event()
                self._clock_stop = stop
                self._clock_thread = threading.Thread(target=self._run_clock, args=(stop,), name="wms-sim-clock", daemon=True)
                self._clock_thread.start()
            elif not enabled and self._clock_thread is not None:
                thread, stop_event = self._clock_thread, self._clock_stop
                self._clock_thread = self._clock_stop = None
                if stop_event is not None:
                    stop_event.set()
                if thread is not threading.current_thread():
                    thread.join(timeout=5)
            return self.clock()

    def clock(self) -> dict[str, Any]:
        return {"enabled": self._clock_thread is not None, "interval_ms": self._clock_interval_ms}

    def _run_clock(self, stop: threading.Event) -> None:
        while not stop.wait(self._clock_interval_ms / 1000):
            try:
                self.tick()
            except Exception:
                log.exception("clock tick failed")

    def tick(self) -> int:
        """One clock tick by hand: every non-terminal, non-held order one step forward; how many moved."""
        moved = 0
        with self._lock:
            for order in list(self._orders.values()):
                if order.status in TERMINAL or order.hold:
                    continue
                self._set_status(order, FLOW[_RANK[order.status] + 1], "clock")
                moved += 1
        return moved

    def reset(self) -> None:
        """Forget orders, faults, webhook settings, held and queued webhooks and the delivery log."""
        with self._lock:
            self._orders.clear()
            self._faults = _Faults()
            self._webhooks = _WebhookSettings()
            self._held.clear()
            self._deliveries.clear()
            self._order_seq = itertools.count(1)
            self._awb_seq = itertools.count(1)
            self._webhook_seq = itertools.count(1)
            self._delivery_seq = itertools.count(1)
            self._generation += 1
            self._bump()
            self._sender.clear()

    def bulk_load(self, orders: Iterable[Mapping[str, Any]]) -> int:
        """Preload orders without webhooks (fast: 10,000 in well under a second). Returns how many.

        Keys: ``order_no``, ``warehouse_id`` (required); ``status`` (default OPEN); ``updated_at``
        and ``created_at`` (datetime or ISO text, default now); ``tenant_id`` (default: the only
        configured tenant); ``items`` ([{sku, qty}], default one line ``SKU-1`` x 1);
        ``express_code``, ``customer_id``, ``consignee`` (optional).
        """
        now = _whole_seconds(self._now())
        loaded = 0
        with self._lock:
            default_tenant = next(iter(self._tenants)) if len(self._tenants) == 1 else None
            for spec in orders:
                tenant_id = spec.get("tenant_id") or default_tenant
                if not tenant_id:
                    raise ValueError("bulk_load: tenant_id is required when not exactly one tenant is configured")
                status = str(spec.get("status", OPEN)).upper()
                if status not in STATUSES:
                    raise ValueError(f"bulk_load: unknown status {status!r}")
                key = (tenant_id, str(spec["warehouse_id"]), str(spec["order_no"]))
                if key in self._orders:
                    raise ValueError(f"bulk_load: {key} already exists")
                updated_at = _parse_moment(spec["updated_at"], "updated_at") if "updated_at" in spec else now
                created_at = _parse_moment(spec["created_at"], "created_at") if "created_at" in spec else updated_at
                items = spec.get("items") or [{"sku": "SKU-1", "qty": 1}]
                order = _Order(
                    tenant_id=tenant_id,
                    warehouse_id=key[1],
                    order_no=key[2],
                    wms_order_no=self._next_wms_order_no(),
                    customer_id=str(spec.get("customer_id", "")),
                    consignee_name=str(spec.get("consignee", "")),
                    express_code=str(spec.get("express_code", "")),
                    lines=[_Line(str(item["sku"]), int(item["qty"])) for item in items],
                    order_time=created_at,
                    created_at=created_at,
                    updated_at=updated_at,
                    status=status,
                    history=[{"status": status, "at": _iso_z(updated_at), "source": "bulk"}],
                )
                self._apply_side_effects(order, updated_at)
                self._orders[key] = order
                loaded += 1
            self._bump()
        return loaded

    # ---- HTTP entry point --------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> SimResponse:
        """Answer one HTTP request (header names in any case). No socket involved."""
        raw_path, _, query = target.partition("?")
        if raw_path.startswith(("http://", "https://")):
            raw_path = urlsplit(raw_path).path or "/"
        path = unquote(raw_path)
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        method = method.upper()
        headers = {name.lower(): value for name, value in headers.items()}
        try:
            if path == "/_sim" or path.startswith("/_sim/"):
                return self._control(method, path, query, body)
            fault = self._take_fault(path)
            if fault is not None:
                if fault.mode == "timeout":
                    self._stopping.wait(fault.hold_ms / 1000)
                    return SimResponse(0, no_reply=True)
                if fault.mode == "slow":
                    if self._stopping.wait(fault.delay_ms / 1000):
                        return SimResponse(0, no_reply=True)  # shutting down
                else:
                    code = CODE_INTERNAL if fault.status >= 500 else CODE_INPUT
                    return self._envelope(path, fault.status, errors=[_error(code, "simulated fault")])
            return self._api(method, path, query, headers, body)
        except SimulatorError as error:
            if path.startswith("/_sim"):
                return _plain(error.status, {"error": error.message, "field": error.field})
            return self._envelope(path, error.status, errors=[_error(error.code, error.message, error.field)])
        except Exception:
            log.exception("WMS simulator failed on %s %s", method, target)
            return self._envelope(path, 500, errors=[_error(CODE_INTERNAL, "internal error")])

    def _take_fault(self, path: str) -> _Faults | None:
        with self._lock:
            faults = self._faults
            if faults.mode == "none":
                return None
            if faults.paths and not any(path.startswith(prefix) for prefix in faults.paths):
                return None
            taken = _Faults(faults.mode, faults.status, None, faults.delay_ms, faults.hold_ms, faults.paths)
            if faults.remaining is not None:
                faults.remaining -= 1
                if faults.remaining <= 0:
                    self._faults = _Faults()
            return taken

    def _envelope(
        self,
        path: str,
        status: int,
        data: Any = None,
        errors: list[dict[str, Any]] | None = None,
        pagination: dict[str, int] | None = None,
    ) -> SimResponse:
        metadata: dict[str, Any] = {
            "path": path,
            "http_status_code": status,
            "http_status": _http_status_text(status),
            "timestamp": int(self._now().timestamp()),
        }
        if errors:
            metadata["errors"] = errors
        payload: dict[str, Any] = {"metadata": metadata}
        if data is not None:
            payload["data"] = data
        if pagination is not None:
            payload["pagination"] = pagination
        return SimResponse(status, _dumps(payload))

    # ---- the WMS API -------------------------------------------------------------------------

    def _api(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> SimResponse:
        segments = path.split("/")[1:]
        if segments[:2] != ["v3", "fulfillment"]:
            raise SimulatorError(404, f"no route for {method} {path}")
        tenant_id = self._tenant_for_key(headers.get("x-api-key"))
        if tenant_id is None:
            return self._envelope(path, 401, errors=[_error(CODE_AUTH, "missing or invalid x-api-key")])
        rest = segments[2:]
        if rest == ["outbound", "oms"] and method == "POST":
            return self._envelope(path, 200, self._create(tenant_id, _json_object(body)))
        if rest == ["outbound", "oms"] and method == "PUT":
            return self._envelope(path, 200, self._update(tenant_id, _json_object(body)))
        if rest == ["outbound", "oms", "cancel"] and method == "PATCH":
            self._cancel(tenant_id, _json_object(body))
            return self._envelope(path, 200)
        if len(rest) == 2 and rest[0] == "outbounds" and method == "GET":
            if rest[1].upper() != "WMS":
                raise SimulatorError(400, "this warehouse lists only outbounds/WMS", field="outbound_type")
            data, pagination = self._list(tenant_id, dict(parse_qsl(query, keep_blank_values=True)))
            return self._envelope(path, 200, data, pagination=pagination)
        if len(rest) == 5 and rest[0] == "warehouse" and rest[2:4] == ["outbound", "wms"] and method == "GET":
            return self._envelope(path, 200, self._detail(tenant_id, rest[1], rest[4]))
        if rest == ["webhooks", "pgi"] and method == "POST":
            return self._envelope(path, 200, self._pgi_confirmation(tenant_id, _json_object(body)))
        raise SimulatorError(404, f"no route for {method} {path}")

    def _pgi_confirmation(self, tenant_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The PGI webhook forwarded back to the warehouse (seed 002 step 7): it must match a shipped order."""
        for name in ("warehouse_id", "doc_no", "delivery_no"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise SimulatorError(400, f"{name} is required", field=name)
        with self._lock:
            order = self._orders.get((tenant_id, body["warehouse_id"], body["doc_no"]))
            if order is None:
                raise SimulatorError(404, f"order {body['doc_no']} not found", field="doc_no")
            if order.status != SHIPPED or order.delivery_no != body["delivery_no"]:
                raise SimulatorError(400, f"order {order.order_no} has no PGI {body['delivery_no']}", field="delivery_no")
            order.pgi_confirmations += 1
            return {"doc_no": order.order_no, "delivery_no": order.delivery_no, "pgi_confirmations": order.pgi_confirmations}

    def _create(self, tenant_id: str, body: dict[str, Any]) -> dict[str, Any]:
        fields = _order_fields(body)
        now = _whole_seconds(self._now())
        with self._lock:
            key = (tenant_id, fields["warehouse_id"], fields["so_number"])
            if key in self._orders:
                raise SimulatorError(409, f"order {key[2]} in warehouse {key[1]} already exists", field="so_number")
            order = _Order(
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
                history=[{"status": OPEN, "at": _iso_z(now), "source": "api"}],
            )
            self._orders[key] = order
            self._bump()
            self._raise_webhook(order, KIND_CONFIRMATION, self._confirmation_payload(order))
            return _create_view(order)

    def _update(self, tenant_id: str, body: dict[str, Any]) -> dict[str, Any]:
        fields = _order_fields(body)
        with self._lock:
            order = self._get(tenant_id, fields["warehouse_id"], fields["so_number"])
            if order.status not in CHANGEABLE:
                raise SimulatorError(400, _refusal(order, "updated"), field="so_number")
            order.lines = fields["lines"]
            order.customer_id = fields["customer_id"]
            order.consignee_name = fields["consignee"]
            order.express_code = fields["express_code"]
            if fields["order_time"] is not None:
                order.order_time = fields["order_time"]
            order.updated_at = _whole_seconds(self._now())
            self._bump()
            return _create_view(order)

    def _cancel(self, tenant_id: str, body: dict[str, Any]) -> None:
        data = body.get("data")
        cancellation = data.get("cancellation") if isinstance(data, dict) else None
        if not isinstance(cancellation, dict):
            raise SimulatorError(400, "data.cancellation is required", field="data.cancellation")
        order_no = _text(cancellation, "order_no", 50, "data.cancellation.")
        warehouse_id = _text(cancellation, "warehouse_id", 20, "data.cancellation.")
        _text(cancellation, "cancel_reason", 50, "data.cancellation.")
        with self._lock:
            order = self._get(tenant_id, warehouse_id, order_no)
            if order.status in (CANCELLED, CLOSED):
                return
            if order.status not in CHANGEABLE:
                raise SimulatorError(400, _refusal(order, "cancelled"), field="data.cancellation.order_no")
            self._set_status(order, CANCELLED, "api")

    def _list(self, tenant_id: str, query: dict[str, str]) -> tuple[dict[str, Any], dict[str, int]]:
        start = _day(query, "updated_start")
        end = _day(query, "updated_end")
        if start and end and start > end:
            raise SimulatorError(400, "updated_start is after updated_end", field="updated_start")
        page = _int_param(query, "page", 1, 1, 1_000_000)
        limit = _int_param(query, "limit", DEFAULT_LIST_LIMIT, 1, MAX_LIST_LIMIT)
        warehouse_id = query.get("warehouse_id") or None
        with self._lock:
            keys = self._listed_keys(tenant_id, warehouse_id, start, end)
            window = keys[(page - 1) * limit : page * limit]
            outbounds = [_list_view(self._orders[key]) for key in window]
        pagination = {
            "current_page": page,
            "current_elements": len(outbounds),
            "total_pages": (len(keys) + limit - 1) // limit,
            "total_elements": len(keys),
        }
        return {"outbounds": outbounds}, pagination

    def _listed_keys(
        self, tenant_id: str, warehouse_id: str | None, start: date | None, end: date | None
    ) -> list[tuple[str, str, str]]:
        """Matching order keys by (updated_at, order_no); cached until the next change (paging is cheap)."""
        cache_key = (self._version, tenant_id, warehouse_id, start, end)
        if self._list_cache is not None and self._list_cache[0] == cache_key:
            return self._list_cache[1]
        matching = [
            order
            for order in self._orders.values()
            if order.tenant_id == tenant_id
            and (warehouse_id is None or order.warehouse_id == warehouse_id)
            and (start is None or order.updated_at.date() >= start)
            and (end is None or order.updated_at.date() <= end)
        ]
        matching.sort(key=lambda order: (order.updated_at, order.order_no, order.warehouse_id))
        keys = [order.key for order in matching]
        self._list_cache = (cache_key, keys)
        return keys

    def _detail(self, tenant_id: str, warehouse_id: str, order_no: str) -> dict[str, Any]:
        with self._lock:
            order = self._get(tenant_id, warehouse_id, order_no)
            view = _list_view(order)
            view["wms_order_no"] = order.wms_order_no
            view["order_time"] = _iso_z(order.order_time)
            view["details"] = [
                {
                    "sku": line.sku,
                    "order_line": index,
                    "qty_ordered": line.qty,
                    "qty_allocated": allocated,
                    "qty_picked": picked,
                    "qty_shipped": shipped,
                    "batch_no": line.batch_no,
                    "serial_no": line.serial_no,
                    "mfg_date": line.mfg_date,
                    "exp_date": line.exp_date,
                }
                for index, line in enumerate(order.lines)
                for allocated, picked, shipped in [order.quantities(line)]
            ]
            return {"outbound": view}

    # ---- control API over HTTP -----------------------------------------------------------------

    def _control(self, method: str, path: str, query: str, body: bytes) -> SimResponse:
        parts = path.split("/")[2:]
        params = dict(parse_qsl(query))
        tenant_id = params.get("tenant_id") or None
        payload: dict[str, Any] = _json_object(body) if body.strip() and method == "POST" else {}
        match method, parts:
            case "GET", ["orders"]:
                return _plain(200, {"orders": self.orders()})
            case "GET", ["orders", warehouse_id, order_no]:
                return _plain(200, {"order": self.order(warehouse_id, order_no, tenant_id)})
            case "POST", ["orders", warehouse_id, order_no, "advance"]:
                ship_qty = payload.get("ship_qty")
                if ship_qty is not None and not isinstance(ship_qty, dict):
                    raise SimulatorError(400, "ship_qty must be an object {sku: qty}", field="ship_qty")
                to = payload.get("to")
                if to is not None and not isinstance(to, str):
                    raise SimulatorError(400, "to must be a status", field="to")
                steps = payload.get("steps")
                if steps is not None:
                    _require_int(steps, "steps", 1)
                order = self.advance(warehouse_id, order_no, to, steps, ship_qty, payload.get("tenant_id") or tenant_id)
                return _plain(200, {"order": order})
            case "POST", ["orders", warehouse_id, order_no, "hold"]:
                hold = payload.get("hold", True)
                if not isinstance(hold, bool):
                    raise SimulatorError(400, "hold must be a boolean", field="hold")
                self.hold(warehouse_id, order_no, hold, payload.get("tenant_id") or tenant_id)
                return _plain(200, {"order": self.order(warehouse_id, order_no, payload.get("tenant_id") or tenant_id)})
            case "POST", ["orders", warehouse_id, order_no, "touch"]:
                status = payload.get("status")
                if not isinstance(status, str):
                    raise SimulatorError(400, "status is required", field="status")
                owner = payload.get("tenant_id") or tenant_id
                try:
                    self.touch(warehouse_id, order_no, status, owner, payload.get("updated_at"))
                except ValueError as error:
                    raise SimulatorError(400, str(error), field="updated_at") from None
                return _plain(200, {"order": self.order(warehouse_id, order_no, owner)})
            case "GET", ["faults"]:
                return _plain(200, self.faults())
            case "POST", ["faults"]:
                known = {"mode", "status", "count", "delay_ms", "paths", "hold_ms"}
                _no_unknown(payload, known)
                paths = payload.get("paths")
                if paths is not None and not isinstance(paths, list):
                    raise SimulatorError(400, "paths must be a list of path prefixes", field="paths")
                return _plain(200, self.set_faults(**payload))
            case "GET", ["webhooks"]:
                return _plain(200, {"settings": self.webhook_settings(), "deliveries": self.webhook_log()})
            case "POST", ["webhooks"]:
                _no_unknown(payload, {"drop", "duplicate", "reorder", "enabled"})
                for name, value in payload.items():
                    if not isinstance(value, bool):
                        raise SimulatorError(400, f"{name} must be a boolean", field=name)
                return _plain(200, self.set_webhooks(**payload))
            case "GET", ["clock"]:
                return _plain(200, self.clock())
            case "POST", ["clock"]:
                _no_unknown(payload, {"enabled", "interval_ms"})
                enabled = payload.get("enabled", True)
                if not isinstance(enabled, bool):
                    raise SimulatorError(400, "enabled must be a boolean", field="enabled")
                return _plain(200, self.set_clock(enabled, payload.get("interval_ms")))
            case "POST", ["tick"]:
                return _plain(200, {"moved": self.tick()})
            case "POST", ["reset"]:
                self.reset()
                return _plain(200, {"reset": True})
            case "GET", ["health"]:
                return _plain(200, {"ok": True})
        raise SimulatorError(404, f"no control route for {method} {path}")

    # ---- state changes (callers hold the lock) ---------------------------------------------------

    def _bump(self) -> None:
        self._version += 1
        self._list_cache = None

    def _next_wms_order_no(self) -> str:
        return f"WMSO-{next(self._order_seq):06d}"

    def _get(self, tenant_id: str, warehouse_id: str, order_no: str) -> _Order:
        order = self._orders.get((tenant_id, warehouse_id, order_no))
        if order is None:
            raise SimulatorError(404, f"order {order_no} not found in warehouse {warehouse_id}", field="order_no")
        return order

    def _find(self, warehouse_id: str, order_no: str, tenant_id: str | None) -> _Order:
        if tenant_id is not None:
            return self._get(tenant_id, warehouse_id, order_no)
        found = [order for key, order in self._orders.items() if key[1:] == (warehouse_id, order_no)]
        if not found:
            raise SimulatorError(404, f"order {order_no} not found in warehouse {warehouse_id}", field="order_no")
        if len(found) > 1:
            raise SimulatorError(409, f"order {order_no} exists for several tenants; pass tenant_id", field="tenant_id")
        return found[0]

    def _target(self, order: _Order, to: str | None, steps: int | None) -> str:
        if order.status in TERMINAL:
            raise SimulatorError(400, f"order {order.order_no} is {order.status}, it cannot move", field="to")
        if to is not None:
            target = to.strip().upper()
            if target not in STATUSES:
                raise SimulatorError(400, f"unknown status {to!r}", field="to")
            if target in (CANCELLED, CLOSED):
                return target
            if _RANK[target] < _RANK[order.status]:
                raise SimulatorError(
                    400, f"order {order.order_no} is {order.status}; {target} would move it backwards", field="to"
                )
            return target
        count = 1 if steps is None else steps
        return FLOW[min(_RANK[order.status] + count, len(FLOW) - 1)]

    def _plan_shipment(self, order: _Order, ship_qty: Mapping[str, int]) -> None:
        ordered: dict[str, int] = {}
        for line in order.lines:
            ordered[line.sku] = ordered.get(line.sku, 0) + line.qty
        for sku, qty in ship_qty.items():
            if sku not in ordered:
                raise SimulatorError(400, f"ship_qty: SKU {sku!r} is not on the order", field="ship_qty")
            _require_int(qty, f"ship_qty.{sku}", 0, ordered[sku])
        for sku, qty in ship_qty.items():
            left = qty
            for line in order.lines:
                if line.sku == sku:
                    line.to_ship = min(line.qty, left)
                    left -= line.to_ship

    def _set_status(self, order: _Order, status: str, source: str, *, webhooks: bool = True, at: datetime | None = None) -> None:
        moment = at or _whole_seconds(self._now())
        order.status = status
        order.updated_at = moment
        order.history.append({"status": status, "at": _iso_z(moment), "source": source})
        self._apply_side_effects(order, moment)
        self._bump()
        if not webhooks:
            return
        if status == SHIPPED:
            self._raise_webhook(order, KIND_PGI, self._pgi_payload(order, moment))
            self._release_held(order.key)
        elif status in (CANCELLED, CLOSED):
            self._release_held(order.key)

    def _apply_side_effects(self, order: _Order, moment: datetime) -> None:
        """Batch data (batch, serial, dates) from allocation on, an AWB from PACKED on."""
        rank = _RANK.get(order.status)
        if rank is None:
            return
        if rank >= _RANK[ALLOCATED]:
            for number, line in enumerate(order.lines, start=1):
                if not line.batch_no:
                    line.batch_no = f"B{moment:%Y%m%d}"
                    line.serial_no = f"SN-{order.order_no}-{number}"
                    line.mfg_date = (moment - timedelta(days=60)).strftime("%Y-%m-%d")
                    line.exp_date = (moment + timedelta(days=365)).strftime("%Y-%m-%d")
        if rank >= _RANK[PACKED] and not order.delivery_no:
            carrier_id, _ = carrier_for(order.express_code)
            prefix = re.sub(r"[^A-Z0-9]", "", carrier_id.upper().split()[0])[:6] or "AWB"
            order.delivery_no = f"{prefix}{10**11 + next(self._awb_seq)}"

    # ---- webhooks ------------------------------------------------------------------------------------

    def _confirmation_payload(self, order: _Order) -> dict[str, Any]:
        return {
            "event": EVENT_CONFIRMATION,
            "order_no": order.order_no,
            "warehouse_id": order.warehouse_id,
            "wms_order_no": order.wms_order_no,
            "so_status": OPEN,
            "confirmed_at": _space_time(order.created_at),
        }

    def _pgi_payload(self, order: _Order, moment: datetime) -> dict[str, Any]:
        carrier_id, carrier_name = carrier_for(order.express_code)
        return {
            "warehouse_id": order.warehouse_id,
            "order_type": "SO",
            "doc_no": order.order_no,
            "delivery_no": order.delivery_no,
            "carrier_id": carrier_id,
            "carrier_name": carrier_name,
            "customer_id": order.customer_id,
            "so_reference_a": "",
            "so_reference_b": order.order_no,
            "user_define_1": "",
            "user_define_2": "",
            "user_define_3": "",
            "pgi_date": _space_time(moment),
            "shop_code": "",
            "details": [
                {
                    "sku": line.sku,
                    "qty_shipped": order.quantities(line)[2],
                    "mfg_date": line.mfg_date,
                    "exp_date": line.exp_date,
                    "stock_condition": "N",
                    "batch_no": line.batch_no,
                    "serial_no": line.serial_no,
                    "receipt_date": "",
                    "user_define_1": "",
                    "user_define_2": "",
                    "user_define_3": "",
                    "project_ref_no": "",
                }
                for line in order.lines
            ],
        }

    def _raise_webhook(self, order: _Order, kind: str, payload: dict[str, Any]) -> None:
        settings = self._webhooks
        if not settings.enabled:
            return
        tenant = self._tenants.get(order.tenant_id)
        url = f"{self._hub_url}/webhooks/wms/{order.tenant_id}/{_WEBHOOK_PATHS[kind]}" if self._hub_url else None
        webhook_id = f"whk-{next(self._webhook_seq):06d}"
        body = _dumps(payload)
        jobs = [
            _WebhookJob(
                webhook_id=webhook_id,
                kind=kind,
                tenant_id=order.tenant_id,
                warehouse_id=order.warehouse_id,
                order_no=order.order_no,
                url=url,
                secret=tenant.webhook_secret if tenant else None,
                payload=payload,
                body=body,
                copy=copy,
                drop=settings.drop,
                generation=self._generation,
            )
            for copy in ((1, 2) if settings.duplicate else (1,))
        ]
        if kind == KIND_CONFIRMATION and settings.reorder:
            self._held.setdefault(order.key, []).extend(jobs)
            return
        for job in jobs:
            self._dispatch(job)

    def _release_held(self, key: tuple[str, str, str]) -> None:
        for job in self._held.pop(key, []):
            self._dispatch(job)

    def _dispatch(self, job: _WebhookJob) -> None:
        if job.drop:
            self._record(job, 0, None, None, "dropped")
        elif job.url is None or job.secret is None:
            reason = "no hub_url configured" if job.url is None else f"no webhook secret for tenant {job.tenant_id}"
            self._record(job, 0, None, reason, "undeliverable")
        else:
            self._sender.submit(job)

    def _record_attempt(
        self, job: _WebhookJob, attempt: int, status: int | None, error: str | None, headers: dict[str, str]
    ) -> None:
        outcome = "delivered" if status is not None and 200 <= status < 300 else "failed"
        self._record(job, attempt, status, error, outcome, headers)

    def _record(
        self,
        job: _WebhookJob,
        attempt: int,
        status: int | None,
        error: str | None,
        outcome: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            if job.generation != self._generation:
                return
            self._deliveries.append(
                {
                    "seq": next(self._delivery_seq),
                    "webhook_id": job.webhook_id,
                    "kind": job.kind,
                    "tenant_id": job.tenant_id,
                    "warehouse_id": job.warehouse_id,
                    "order_no": job.order_no,
                    "url": job.url,
                    "copy": job.copy,
                    "attempt": attempt,
                    "status_code": status,
                    "outcome": outcome,
                    "error": error,
                    "headers": dict(headers or {}),
                    "payload": job.payload,
                    "at": _iso_z(_utc_now()),
                }
            )

    # ---- views -----------------------------------------------------------------------------------------

    def _control_view(self, order: _Order) -> dict[str, Any]:
        carrier_id, carrier_name = carrier_for(order.express_code)
        lines = []
        for index, line in enumerate(order.lines):
            allocated, picked, shipped = order.quantities(line)
            lines.append(
                {
                    "sku": line.sku,
                    "order_line": index,
                    "qty_ordered": line.qty,
                    "qty_allocated": allocated,
                    "qty_picked": picked,
                    "qty_shipped": shipped,
                    "qty_to_ship": line.qty if line.to_ship is None else line.to_ship,
                }
            )
        return {
            "tenant_id": order.tenant_id,
            "warehouse_id": order.warehouse_id,
            "order_no": order.order_no,
            "wms_order_no": order.wms_order_no,
            "status": order.status,
            "hold": order.hold,
            "carrier_id": carrier_id,
            "carrier_name": carrier_name,
            "delivery_no": order.delivery_no,
            "pgi_confirmations": order.pgi_confirmations,
            "created_at": _iso_z(order.created_at),
            "updated_at": _iso_z(order.updated_at),
            "lines": lines,
            "history": [dict(entry) for entry in order.history],
        }


# --------------------------------------------------------------------------------------------
# Views and validation helpers
# --------------------------------------------------------------------------------------------


def _create_view(order: _Order) -> dict[str, Any]:
    return {
        "order_no": order.order_no,
        "warehouse_id": order.warehouse_id,
        "so_status": order.status,
        "wms_order_no": order.wms_order_no,
    }


def _list_view(order: _Order) -> dict[str, Any]:
    return {
        "order_no": order.order_no,
        "order_type": "SO",
        "so_status": order.status,
        "warehouse_id": order.warehouse_id,
        "release_status": order.released,
        "order_time": _space_time(order.order_time),
        "updated_at": _iso_z(order.updated_at),
        "consignee_name": order.consignee_name,
        "carrier_name": carrier_for(order.express_code)[1],
        "delivery_no": order.delivery_no,
    }


def _refusal(order: _Order, verb: str) -> str:
    if order.status in (CANCELLED, CLOSED):
        return f"order {order.order_no} is already cancelled ({order.status}) and cannot be {verb}"
    if order.status == SHIPPED:
        return f"order {order.order_no} is already allocated and shipped ({order.status}); it cannot be {verb}"
    return f"order {order.order_no} is already allocated ({order.status}); it cannot be {verb}"


def _error(code: int, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return error


def _plain(status: int, payload: Any) -> SimResponse:
    return SimResponse(status, _dumps(payload))


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise SimulatorError(400, "the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise SimulatorError(400, "the body must be a JSON object")
    return value


def _no_unknown(payload: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(payload) - known)
    if unknown:
        raise SimulatorError(400, f"unknown field(s): {', '.join(unknown)}", field=unknown[0])


def _require_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise SimulatorError(400, f"{name} must be an integer", field=name)
    if minimum is not None and value < minimum:
        raise SimulatorError(400, f"{name} must be >= {minimum}", field=name)
    if maximum is not None and value > maximum:
        raise SimulatorError(400, f"{name} must be <= {maximum}", field=name)
    return value


def _text(source: Mapping[str, Any], name: str, max_length: int, prefix: str = "", required: bool = True) -> str:
    value = source.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise SimulatorError(400, f"{prefix}{name} is required (a non-empty string)", field=f"{prefix}{name}")
    if len(value) > max_length:
        raise SimulatorError(400, f"{prefix}{name} is longer than {max_length}", field=f"{prefix}{name}")
    return value


def _order_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the warehouse needs from a create/update body (the hub validates the rest)."""
    fields: dict[str, Any] = {
        "warehouse_id": _text(body, "warehouse_id", 20),
        "so_number": _text(body, "so_number", 50),
        "express_code": _text(body, "express_code", 40, required=False),
        "customer_id": _text(body, "customer_id", 50, required=False),
        "consignee": _text(body, "consignee", 200, required=False),
        "order_time": None,
    }
    raw_time = body.get("order_time")
    if isinstance(raw_time, str) and raw_time:
        try:
            parsed = datetime.fromisoformat(raw_time)
        except ValueError:
            raise SimulatorError(400, "order_time is not ISO 8601", field="order_time") from None
        fields["order_time"] = _whole_seconds(parsed)
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise SimulatorError(400, "items must be a non-empty list", field="items")
    lines: list[_Line] = []
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, dict):
            raise SimulatorError(400, f"{where} must be an object", field=where)
        sku = _text(item, "sku", 50, f"{where}.")
        qty = item.get("qty")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
            raise SimulatorError(400, f"{where}.qty must be a positive integer", field=f"{where}.qty")
        lines.append(_Line(sku, qty))
    fields["lines"] = lines
    return fields


def _day(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        if not _DAY.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise SimulatorError(400, f"{name} must be yyyy-MM-dd", field=name) from None


def _int_param(query: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise SimulatorError(400, f"{name} must be an integer", field=name)
    value = int(raw)
    if not minimum <= value <= maximum:
        raise SimulatorError(400, f"{name} must be between {minimum} and {maximum}", field=name)
    return value


# --------------------------------------------------------------------------------------------
# python -m local_stack.wms_simulator
# --------------------------------------------------------------------------------------------


def _tenant_arg(text: str) -> tuple[str, TenantConfig]:
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected TENANT:API_KEY:SECRET, got {text!r}")
    return parts[0], TenantConfig(api_key=parts[1], webhook_secret=parts[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.wms_simulator",
        description="Run the WMS simulator (Shipper fulfilment API + webhooks) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument(
        "--tenant",
        dest="tenants",
        type=_tenant_arg,
        action="append",
        default=[],
        metavar="TENANT:API_KEY:SECRET",
        help="a tenant, its WMS API key and its webhook secret (repeatable)",
    )
    parser.add_argument("--hub-url", default=None, help="where webhooks go: {hub_url}/webhooks/wms/{tenant}/...")
    parser.add_argument("--clock-ms", type=int, default=0, help="advance every order one step every N ms (0 = off)")
    parser.add_argument("--quiet", action="store_true", help="no per-request log on stderr")
    args = parser.parse_args(argv)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("wms-sim %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    log.propagate = False

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    simulator = WmsSimulator(port=args.port, tenants=dict(args.tenants), hub_url=args.hub_url)
    try:
        simulator.start()
    except OSError as error:
        print(f"wms-sim: error: cannot listen on {HOST}:{args.port}: {error}", file=sys.stderr)
        return 2
    try:
        if args.clock_ms > 0:
            simulator.set_clock(True, args.clock_ms)
        print(f"WMS simulator: {simulator.url} (control API under {simulator.url}/_sim/)", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
