"""``python -m local_stack.wms_simulator``: run the WMS simulator on 127.0.0.1 until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from local_stack.wms_simulator.model import HOST, TenantConfig
from local_stack.wms_simulator.simulator import WmsSimulator

log = logging.getLogger("local_stack.wms_simulator")


def _tenant_arg(text: str) -> tuple[str, TenantConfig]:
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected TENANT:API_KEY:SECRET, got {text!r}")
    return parts[0], TenantConfig(api_key=parts[1], webhook_secret=parts[2])


def _parser() -> argparse.ArgumentParser:
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
    return parser


def _log_to_stderr(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("wms-sim %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _log_to_stderr(args.quiet)

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
