"""Tracing is switchable by the Tracing parameter (POWERTOOLS_TRACE_DISABLED): off, the handler runs as it
is and no Tracer is made; on, Powertools Tracer wraps it without copying responses or errors into traces."""

from __future__ import annotations

from typing import Any

import aws_lambda_powertools
import pytest

from order_hub.observability import traced, tracing_enabled


class FakeTracer:
    made: list[FakeTracer] = []

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}
        FakeTracer.made.append(self)

    def capture_lambda_handler(self, handler: Any, **options: Any) -> Any:
        self.options = options

        def wrapped(event: Any, context: Any) -> Any:
            return ("traced", handler(event, context))

        return wrapped


@pytest.fixture(autouse=True)
def fake_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeTracer.made = []
    monkeypatch.setattr(aws_lambda_powertools, "Tracer", FakeTracer)


@pytest.mark.parametrize(("value", "enabled"), [(None, False), ("true", False), ("TRUE", False), ("1", False), ("false", True)])
def test_the_switch_reads_powertools_trace_disabled(monkeypatch: pytest.MonkeyPatch, value: str | None, enabled: bool) -> None:
    if value is None:
        monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    else:
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", value)
    assert tracing_enabled() is enabled


def test_off_the_handler_runs_untouched_and_no_tracer_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    handler = traced(lambda event, context: event["n"] + 1)

    assert [handler({"n": n}, None) for n in (1, 2)] == [2, 3]
    assert FakeTracer.made == []


def test_on_one_tracer_wraps_the_handler_without_responses_or_errors_in_the_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    handler = traced(lambda event, context: event["n"] + 1)

    assert [handler({"n": n}, None) for n in (1, 2)] == [("traced", 2), ("traced", 3)]
    [tracer] = FakeTracer.made
    assert tracer.options == {"capture_response": False, "capture_error": False}


def test_every_function_handler_is_traced() -> None:
    import importlib
    import inspect

    from local_stack.template import function_specs, load_template, local_table_names

    template = load_template()
    for spec in function_specs(template, local_table_names(template), {}, resolve_environment=False):
        source = inspect.getsource(importlib.import_module(spec.module))
        assert f"@traced\n@logger.inject_lambda_context(clear_state=True)\n@metrics.log_metrics\ndef {spec.handler}(" in source, (
            spec.module
        )
