"""The WMS simulator's clock: a background ticker that calls ``tick`` every ``interval_ms``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from local_stack.wms_simulator.validation import require_int

log = logging.getLogger(__name__)

DEFAULT_CLOCK_INTERVAL_MS = 500


class Clock:
    def __init__(self, tick: Callable[[], object]) -> None:
        self._tick = tick
        self._lock = threading.Lock()  # never taken while holding the state lock: the ticker needs that one
        self.interval_ms = DEFAULT_CLOCK_INTERVAL_MS
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def view(self) -> dict[str, Any]:
        return {"enabled": self._thread is not None, "interval_ms": self.interval_ms}

    def set(self, enabled: bool, interval_ms: int | None = None) -> dict[str, Any]:
        if interval_ms is not None:
            require_int(interval_ms, "interval_ms", 1)
        with self._lock:
            if interval_ms is not None:
                self.interval_ms = interval_ms
            if enabled and self._thread is None:
                self._start()
            elif not enabled and self._thread is not None:
                self._stop_thread()
            return self.view()

    def _start(self) -> None:
        stop = threading.Event()
        self._stop = stop
        self._thread = threading.Thread(target=self._run, args=(stop,), name="wms-sim-clock", daemon=True)
        self._thread.start()

    def _stop_thread(self) -> None:
        thread, stop = self._thread, self._stop
        self._thread = self._stop = None
        if stop is not None:
            stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_ms / 1000):
            try:
                self._tick()
            except Exception:
                log.exception("clock tick failed")
