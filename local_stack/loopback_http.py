"""The HTTP server plumbing shared by the local API Gateway and the WMS simulator (loopback only)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


class MalformedRequest(ValueError):
    """The request's framing cannot be read (e.g. ``Content-Length: abc``): answered 400, connection closed."""


class LoopbackServer(ThreadingHTTPServer):
    """A threaded server that can wake idle keep-alive connections and join its handler threads on stop."""

    daemon_threads = True
    request_queue_size = 128  # listen backlog (socketserver's default of 5 resets bursts of connections)

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], thread_name: str) -> None:
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        self._connections_lock = threading.Lock()
        self._thread_name = thread_name
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # ThreadingMixIn does not track daemon threads (server_close() would not join them): do it here.
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), name=self._thread_name, daemon=True
        )
        with self._connections_lock:
            self._connections.add(request)
            self._handler_threads = {alive for alive in self._handler_threads if alive.is_alive()}
            self._handler_threads.add(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads waiting on idle keep-alive connections so that they end now."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def join_handler_threads(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._connections_lock:
            threads = list(self._handler_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class LoopbackHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm plus the
    # client's delayed ACK stall every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    max_body_bytes = 10 * 1024 * 1024

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except MalformedRequest as error:
            self.close_connection = True
            body = json.dumps({"message": f"Bad Request: {error}"}).encode()
            self.send_response_only(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

    def read_body(self) -> bytes | None:
        """The request body (plain or chunked), or None if it exceeds ``max_body_bytes``;
        ``MalformedRequest`` (answered 400 by ``handle_one_request``) if its framing is invalid."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0"
                try:
                    length = int(line, 16)
                except ValueError:
                    raise MalformedRequest(f"invalid chunk size {line[:20]!r}") from None
                if length < 0:
                    raise MalformedRequest("negative chunk size")
                if length == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                size += length
                if size > self.max_body_bytes:
                    return None
                chunks.append(self.rfile.read(length))
                self.rfile.readline()
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not raw.isdigit():
            raise MalformedRequest(f"invalid Content-Length {raw[:20]!r}")
        length = int(raw)
        if length > self.max_body_bytes:
            return None
        return self.rfile.read(length) if length > 0 else b""


class LoopbackService:
    """Lifecycle of an in-process HTTP service on 127.0.0.1 (the WMS simulator, the demo receiver).

    Port 0 binds an ephemeral port; a restart keeps it, so URLs handed out stay valid. ``_stopping``
    is set on stop, so requests held open on purpose (delays, timeouts) are released at once.
    Subclasses build their server in ``_new_server`` and may extend ``start``/``stop``.
    """

    service_name = "service"  # in messages
    thread_name = "loopback-service-http"

    def __init__(self, port: int) -> None:
        self._port = port
        self._stopping = threading.Event()
        self._server: LoopbackServer | None = None
        self._server_thread: threading.Thread | None = None

    def _new_server(self, address: tuple[str, int]) -> LoopbackServer:
        raise NotImplementedError

    @property
    def port(self) -> int:
        if self._server is not None:
            return int(self._server.server_address[1])
        if self._port:
            return self._port
        raise RuntimeError(f"the {self.service_name} is not started (port 0 is chosen when it binds)")

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Bind 127.0.0.1:<port> and serve in background threads (one per connection)."""
        if self._server is not None:
            return
        self._stopping.clear()
        self._server = self._new_server((HOST, self._port))
        self._port = int(self._server.server_address[1])  # a restart keeps the URL
        self._server_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # a short poll interval makes stop() quick
            name=self.thread_name,
            daemon=True,
        )
        self._server_thread.start()

    def stop(self) -> None:
        """Stop serving; held requests are released without a reply; joins every thread it started."""
        self._stopping.set()
        server, thread = self._server, self._server_thread
        self._server = self._server_thread = None
        if server is not None:
            if thread is not None:
                server.shutdown()
                thread.join(timeout=2)
            server.close_connections()
            server.server_close()
            server.join_handler_threads(timeout=5)

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
