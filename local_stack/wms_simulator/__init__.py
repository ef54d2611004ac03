"""A WMS simulator speaking Shipper's fulfilment API, for the local stack, tests and demos.

``WmsSimulator`` keeps its own orders (keyed by tenant, warehouse and order number), moves them
through the raw warehouse statuses (``OPEN -> DUE_OUT -> ALLOCATED -> PICKING -> PICKED ->
PACKING -> PACKED -> SHIPPING -> SHIPPED``, plus ``CANCELLED`` and ``CLOSED`` = cancelled by the
warehouse) on command or on a clock, can be told to fail, and sends signed webhooks to the hub
(order confirmation on create, PGI on ``SHIPPED``) from a background sender thread. A partly
shipped order can ship its rest as a second package (``ship_rest``, its own PGI) or be closed short
(``cancel_rest``: ``CLOSED`` with the shipped quantities kept, no webhook). Updates and cancels are
refused (400/810) once stock is allocated, as Shipper's WMS does.

The API key (``x-api-key``) identifies the tenant; every tenant has a ``TenantConfig`` with its key
and its webhook secret. Webhooks are signed ``x-hub-signature: v1=<hex HMAC-SHA256(secret,
f"{timestamp}.".encode() + body)>`` with ``x-hub-timestamp: <epoch seconds>``.

Everything HTTP goes through ``WmsSimulator.handle`` (method, target, headers, body) -> response,
which needs no socket: unit tests call it directly; ``start()`` serves it on 127.0.0.1. The control
API (no auth) lives under ``/_sim/``; each control route has a Python method of the same meaning.

The modules: ``model`` (statuses, the order record, formatting), ``state`` (the state machine, with ``bulk``),
``api`` (Shipper's API, faults), ``control`` (the ``/_sim/`` API), ``webhooks`` and ``sender``
(raising and delivering webhooks), ``clock``, ``server`` (the socket side), ``simulator`` (the
``WmsSimulator`` facade) and ``cli`` (``python -m local_stack.wms_simulator``).
"""

from local_stack.wms_simulator.cli import _tenant_arg, main
from local_stack.wms_simulator.model import (
    CANCELLED,
    CHANGEABLE,
    CLOSED,
    CODE_AUTH,
    CODE_INPUT,
    CODE_INTERNAL,
    FLOW,
    STATUSES,
    TERMINAL,
    SimResponse,
    SimulatorError,
    TenantConfig,
    Transport,
    carrier_for,
    sign,
)
from local_stack.wms_simulator.sender import http_transport
from local_stack.wms_simulator.simulator import WmsSimulator

__all__ = [
    "CANCELLED",
    "CHANGEABLE",
    "CLOSED",
    "CODE_AUTH",
    "CODE_INPUT",
    "CODE_INTERNAL",
    "FLOW",
    "STATUSES",
    "TERMINAL",
    "SimResponse",
    "SimulatorError",
    "TenantConfig",
    "Transport",
    "WmsSimulator",
    "_tenant_arg",
    "carrier_for",
    "http_transport",
    "main",
    "sign",
]
