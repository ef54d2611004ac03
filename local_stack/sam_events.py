"""``make events`` (``python -m local_stack.sam_events``): make ``events/`` fit the running local stack.

    python -m local_stack.sam_events [--stack .local/stack.json] [--events-dir events]

- Every API event of the order and admin APIs gets the stack's demo API key; every webhook event gets
  the demo tenant in its path, a fresh ``x-hub-timestamp`` and its HMAC ``x-hub-signature`` (tracking
  events their ``auth`` digest): the same preparation ``make invoke`` applies on the fly
  (``local_stack.invoke.prepare_event``), written back to the files, for ``sam local invoke -e``. A
  signature is valid for 5 minutes: run it again before invoking later.
- ``events/env.json`` (not committed: it holds this machine's URLs): the ``--env-vars`` file of
  ``sam local invoke``, one section per function (its logical id) with every variable the template
  declares for it, as the local stack resolves them, plus the stack's ``AWS_ENDPOINT_URL``.

Queue, stream and schedule events are left as they are.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from local_stack.invoke import (
    DEFAULT_STACK_FILE,
    InvokeError,
    function_targets,
    load_event,
    prepare_event,
    read_stack_file,
)
from local_stack.template import FUNCTION_TYPE, load_template, resources_of_type

ENV_FILE_NAME = "env.json"
DEFAULT_EVENTS_DIR = Path("events")  # the checkout's, like .local/stack.json


def declared_variables(template_path: Path | None = None) -> dict[str, list[str]]:
    """Per function (logical id): the environment variables the template declares (globals and its own)."""
    template = load_template(template_path)
    shared = ((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
    declared: dict[str, list[str]] = {}
    for logical_id, resource in resources_of_type(template, FUNCTION_TYPE).items():
        own = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        declared[logical_id] = sorted({*(shared.get("Variables") or {}), *own})
    return declared


def env_vars(stack: dict[str, Any], template_path: Path | None = None) -> dict[str, dict[str, str]]:
    """SAM's ``--env-vars`` document: per function, its declared variables with the stack's values."""
    values: dict[str, str] = {name: str(value) for name, value in (stack.get("env") or {}).items()}
    document: dict[str, dict[str, str]] = {}
    for logical_id, names in declared_variables(template_path).items():
        section = {name: values[name] for name in names if name in values}
        section["AWS_ENDPOINT_URL"] = str(stack["aws_endpoint_url"])
        document[logical_id] = dict(sorted(section.items()))
    return document


def refresh(stack: dict[str, Any], events_dir: Path = DEFAULT_EVENTS_DIR) -> list[Path]:
    """Rewrite every event under ``events_dir`` that the stack changes; write ``env.json``. Returns what changed."""
    written: list[Path] = []
    for target in function_targets():
        for path in sorted((events_dir / target.directory).glob("*.json")):
            event = load_event(path)
            prepared = prepare_event(target, event, stack)
            if prepared != event:
                path.write_text(json.dumps(prepared, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
                written.append(path)
    env_file = events_dir / ENV_FILE_NAME
    env_file.write_text(json.dumps(env_vars(stack), indent=2) + "\n", encoding="utf-8")
    written.append(env_file)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", type=Path, default=DEFAULT_STACK_FILE, help=f"the running stack's file ({DEFAULT_STACK_FILE})")
    parser.add_argument("--events-dir", type=Path, default=DEFAULT_EVENTS_DIR, help="the events folder to rewrite (./events)")
    args = parser.parse_args(argv)
    try:
        written = refresh(read_stack_file(args.stack), args.events_dir)
    except InvokeError as error:
        print(f"local_stack.sam_events: error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
