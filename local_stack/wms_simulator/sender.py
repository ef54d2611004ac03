"""The background sender of the WMS simulator's webhooks: signs each one and POSTs it to the hub, in order, with retries."""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from local_stack.wms_simulator.model import HOST, Transport, sign

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_ATTEMPTS = 3
WEBHOOK_RETRY_DELAY_S = 0.2


@dataclass
class WebhookJob:
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


Recorder = Callable[[WebhookJob, int, int | None, str | None, dict[str, str]], None]


class WebhookSender:
    """One background thread delivering queued webhooks in order, with retries."""

    def __init__(self, transport: Transport, record: Recorder, attempts: int, retry_delay_s: float, timeout_s: float) -> None:
        self._transport = transport
        self._record = record
        self.attempts = attempts
        self.retry_delay_s = retry_delay_s
        self.timeout_s = timeout_s
        self._queue: deque[WebhookJob] = deque()
        self._pending = 0
        self._condition = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def submit(self, job: WebhookJob) -> None:
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

    def _next(self) -> WebhookJob | None:
        with self._condition:
            while not self._queue and not self._stop.is_set():
                self._condition.wait()
            if self._stop.is_set():
                return None
            return self._queue.popleft()

    def _run(self) -> None:
        while (job := self._next()) is not None:
            self._process(job)

    def _process(self, job: WebhookJob) -> None:
        try:
            self._deliver(job)
        except Exception:  # never let one bad job kill the sender
            log.exception("webhook %s failed unexpectedly", job.webhook_id)
        finally:
            with self._condition:
                self._pending -= 1
                self._condition.notify_all()

    def _attempt(self, job: WebhookJob) -> tuple[int | None, str | None, dict[str, str]]:
        assert job.url is not None and job.secret is not None
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "wms-simulator/1",
            "x-hub-timestamp": str(timestamp),
            "x-hub-signature": sign(job.secret, timestamp, job.body),
        }
        try:
            return self._transport(job.url, headers, job.body, self.timeout_s), None, headers
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}", headers

    def _deliver(self, job: WebhookJob) -> None:
        for attempt in range(1, self.attempts + 1):
            status, error, headers = self._attempt(job)
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
