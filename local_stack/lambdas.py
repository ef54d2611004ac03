"""Lambda runtime emulation shared by the API Gateway stand-in and the event source pumps.

One ``FunctionRuntime`` per function plays the role of a single warm Lambda container: the
handler module is imported on the first invocation (cold start, so a module that does not exist
yet only fails the invocations that need it) and invocations are serialized by a lock, because
handlers (e.g. Powertools resolvers) keep per-request state on module-level objects. The API
server and every pump of a function share its runtime, hence its lock. Each invocation runs in its
own ``contextvars.Context`` (``local_stack.isolation``), so the state Powertools keeps process-wide
(the current event, logger keys, pending metrics) is never seen by another function.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from local_stack.isolation import run_isolated
from local_stack.template import ACCOUNT_ID, DEFAULT_REGION, FunctionSpec

log = logging.getLogger(__name__)

DEFAULT_MEMORY_MB = 512
CONTAINER_SUFFIX = "__container"  # module copy of container N: <handler module>__container<N>
FUNCTION_NAME_PREFIX = "hub-local"

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes of the Lambda Python runtime's context object that handlers use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


class FunctionRuntime:
    """One warm "container" of a function: lazy import, then one invocation at a time."""

    def __init__(self, spec: FunctionSpec, region: str = DEFAULT_REGION, handler: Handler | None = None) -> None:
        """``handler`` skips the import of ``spec.module`` (tests)."""
        self.spec = spec
        self.region = region
        self.container = 0  # 0: the first container, whose handler module is the imported one
        self.function_name = f"{FUNCTION_NAME_PREFIX}-{spec.logical_id}"
        self.arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{self.function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{secrets.token_hex(16)}"
        self.lock = threading.Lock()
        self._handler: Handler | None = handler
        self._injected = handler is not None

    def another_container(self, number: int) -> FunctionRuntime:
        """Container ``number`` (>= 1) of the same function, for concurrent invocations (an SQS event
        source's pollers): its own lock and its own copy of the handler module, so module-level request
        state (e.g. a batch processor) is its own, as in a separate Lambda execution environment. What the
        handler module imports (the domain package, its clients and caches) is shared by the containers."""
        runtime = FunctionRuntime(self.spec, self.region, self._handler if self._injected else None)
        runtime.container = number
        runtime.function_name, runtime.arn = self.function_name, self.arn
        return runtime

    def _load(self) -> Handler:
        if self._handler is None:
            started = time.perf_counter()
            name = self.spec.module
            module = _module_copy(name, self.container) if self.container else importlib.import_module(name)
            handler = getattr(module, self.spec.handler, None)
            if not callable(handler):
                raise RuntimeError(f"{self.spec.module}.{self.spec.handler} is not a callable handler")
            self._handler = handler
            log.info(
                "cold start %s (%s, container %d) in %.0f ms",
                self.spec.logical_id,
                self.spec.module,
                self.container,
                ms_since(started),
            )
        return self._handler

    def context(self, request_id: str) -> LocalLambdaContext:
        return LocalLambdaContext(
            function_name=self.function_name,
            function_version="$LATEST",
            invoked_function_arn=self.arn,
            memory_limit_in_mb=self.spec.memory_size or DEFAULT_MEMORY_MB,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{self.function_name}",
            log_stream_name=self.log_stream_name,
            deadline_ms=int(time.time() * 1000) + self.spec.timeout * 1000,
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        with self.lock:
            handler = self._load()
            request_id = str(uuid.uuid4())
            started = time.perf_counter()
            try:  # in a fresh context: its own event, logger keys and metrics (local_stack.isolation)
                return run_isolated(handler, event, self.context(request_id))
            finally:
                elapsed = ms_since(started)
                if elapsed > self.spec.timeout * 1000:
                    log.warning(
                        "%s took %.0f ms, over its %d s timeout (Lambda would have killed it)",
                        self.spec.logical_id,
                        elapsed,
                        self.spec.timeout,
                    )


def _module_copy(name: str, number: int) -> ModuleType:
    """A fresh execution of module ``name``'s source as ``<name>__container<number>`` (once per process)."""
    alias = f"{name}{CONTAINER_SUFFIX}{number}"
    with _copy_lock:
        existing = sys.modules.get(alias)
        if existing is not None:
            return existing
        found = importlib.util.find_spec(name)
        if found is None or found.origin is None:
            raise ModuleNotFoundError(f"no module named {name!r}")
        spec = importlib.util.spec_from_file_location(alias, found.origin)
        if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a loader
            raise ImportError(f"cannot load {found.origin}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[alias] = module  # dataclasses and pydantic look their module up there
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[alias]
            raise
        return module


_copy_lock = threading.Lock()


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
