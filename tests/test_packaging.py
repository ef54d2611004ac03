"""Packaging invariants: the layer ships exactly the runtime dependencies, handlers import cleanly."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

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
