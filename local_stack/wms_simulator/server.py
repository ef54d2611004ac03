"""The WMS simulator's socket side: a loopback HTTP server handing every request to ``WmsSimulator.handle``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from local_stack.loopback_http import LoopbackHandler, LoopbackServer
from local_stack.wms_simulator.model import SimResponse, dumps

if TYPE_CHECKING:
    from local_stack.wms_simulator.simulator import WmsSimulator

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024


class SimServer(LoopbackServer):
    def __init__(self, address: tuple[str, int], simulator: WmsSimulator) -> None:
        self.simulator = simulator
        super().__init__(address, SimRequestHandler, thread_name="wms-sim-conn")


class SimRequestHandler(LoopbackHandler):
    server_version = "wms-simulator"
    max_body_bytes = MAX_BODY_BYTES
    server: SimServer

    def _handle(self) -> None:
        body = self.read_body()
        if body is None:
            response = SimResponse(413, dumps({"message": "Request Too Long"}))
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
