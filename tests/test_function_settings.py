"""config.FUNCTION_SETTINGS is the one list of what each function reads from its environment:
template.yaml gives every function what it requires, and sets no variable no function reads; a
function validates its settings on its first invocation and names what is missing or malformed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.template import load_template, resources_of_type
from order_hub import wiring
from order_hub.config import FUNCTION_SETTINGS, SettingsError, known_variables, require, required_variables

# Read by Powertools, not by the hub's settings.
# Read by Powertools itself (POWERTOOLS_TRACE_DISABLED: the Tracing parameter, for the Tracer)
POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_LOGGER_SAMPLE_RATE",
    "POWERTOOLS_TRACE_DISABLED",
}


def _environments() -> dict[str, set[str]]:
    template = load_template()
    shared = set((((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {})
    found: dict[str, set[str]] = {}
    for resource in resources_of_type(template, "AWS::Serverless::Function").values():
        properties = resource["Properties"]
        function = str(properties["CodeUri"]).strip("/").split("/")[-1]
        own = set(((properties.get("Environment") or {}).get("Variables")) or {})
        found[function] = shared | own
    return found


ENVIRONMENTS = _environments()


def test_every_function_in_the_template_has_its_settings_listed() -> None:
    assert set(ENVIRONMENTS) == set(FUNCTION_SETTINGS)


@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_the_template_gives_each_function_every_variable_it_requires(function: str) -> None:
    assert required_variables(function) <= ENVIRONMENTS[function]


@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_the_template_sets_no_variable_that_no_function_reads(function: str) -> None:
    read = set().union(*(known_variables(f) for f in FUNCTION_SETTINGS)) | POWERTOOLS
    assert ENVIRONMENTS[function] - read == set()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in set().union(*(known_variables(f) for f in FUNCTION_SETTINGS)):
        monkeypatch.delenv(name, raising=False)
    wiring.reset()
    yield monkeypatch
    wiring.reset()


def _complete(function: str) -> dict[str, Any]:
    return dict.fromkeys(required_variables(function), "x")


@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_a_missing_variable_fails_the_first_invocation_naming_it(function: str, clean_env: pytest.MonkeyPatch) -> None:
    for name, value in _complete(function).items():
        clean_env.setenv(name, value)
    clean_env.delenv("ORDERS_TABLE_NAME")
    with pytest.raises(SettingsError, match=f"{function}: invalid environment: ORDERS_TABLE_NAME: Field required"):
        require(function)


def test_a_malformed_variable_is_named_and_a_valid_environment_passes(clean_env: pytest.MonkeyPatch) -> None:
    for name, value in _complete("wms_forwarder").items():
        clean_env.setenv(name, value)
    clean_env.setenv("WMS_RETRY_BACKOFF_SECONDS", "5,soon")
    with pytest.raises(SettingsError, match="WMS_RETRY_BACKOFF_SECONDS: String should match pattern"):
        require("wms_forwarder")
    clean_env.setenv("WMS_RETRY_BACKOFF_SECONDS", "5,30")
    wiring.reset()
    require("wms_forwarder")
