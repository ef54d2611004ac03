"""``make help`` lists every target, ``make bench`` runs every benchmark, and the README says what it runs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELPERS = {"__init__", "__main__", "common"}  # benchmarks/ modules that are not benchmarks


def _make(*args: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _targets() -> set[str]:
    return set(re.findall(r"^([a-z0-9][a-z0-9-]*):(?!=)", (ROOT / "Makefile").read_text(), flags=re.M))


def _benchmarks() -> set[str]:
    return {path.stem for path in (ROOT / "benchmarks").glob("*.py")} - HELPERS


def test_make_help_lists_every_target_once_and_prints_no_make_syntax() -> None:
    text = _make("help")
    listed = [line.split()[0] for line in text.splitlines() if line.strip()]
    assert sorted(listed) == sorted(_targets())
    assert "$" not in text and "##" not in text


def test_make_bench_runs_every_benchmark() -> None:
    dry_run = _make("-n", "bench")
    ran = set(re.findall(r"-m benchmarks\.([a-z_]+)", dry_run))
    assert ran == _benchmarks()
    for name in ran:
        source = (ROOT / "benchmarks" / f"{name}.py").read_text()
        assert "def main(" in source and 'if __name__ == "__main__":' in source, name


def test_the_readme_lists_exactly_what_make_bench_runs() -> None:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## Benchmarks\n") :]
    section = section[: section.index("\n## ", 1)]
    listing = section[section.index("`make bench`") :]
    listing = listing[: listing.index("\n\n")]
    assert set(re.findall(r"^- `benchmarks\.([a-z_]+)`", listing, flags=re.M)) == _benchmarks()
