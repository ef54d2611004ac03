"""The WMS simulator's Shipper fulfilment API (``/v3/fulfillment/...``): authentication by API key,
injected faults, the route table and Shipper's response envelope."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from local_stack.wms_simulator.model import (
    CODE_AUTH,
    CODE_INPUT,
    CODE_INTERNAL,
    SimResponse,
    SimulatorError,
    dumps,
    error_entry,
    http_status_text,
)
from local_stack.wms_simulator.routing import ANY, Routes
from local_stack.wms_simulator.state import Warehouse
from local_stack.wms_simulator.validation import day, int_param, json_object, order_fields, require_int, text
from local_stack.wms_simulator.views import create_view, detail_view, list_view

DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100
DEFAULT_TIMEOUT_HOLD_MS = 30_000
FAULT_MODES = ("none", "error", "timeout", "slow")


@dataclass
class Faults:
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


class FaultInjector:
    """The fault the next API requests get; counted faults switch themselves off."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults = Faults()

    def view(self) -> dict[str, Any]:
        with self._lock:
            return self._faults.view()

    def configure(
        self, mode: str, status: int, count: int | None, delay_ms: int, paths: Iterable[str] | None, hold_ms: int
    ) -> dict[str, Any]:
        if mode not in FAULT_MODES:
            raise SimulatorError(400, f"unknown fault mode {mode!r}", field="mode")
        require_int(status, "status", 100, 599)
        if count is not None:
            require_int(count, "count", 1)
        require_int(delay_ms, "delay_ms", 0)
        require_int(hold_ms, "hold_ms", 0)
        prefixes = tuple(paths or ())
        if not all(isinstance(prefix, str) for prefix in prefixes):
            raise SimulatorError(400, "paths must be a list of path prefixes", field="paths")
        faults = Faults() if mode == "none" else Faults(mode, status, count, delay_ms, hold_ms, prefixes)
        with self._lock:
            self._faults = faults
            return faults.view()

    def take(self, path: str) -> Faults | None:
        """The fault for a request to ``path`` (counting it), or None."""
        with self._lock:
            faults = self._faults
            if faults.mode == "none" or (faults.paths and not any(path.startswith(prefix) for prefix in faults.paths)):
                return None
            taken = Faults(faults.mode, faults.status, None, faults.delay_ms, faults.hold_ms, faults.paths)
            if faults.remaining is not None:
                faults.remaining -= 1
                if faults.remaining <= 0:
                    self._faults = Faults()
            return taken


Handler = Callable[..., tuple[Any, dict[str, int] | None]]
"""(tenant_id, *path arguments, query, body) -> (data, pagination)."""


class WmsApi:
    """Answers ``/v3/fulfillment/...`` requests for the tenant whose ``x-api-key`` they carry."""

    def __init__(self, warehouse: Warehouse, faults: FaultInjector, now: Callable[[], datetime], stopping: threading.Event):
        self._warehouse = warehouse
        self._faults = faults
        self._now = now
        self._stopping = stopping
        self._routes: Routes[Handler] = Routes(
            [
                ("POST", ("outbound", "oms"), self._create),
                ("PUT", ("outbound", "oms"), self._update),
                ("PATCH", ("outbound", "oms", "cancel"), self._cancel),
                ("GET", ("outbounds", ANY), self._list),
                ("GET", ("warehouse", ANY, "outbound", "wms", ANY), self._detail),
                ("POST", ("webhooks", "pgi"), self._pgi_confirmation),
            ]
        )

    def envelope(
        self, path: str, status: int, data: Any = None, errors: list[dict[str, Any]] | None = None, pagination: Any = None
    ) -> SimResponse:
        """Shipper's response envelope: ``metadata`` (with ``errors``), then ``data`` and ``pagination``."""
        metadata: dict[str, Any] = {
            "path": path,
            "http_status_code": status,
            "http_status": http_status_text(status),
            "timestamp": int(self._now().timestamp()),
        }
        if errors:
            metadata["errors"] = errors
        payload: dict[str, Any] = {"metadata": metadata}
        if data is not None:
            payload["data"] = data
        if pagination is not None:
            payload["pagination"] = pagination
        return SimResponse(status, dumps(payload))

    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> SimResponse:
        fault = self._faults.take(path)
        if fault is None:
            return self._route(method, path, query, headers, body)
        if fault.mode == "timeout":
            self._stopping.wait(fault.hold_ms / 1000)
            return SimResponse(0, no_reply=True)
        if fault.mode == "slow":
            if self._stopping.wait(fault.delay_ms / 1000):
                return SimResponse(0, no_reply=True)  # shutting down
            return self._route(method, path, query, headers, body)
        code = CODE_INTERNAL if fault.status >= 500 else CODE_INPUT
        return self.envelope(path, fault.status, errors=[error_entry(code, "simulated fault")])

    def _route(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> SimResponse:
        segments = path.split("/")[1:]
        if segments[:2] != ["v3", "fulfillment"]:
            raise SimulatorError(404, f"no route for {method} {path}")
        tenant_id = self._warehouse.tenant_for_key(headers.get("x-api-key"))
        if tenant_id is None:
            return self.envelope(path, 401, errors=[error_entry(CODE_AUTH, "missing or invalid x-api-key")])
        found = self._routes.match(method, segments[2:])
        if found is None:
            raise SimulatorError(404, f"no route for {method} {path}")
        handler, arguments = found
        data, pagination = handler(tenant_id, *arguments, query=query, body=body)
        return self.envelope(path, 200, data, pagination=pagination)

    def _create(self, tenant_id: str, *, query: str, body: bytes) -> tuple[Any, None]:
        return create_view(self._warehouse.create(tenant_id, order_fields(json_object(body)))), None

    def _update(self, tenant_id: str, *, query: str, body: bytes) -> tuple[Any, None]:
        return create_view(self._warehouse.update(tenant_id, order_fields(json_object(body)))), None

    def _cancel(self, tenant_id: str, *, query: str, body: bytes) -> tuple[Any, None]:
        data = json_object(body).get("data")
        cancellation = data.get("cancellation") if isinstance(data, dict) else None
        if not isinstance(cancellation, dict):
            raise SimulatorError(400, "data.cancellation is required", field="data.cancellation")
        order_no = text(cancellation, "order_no", 50, "data.cancellation.")
        warehouse_id = text(cancellation, "warehouse_id", 20, "data.cancellation.")
        text(cancellation, "cancel_reason", 50, "data.cancellation.")
        self._warehouse.cancel(tenant_id, warehouse_id, order_no)
        return None, None

    def _list(self, tenant_id: str, outbound_type: str, *, query: str, body: bytes) -> tuple[Any, dict[str, int]]:
        if outbound_type.upper() != "WMS":
            raise SimulatorError(400, "this warehouse lists only outbounds/WMS", field="outbound_type")
        params = dict(parse_qsl(query, keep_blank_values=True))
        start, end = day(params, "updated_start"), day(params, "updated_end")
        if start and end and start > end:
            raise SimulatorError(400, "updated_start is after updated_end", field="updated_start")
        page = int_param(params, "page", 1, 1, 1_000_000)
        limit = int_param(params, "limit", DEFAULT_LIST_LIMIT, 1, MAX_LIST_LIMIT)
        warehouse = self._warehouse
        with warehouse.lock:
            keys = warehouse.listed_keys(tenant_id, params.get("warehouse_id") or None, start, end)
            outbounds = [list_view(warehouse.orders[key]) for key in keys[(page - 1) * limit : page * limit]]
        pagination = {
            "current_page": page,
            "current_elements": len(outbounds),
            "total_pages": (len(keys) + limit - 1) // limit,
            "total_elements": len(keys),
        }
        return {"outbounds": outbounds}, pagination

    def _detail(self, tenant_id: str, warehouse_id: str, order_no: str, *, query: str, body: bytes) -> tuple[Any, None]:
        with self._warehouse.lock:
            return detail_view(self._warehouse.get(tenant_id, warehouse_id, order_no)), None

    def _pgi_confirmation(self, tenant_id: str, *, query: str, body: bytes) -> tuple[Any, None]:
        payload = json_object(body)
        for name in ("warehouse_id", "doc_no", "delivery_no"):
            if not isinstance(payload.get(name), str) or not payload[name]:
                raise SimulatorError(400, f"{name} is required", field=name)
        order = self._warehouse.confirm_pgi(tenant_id, payload["warehouse_id"], payload["doc_no"], payload["delivery_no"])
        return {
            "doc_no": order.order_no,
            "delivery_no": payload["delivery_no"],
            "pgi_confirmations": order.pgi_confirmations,
        }, None
