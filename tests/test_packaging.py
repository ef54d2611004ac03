"""Packaging invariants: the layer ships exactly the runtime dependencies, handlers import cleanly."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from local_stack.template import load_template

ROOT = Path(__file__).resolve().parent.parent


def test_layer_requirements_equal_the_project_dependencies() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = (ROOT / "layers/shared/requirements.txt").read_text().splitlines()
    shipped = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert shipped == declared


def test_every_template_handler_imports() -> None:
    template = load_template()
    functions = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert functions
    for logical_id, resource in functions.items():
        code_uri = Path(resource["Properties"]["CodeUri"])
        module_name, attribute = resource["Properties"]["Handler"].rsplit(".", 1)
        module = importlib.import_module(".".join((*code_uri.parts, module_name)))
        assert callable(getattr(module, attribute)), logical_id


def test_every_setting_a_function_reads_is_set_in_the_template() -> None:
    from order_hub.config import ApiSettings

    template = load_template()
    variables = set(template["Globals"]["Function"]["Environment"]["Variables"])
    required = {name for name, field in ApiSettings.model_fields.items() if field.is_required()}
    assert required <= variables
    assert {"HUB_ENV", "AUTH_CACHE_TTL_SECONDS"} <= variables


def _pins(lock: Path) -> dict[str, str]:
    """name -> version of every `name==version` line of a lock file (names normalised as pip does)."""
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return pins


def _requirements(specifiers: list[str]) -> list[Requirement]:
    return [Requirement(text) for text in specifiers]


def test_the_lock_pins_every_declared_dependency_within_its_range_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = ROOT / "requirements.lock"
    pins = _pins(lock)
    for requirement in _requirements(project["dependencies"] + project["optional-dependencies"]["dev"]):
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{requirement.name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside {requirement}"
    # pip --require-hashes refuses a file where any requirement lacks a hash.
    text = lock.read_text()
    assert text.count("==") >= len(pins) and text.count("--hash=sha256:") >= len(pins)


def test_the_layer_ships_the_versions_the_tests_ran() -> None:
    app = _pins(ROOT / "requirements.lock")
    layer_lock = ROOT / "layers/shared/requirements.lock"
    layer = _pins(layer_lock)
    for requirement in _requirements(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]):
        assert re.sub(r"[-_.]+", "-", requirement.name).lower() in layer, requirement.name
    assert {name: app.get(name) for name in layer} == layer
    assert "--require-hashes" in (ROOT / "layers/shared/Makefile").read_text()
    assert "requirements.lock" in (ROOT / "layers/shared/Makefile").read_text()


def test_one_version_number() -> None:
    import order_hub
    from order_hub.adapters.callbacks_http import USER_AGENT

    version = order_hub.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert importlib.metadata.version("outbound-order-hub") == version
    assert json.loads((ROOT / "docs/openapi.json").read_text())["info"]["version"] == version
    assert USER_AGENT.split("/") == ["outbound-order-hub", version]
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{version}]" in changelog
