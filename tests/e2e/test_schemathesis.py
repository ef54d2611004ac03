"""Fuzz the live local API from its OpenAPI document with schemathesis (the real third-party checker).

Checks excluded, and why:
- positive_data_acceptance: some schema-valid bodies break rules a JSON schema cannot state
  (the warehouse must belong to the account, COD needs cod_amount, line ids must be unique);
  the hub answers those with 400/810 on purpose.
- unsupported_method: API Gateway answers undeclared methods with its MISSING_AUTHENTICATION_TOKEN
  response (shaped by template.yaml as a 404 envelope), not 405; the local stack mirrors API Gateway.
- on the webhooks only, negative_data_rejection findings of one kind (the hooks' filter_failure): a
  value of another JSON type that their models take on purpose (numbers for identifiers, 0/1 flags,
  epoch times); the document gives the canonical types.

No stateful phase: the document has no links, the 10 it could infer are never covered (every id is
per account and generated), so its ~27 random call sequences repeat the fuzzing phase at about a tenth
of the run's time.

The fuzzer gets its own stack without pumps or demo receiver: the API's contract does not depend on
them, and on the shared stack the background forwarding and callback work of ~1,800 generated orders
doubled the run time. The WMS simulator stays (its clock stopped): it holds the demo tenant's webhook
secrets. tests/e2e/schemathesis_hooks.py signs every webhook request (HMAC for WMS and AWB created
webhooks, the md5 ``auth`` for tracking) and logs every answer, so the test also proves that every
route was reached, webhooks past their authentication.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.e2e.conftest import LaunchStack

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
HOOKS = Path(__file__).resolve().parent / "schemathesis_hooks.py"
EXCLUDED = "positive_data_acceptance,unsupported_method"


def test_schemathesis_finds_no_server_error_or_schema_violation(launch_stack: LaunchStack, tmp_path: Path) -> None:
    process = launch_stack(extra_args=("--no-pumps", "--no-demo-receiver"))
    stack = process.wait_ready()
    log = tmp_path / "calls.jsonl"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", str(DOCUMENT),
        "--url", stack["api_url"],
        "--header", f"x-api-key: {stack['api_key']}",
        "--checks", "all", "--exclude-checks", EXCLUDED,
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", "25", "--seed", "20261123", "--workers", "1",
        "--no-color", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "HUB_STACK_FILE": str(process.state_file),
        "HUB_SCHEMATHESIS_LOG": str(log),
    }
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]

    statuses: dict[tuple[str, str], list[int]] = defaultdict(list)
    for line in log.read_text().splitlines():
        call = json.loads(line)
        statuses[(call["method"].lower(), call["path"])].append(call["status"])
    document = json.loads(DOCUMENT.read_text())
    operations = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert operations <= set(statuses), f"not fuzzed: {sorted(operations - set(statuses))}"  # (and undeclared methods)
    assert [(op, s) for op, codes in statuses.items() for s in codes if s >= 500] == []
    for (method, path), codes in statuses.items():
        if path.startswith("/webhooks/") and (method, path) in operations:
            authenticated = [code for code in codes if code != 401]
            assert len(authenticated) >= 5, f"{method} {path}: the signed requests were refused: {codes}"
            assert {200, 202} & set(codes), f"{method} {path}: no webhook was accepted: {sorted(set(codes))}"
