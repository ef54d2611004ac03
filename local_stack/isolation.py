"""Per-invocation state for functions that share one process (the local stack).

On Lambda each function has its own process, so module-level request state is harmless. Here all
functions run in one process, on many threads, and two pieces of Powertools state are process-wide:

- ``BaseRouter.current_event`` and ``BaseRouter.lambda_context`` are *class* attributes shared by
  every resolver (so one function's response could carry another function's request path);
- the Logger formatter's keys (``log_format``: ``function_name``, ``tenant_id``, ...) live on the
  one formatter object every function logs through;
- Metrics' pending metric set is shared by every ``Metrics`` instance (one function's flush would
  publish another one's metrics).

``install()`` (idempotent) keeps each of them in a ``ContextVar``, and ``run_isolated`` runs a
handler in a fresh ``contextvars.Context``: every invocation starts from the state the module set
up at import time (logger keys from the constructor, no event, no pending metrics), and nothing it
sets is seen by any other invocation, concurrent or later.
"""

from __future__ import annotations

import contextvars
import copy
import threading
from abc import ABCMeta
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_installed = False
_install_lock = threading.Lock()
_ROUTER_STATE: dict[str, contextvars.ContextVar[Any]] = {
    "current_event": contextvars.ContextVar("powertools_current_event", default=None),
    "lambda_context": contextvars.ContextVar("powertools_lambda_context", default=None),
}


def run_isolated(function: Callable[..., T], *args: Any) -> T:
    """Call ``function(*args)`` in a new, empty context (see the module docstring)."""
    install()
    return contextvars.Context().run(function, *args)


def install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        _isolate_router_state()
        _isolate_logger_keys()
        _isolate_metrics()
        _installed = True


# -- event handler: current_event / lambda_context ---------------------------------------------------


class _RouterStateDescriptor:
    """Instance access (``app.current_event``) and, via the metaclass, class access
    (``BaseRouter.current_event = ...``) both read and write the context variable."""

    def __init__(self, name: str) -> None:
        self.var = _ROUTER_STATE[name]

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        return self.var.get()

    def __set__(self, instance: Any, value: Any) -> None:
        self.var.set(value)


class _RouterMeta(ABCMeta):
    current_event = _RouterStateDescriptor("current_event")
    lambda_context = _RouterStateDescriptor("lambda_context")


def _isolate_router_state() -> None:
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    for name in _ROUTER_STATE:
        current = BaseRouter.__dict__.get(name)
        if current is not None and not isinstance(current, _RouterStateDescriptor):
            _ROUTER_STATE[name].set(current)
        setattr(BaseRouter, name, _RouterStateDescriptor(name))  # before the metaclass swap: plain class setattr
    BaseRouter.__class__ = _RouterMeta  # type: ignore[method-assign,assignment]  # class-level assignments now go through the descriptors too


# -- logger keys ---------------------------------------------------------------------------------


class _ContextLogFormat:
    """``LambdaPowertoolsFormatter.log_format`` per context: the constructor's value is the base;
    each context gets its own copy the first time it reads or replaces it."""

    def __get__(self, formatter: Any, owner: Any = None) -> Any:
        if formatter is None:
            return self
        state = formatter.__dict__
        var: contextvars.ContextVar[dict[str, Any] | None] | None = state.get("_log_format_var")
        if var is None:
            return state.get("_log_format_base")
        current = var.get()
        if current is None:
            current = dict(state.get("_log_format_base") or {})
            var.set(current)
        return current

    def __set__(self, formatter: Any, value: dict[str, Any]) -> None:
        state = formatter.__dict__
        if "_log_format_var" not in state:  # the constructor: this is the base every context starts from
            state["_log_format_base"] = value
            state["_log_format_var"] = contextvars.ContextVar(f"log_format_{id(formatter)}", default=None)
        else:
            state["_log_format_var"].set(value)


def _isolate_logger_keys() -> None:
    import gc

    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    for formatter in [obj for obj in gc.get_objects() if isinstance(obj, LambdaPowertoolsFormatter)]:
        if "log_format" in formatter.__dict__:  # built before install(): its current keys become the base
            base = formatter.__dict__.pop("log_format")
            formatter.__dict__["_log_format_base"] = base
            formatter.__dict__["_log_format_var"] = contextvars.ContextVar(f"log_format_{id(formatter)}", default=None)
    LambdaPowertoolsFormatter.log_format = _ContextLogFormat()  # type: ignore[assignment]


# -- metrics -------------------------------------------------------------------------------------

_METRIC_SETS: contextvars.ContextVar[dict[tuple[int, str], Any] | None] = contextvars.ContextVar(
    "powertools_metric_sets", default=None
)


class _ContextDict:
    """A provider's shared dict attribute (``metric_set``, ``dimension_set``, ``metadata_set``) per context."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _sets(self) -> dict[tuple[int, str], Any]:
        sets = _METRIC_SETS.get()
        if sets is None:
            sets = {}
            _METRIC_SETS.set(sets)
        return sets

    def __get__(self, provider: Any, owner: Any = None) -> Any:
        if provider is None:
            return self
        key = (id(provider), self.name)
        sets = self._sets()
        if key not in sets:
            base = provider.__dict__.get(f"_base_{self.name}")
            sets[key] = copy.copy(base) if base is not None else {}  # e.g. the default dimensions
        return sets[key]

    def __set__(self, provider: Any, value: Any) -> None:
        if f"_base_{self.name}" not in provider.__dict__:
            provider.__dict__[f"_base_{self.name}"] = value
        self._sets()[(id(provider), self.name)] = value


def _isolate_metrics() -> None:
    try:
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
    except ImportError:  # pragma: no cover - another Powertools layout: metrics stay shared
        return
    import gc

    names = ("metric_set", "dimension_set", "metadata_set")
    for provider in [obj for obj in gc.get_objects() if isinstance(obj, AmazonCloudWatchEMFProvider)]:
        for name in names:
            if name in provider.__dict__:
                provider.__dict__[f"_base_{name}"] = provider.__dict__.pop(name)
    for name in names:
        setattr(AmazonCloudWatchEMFProvider, name, _ContextDict(name))
