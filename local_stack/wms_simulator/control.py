"""The WMS simulator's control API over HTTP (``/_sim/...``, no auth): one small handler per route,
each calling the simulator's Python method of the same meaning."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from local_stack.wms_simulator.model import SimResponse, SimulatorError, plain
from local_stack.wms_simulator.routing import ANY, Routes
from local_stack.wms_simulator.validation import json_object, no_unknown, optional_type, require_int

if TYPE_CHECKING:
    from local_stack.wms_simulator.simulator import WmsSimulator

FAULT_FIELDS = {"mode", "status", "count", "delay_ms", "paths", "hold_ms"}
WEBHOOK_FIELDS = {"drop", "duplicate", "reorder", "enabled"}
CLOCK_FIELDS = {"enabled", "interval_ms"}


class Request:
    """A control request: its query's ``tenant_id`` and its JSON body (POST only)."""

    def __init__(self, method: str, query: str, body: bytes) -> None:
        self.tenant_id = dict(parse_qsl(query)).get("tenant_id") or None
        self.payload: dict[str, Any] = json_object(body) if body.strip() and method == "POST" else {}

    @property
    def owner(self) -> str | None:
        """The tenant named in the body, else in the query."""
        return self.payload.get("tenant_id") or self.tenant_id


ControlHandler = Callable[..., Any]
"""(simulator, request, *path arguments) -> the JSON answer."""


def _orders(sim: WmsSimulator, request: Request) -> Any:
    return {"orders": sim.orders()}


def _order(sim: WmsSimulator, request: Request, warehouse_id: str, order_no: str) -> Any:
    return {"order": sim.order(warehouse_id, order_no, request.tenant_id)}


def _advance(sim: WmsSimulator, request: Request, warehouse_id: str, order_no: str) -> Any:
    payload = request.payload
    ship_qty = optional_type(payload, "ship_qty", dict, "ship_qty must be an object {sku: qty}")
    to = optional_type(payload, "to", str, "to must be a status")
    steps = payload.get("steps")
    if steps is not None:
        require_int(steps, "steps", 1)
    return {"order": sim.advance(warehouse_id, order_no, to, steps, ship_qty, request.owner)}


def _ship_rest(sim: WmsSimulator, request: Request, warehouse_id: str, order_no: str) -> Any:
    return {"order": sim.ship_rest(warehouse_id, order_no, request.owner)}


def _cancel_rest(sim: WmsSimulator, request: Request, warehouse_id: str, order_no: str) -> Any:
    return {"order": sim.cancel_rest(warehouse_id, order_no, request.owner)}


def _hold(sim: WmsSimulator, request: Request, warehouse_id: str, order_no: str) -> Any:
    hold = request.payload.get("hold", True)
    if not isinstance(hold, bool):
        raise SimulatorError(400, "hold must be a boolean", field="hold")
    sim.hold(warehouse_id, order_no, hold, request.owner)
    return {"order": sim.order(warehouse_id, order_no, request.owner)}


def _touch(sim: WmsSimulator, request: Request, warehouse_id: str, order_no: str) -> Any:
    status = request.payload.get("status")
    if not isinstance(status, str):
        raise SimulatorError(400, "status is required", field="status")
    try:
        sim.touch(warehouse_id, order_no, status, request.owner, request.payload.get("updated_at"))
    except ValueError as error:
        raise SimulatorError(400, str(error), field="updated_at") from None
    return {"order": sim.order(warehouse_id, order_no, request.owner)}


def _faults(sim: WmsSimulator, request: Request) -> Any:
    return sim.faults()


def _set_faults(sim: WmsSimulator, request: Request) -> Any:
    no_unknown(request.payload, FAULT_FIELDS)
    optional_type(request.payload, "paths", list, "paths must be a list of path prefixes")
    return sim.set_faults(**request.payload)


def _webhooks(sim: WmsSimulator, request: Request) -> Any:
    return {"settings": sim.webhook_settings(), "deliveries": sim.webhook_log()}


def _set_webhooks(sim: WmsSimulator, request: Request) -> Any:
    no_unknown(request.payload, WEBHOOK_FIELDS)
    for name, value in request.payload.items():
        if not isinstance(value, bool):
            raise SimulatorError(400, f"{name} must be a boolean", field=name)
    return sim.set_webhooks(**request.payload)


def _clock(sim: WmsSimulator, request: Request) -> Any:
    return sim.clock()


def _set_clock(sim: WmsSimulator, request: Request) -> Any:
    no_unknown(request.payload, CLOCK_FIELDS)
    enabled = request.payload.get("enabled", True)
    if not isinstance(enabled, bool):
        raise SimulatorError(400, "enabled must be a boolean", field="enabled")
    return sim.set_clock(enabled, request.payload.get("interval_ms"))


def _tick(sim: WmsSimulator, request: Request) -> Any:
    return {"moved": sim.tick()}


def _reset(sim: WmsSimulator, request: Request) -> Any:
    sim.reset()
    return {"reset": True}


def _health(sim: WmsSimulator, request: Request) -> Any:
    return {"ok": True}


ROUTES: Routes[ControlHandler] = Routes(
    [
        ("GET", ("orders",), _orders),
        ("GET", ("orders", ANY, ANY), _order),
        ("POST", ("orders", ANY, ANY, "advance"), _advance),
        ("POST", ("orders", ANY, ANY, "ship-rest"), _ship_rest),
        ("POST", ("orders", ANY, ANY, "cancel-rest"), _cancel_rest),
        ("POST", ("orders", ANY, ANY, "hold"), _hold),
        ("POST", ("orders", ANY, ANY, "touch"), _touch),
        ("GET", ("faults",), _faults),
        ("POST", ("faults",), _set_faults),
        ("GET", ("webhooks",), _webhooks),
        ("POST", ("webhooks",), _set_webhooks),
        ("GET", ("clock",), _clock),
        ("POST", ("clock",), _set_clock),
        ("POST", ("tick",), _tick),
        ("POST", ("reset",), _reset),
        ("GET", ("health",), _health),
    ]
)


def handle_control(sim: WmsSimulator, method: str, path: str, query: str, body: bytes) -> SimResponse:
    """Answer one ``/_sim/...`` request; refusals raise ``SimulatorError``."""
    request = Request(method, query, body)
    found = ROUTES.match(method, path.split("/")[2:])
    if found is None:
        raise SimulatorError(404, f"no control route for {method} {path}")
    handler, arguments = found
    return plain(200, handler(sim, request, *arguments))
