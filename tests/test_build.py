"""The build `sam build` runs (BuildMethod: makefile): every function and the layer ship bytecode.

Lambda's code folders are read-only, so a module without a valid .pyc is compiled again on every
cold start. These tests run the real Makefile targets (all but the layer's pip download, which
needs the network) and check that what they ship is complete and loads without compiling.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_stack.template import load_template

ROOT = Path(__file__).resolve().parent.parent
FUNCTION = "AWS::Serverless::Function"


def _make(makefile: Path, target: str, artifacts: Path) -> None:
    environment = {**os.environ, "ARTIFACTS_DIR": str(artifacts), "PYTHON": sys.executable}
    subprocess.run(
        ["make", "--no-print-directory", "-f", str(makefile), target], check=True, env=environment, capture_output=True
    )


def _assert_valid_unchecked_bytecode(source: Path) -> None:
    cached = Path(importlib.util.cache_from_source(str(source)))
    assert cached.is_file(), f"{source} ships without bytecode"
    header = cached.read_bytes()[:16]
    assert header[:4] == importlib.util.MAGIC_NUMBER, f"{cached}: made by another Python version"
    assert int.from_bytes(header[4:8], "little") == 0b01, f"{cached}: not an unchecked hash-based .pyc"
    assert header[8:16] == importlib.util.source_hash(source.read_bytes()), f"{cached}: stale"


def _functions() -> dict[str, dict]:
    return {key: value for key, value in load_template()["Resources"].items() if value["Type"] == FUNCTION}


def test_every_function_and_the_layer_are_built_by_our_makefiles() -> None:
    template = load_template()
    assert template["Resources"]["SharedLayer"]["Metadata"]["BuildMethod"] == "makefile"
    assert (ROOT / "layers/shared/Makefile").is_file()
    for logical_id, resource in _functions().items():
        assert resource["Metadata"] == {"BuildMethod": "makefile", "ContextPath": "functions"}, logical_id


@pytest.mark.parametrize("logical_id", sorted(_functions()))
def test_a_function_build_ships_its_own_handler_with_bytecode(logical_id: str, tmp_path: Path) -> None:
    _make(ROOT / "functions/Makefile", f"build-{logical_id}", tmp_path)
    code_uri = ROOT / _functions()[logical_id]["Properties"]["CodeUri"]
    shipped = tmp_path / "app.py"
    assert shipped.read_bytes() == (code_uri / "app.py").read_bytes()
    _assert_valid_unchecked_bytecode(shipped)


def test_the_layer_ships_order_hub_compiled_and_importable_without_its_sources(tmp_path: Path) -> None:
    _make(ROOT / "layers/shared/Makefile", "package", tmp_path)
    site = tmp_path / "python"
    sources = sorted((site / "order_hub").rglob("*.py"))
    assert len(sources) == len(list((ROOT / "layers/shared/order_hub").rglob("*.py")))
    for source in sources:
        _assert_valid_unchecked_bytecode(source)
    # An unchecked .pyc is used as it is: with every source emptied, the package still imports.
    for source in sources:
        source.write_text("raise SystemExit('compiled from source')\n")
    probe = "import sys; sys.path[:0] = sys.argv[1:]; import order_hub.wiring, order_hub.models.order; print('ok')"
    site_packages = [path for path in sys.path if path.endswith("site-packages")]
    out = subprocess.run([sys.executable, "-S", "-B", "-c", probe, str(site), *site_packages], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_the_makefiles_refuse_to_run_without_artifacts_dir() -> None:
    environment = {key: value for key, value in os.environ.items() if key != "ARTIFACTS_DIR"}
    out = subprocess.run(
        ["make", "-f", str(ROOT / "functions/Makefile"), "build-OrdersApiFunction"],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "ARTIFACTS_DIR is not set" in out.stderr
