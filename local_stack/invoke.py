"""``python -m local_stack.invoke``: ``sam local invoke`` without Docker, in-process.

    python -m local_stack.invoke orders_api create_order            # against the running `make run` stack
    python -m local_stack.invoke OrdersApiFunction events/orders_api/list_orders.json
    python -m local_stack.invoke webhook_ingest pgi --embedded      # starts (and stops) its own stack

The function is a template logical id (``OrdersApiFunction``) or its folder under ``functions/``
(``orders_api``); its module and handler come from ``template.yaml``. The event is a file path or a
name under ``events/<folder>/``. By default the handler runs against the stack described by
``.local/stack.json`` (``--stack``): the process gets that stack's function environment, AWS
endpoint, region and fake credentials, exactly as the stack's own handlers have them. With
``--embedded`` a private stack (no pumps, ephemeral port, temporary state dir) runs for the call.

Events are made to fit the stack: API events of ``orders_api`` / ``admin_api`` get the stack's demo
API key in ``x-api-key`` (an endpoint registration also the demo receiver's URL, which needs no DNS);
``webhook_ingest`` events get the demo tenant in their path and a fresh
HMAC signature made with that tenant's webhook secret. Queue, stream and schedule events are used
as they are.

The handler's return value is printed as JSON on stdout; everything else (handler logs included)
goes to stderr. Exit status: 0 when the handler returned, 1 when it raised (a Lambda-style error
document is printed), 2 for a usage problem (no stack file, unknown function or event).
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import json
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from local_stack.lambdas import FunctionRuntime
from local_stack.stack import configure_logging
from local_stack.template import DEFAULT_REGION, FunctionSpec, TemplateError, function_specs, load_template, local_table_names

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"
DEFAULT_STACK_FILE = Path(".local/stack.json")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# Functions whose API events authenticate with the tenant's API key, and those that take signed WMS webhooks.
API_KEY_FUNCTIONS = frozenset({"orders_api", "admin_api"})
WEBHOOK_FUNCTIONS = frozenset({"webhook_ingest"})

log = logging.getLogger("local_stack.invoke")  # also when run as __main__


class InvokeError(ValueError):
    """The invocation cannot be set up (unknown function or event, no stack); the message is for the user."""


@dataclass(frozen=True)
class Target:
    """A function of the template: its spec (code and handler; environment unresolved) and folder name."""

    spec: FunctionSpec
    directory: str

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id


def function_targets(template_path: Path | None = None) -> list[Target]:
    """Every ``AWS::Serverless::Function`` of the template, with the folder name of its ``CodeUri``."""
    template = load_template(template_path)
    specs = function_specs(template, local_table_names(template), resolve_environment=False)
    return [Target(spec=spec, directory=Path(spec.code_uri.rstrip("/")).name) for spec in specs]


def resolve_function(name: str, template_path: Path | None = None) -> Target:
    """The function called ``name``: a logical id or a ``functions/`` folder name (case-insensitive)."""
    targets = function_targets(template_path)
    wanted = name.strip().strip("/").removeprefix("functions/").lower()
    for target in targets:
        if wanted in (target.logical_id.lower(), target.directory.lower()):
            return target
    known = ", ".join(f"{t.directory} ({t.logical_id})" for t in sorted(targets, key=lambda t: t.directory))
    raise InvokeError(f"unknown function {name!r}; the template has: {known}")


def event_names(target: Target, events_dir: Path = EVENTS_DIR) -> list[str]:
    return sorted(path.stem for path in (events_dir / target.directory).glob("*.json"))


def resolve_event(target: Target, event: str | Path, events_dir: Path = EVENTS_DIR) -> Path:
    """``event`` as a file path, else as a name (with or without ``.json``) under ``events/<folder>/``."""
    candidate = Path(event)
    if candidate.is_file():
        return candidate
    name = candidate.name.removesuffix(".json")
    if str(candidate.parent) in (".", "") or candidate.parent.name == target.directory:
        named = events_dir / target.directory / f"{name}.json"
        if named.is_file():
            return named
    available = ", ".join(event_names(target, events_dir)) or "none"
    raise InvokeError(
        f"unknown event {str(event)!r} for {target.directory}: not a file, and events/{target.directory}/ has: {available}"
    )


def load_event(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvokeError(f"cannot read event {path}: {error}") from None
    if not isinstance(document, dict):
        raise InvokeError(f"event {path} is not a JSON object")
    return document


# --------------------------------------------------------------------------------------------
# Making events fit the stack
# --------------------------------------------------------------------------------------------


def _set_header(event: dict[str, Any], name: str, value: str) -> None:
    """Replace header ``name`` (any case) in ``headers`` and ``multiValueHeaders``."""
    lowered = name.lower()
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != lowered}
    headers[name] = value
    event["headers"] = headers
    if "multiValueHeaders" in event:
        multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != lowered}
        multi[name] = [value]
        event["multiValueHeaders"] = multi


def with_api_key(event: Mapping[str, Any], api_key: str) -> dict[str, Any]:
    prepared = copy.deepcopy(dict(event))
    _set_header(prepared, "x-api-key", api_key)
    return prepared


def signed_webhook(event: Mapping[str, Any], tenant_id: str, hmac_secret: str, at: int | None = None) -> dict[str, Any]:
    """``event`` for ``tenant_id`` (path parameter and path), its body signed now as the WMS would
    (same scheme as ``local_stack.harness.signed_webhook_event``)."""
    prepared = copy.deepcopy(dict(event))
    old_tenant = str((prepared.get("pathParameters") or {}).get("tenant_id", ""))
    prepared["pathParameters"] = {**(prepared.get("pathParameters") or {}), "tenant_id": tenant_id}
    resource = str(prepared.get("resource") or "")
    if "{tenant_id}" in resource:
        prepared["path"] = resource.replace("{tenant_id}", tenant_id)
    elif old_tenant and isinstance(prepared.get("path"), str):
        prepared["path"] = prepared["path"].replace(f"/{old_tenant}/", f"/{tenant_id}/")
    raw = prepared.get("body") or ""
    body = raw.encode("utf-8") if not prepared.get("isBase64Encoded") else base64.b64decode(raw)
    timestamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(hmac_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    _set_header(prepared, "x-hub-timestamp", timestamp)
    _set_header(prepared, "x-hub-signature", f"v1={digest}")
    return prepared


def prepare_event(target: Target, event: Mapping[str, Any], stack: Mapping[str, Any]) -> dict[str, Any]:
    """``event`` with what this stack needs: its demo API key, or its demo tenant's webhook signature."""
    is_api_event = "httpMethod" in event or "requestContext" in event
    if target.directory in API_KEY_FUNCTIONS and is_api_event:
        api_key = stack.get("api_key")
        if not api_key:
            raise InvokeError("the stack has no demo API key (started with --no-demo-tenant?)")
        receiver = str((stack.get("demo_receiver") or {}).get("url") or "")
        return with_api_key(with_receiver_urls(event, receiver) if receiver else event, str(api_key))
    if target.directory in WEBHOOK_FUNCTIONS and is_api_event:
        tenant_id = str(stack.get("tenant_id") or "")
        secret = ((stack.get("webhook_secrets") or {}).get(tenant_id) or {}).get("hmac_secret")
        if not tenant_id or not secret:
            raise InvokeError("the stack has no webhook secret for its demo tenant (started with --no-wms-simulator?)")
        signed = signed_webhook(event, tenant_id, str(secret))
        logistics = (stack.get("logistics_secrets") or {}).get(tenant_id)
        if logistics and str(signed.get("path", "")).endswith(f"/webhooks/logistics/{tenant_id}/tracking"):
            signed = with_logistics_auth(signed, str(logistics["api_key"]), str(logistics["tracking_url"]))
        return signed
    return copy.deepcopy(dict(event))


def with_receiver_urls(event: Mapping[str, Any], receiver_url: str) -> dict[str, Any]:
    """An endpoint registration pointed at the stack's demo receiver (its URL resolves without DNS, and
    the callbacks land somewhere): ``url`` under the receiver's prefix for the format, Increff's
    ``credential_url`` at the receiver's Get Credential route. Other events are returned unchanged."""
    prepared = copy.deepcopy(dict(event))
    if prepared.get("httpMethod") != "POST" or prepared.get("resource") != "/hub/v1/endpoints":
        return prepared
    try:
        body = json.loads(prepared.get("body") or "{}")
    except ValueError:
        return prepared
    if not isinstance(body, dict) or "url" not in body:
        return prepared
    fmt, endpoint_id = str(body.get("format") or "shipper"), str(body.get("endpoint_id") or "endpoint")
    body["url"] = f"{receiver_url}/unicommerce" if fmt == "unicommerce" else f"{receiver_url}/{fmt}/{endpoint_id}"
    if body.get("credential_url"):
        body["credential_url"] = f"{receiver_url}/increff/credential"
    prepared["body"] = json.dumps(body)
    return prepared


def with_logistics_auth(event: dict[str, Any], api_key: str, tracking_url: str) -> dict[str, Any]:
    """A tracking webhook's body with ``auth`` = md5(api_key + tracking_url + "json"), as Shipper Logistics sends it."""
    body = json.loads(event.get("body") or "{}")
    body["auth"] = hashlib.md5((api_key + tracking_url + "json").encode(), usedforsecurity=False).hexdigest()
    return {**event, "body": json.dumps(body, separators=(",", ":")), "isBase64Encoded": False}


# --------------------------------------------------------------------------------------------
# The stack's environment
# --------------------------------------------------------------------------------------------


def read_stack_file(path: Path) -> dict[str, Any]:
    """``stack.json`` of a running stack; ``InvokeError`` when missing, unreadable or left by a dead stack."""
    if not path.is_file():
        raise InvokeError(f"no local stack file at {path}: start the stack with `make run` (or pass --embedded, or --stack FILE)")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvokeError(f"cannot read the local stack file {path}: {error}") from None
    if not isinstance(info, dict) or not info.get("aws_endpoint_url") or not isinstance(info.get("env"), dict):
        raise InvokeError(f"{path} is not a local stack file (no aws_endpoint_url / env)")
    pid = info.get("pid")
    if isinstance(pid, int) and not _process_alive(pid):
        raise InvokeError(f"{path} was left by a local stack that is no longer running (pid {pid}); start it with `make run`")
    return info


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def apply_stack_environment(stack: Mapping[str, Any]) -> None:
    """Set the process environment as the stack sets it for its own handlers: fake credentials, its
    AWS endpoint and region, then the functions' resolved environment. Cached clients are dropped
    when anything changed."""
    from local_stack.stack import FAKE_CREDENTIALS, LOCAL_OVERRIDES

    region = str(stack.get("region") or DEFAULT_REGION)
    before = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):  # a profile would win over the fake keys
        os.environ.pop(name, None)
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = str(stack["aws_endpoint_url"])
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ["AWS_REGION"] = region
    os.environ["AWS_MAX_ATTEMPTS"] = "2"
    os.environ.update({name: str(value) for name, value in (stack.get("env") or {}).items()})
    os.environ.update(LOCAL_OVERRIDES)
    if dict(os.environ) != before:
        from order_hub import wiring

        wiring.reset()


# --------------------------------------------------------------------------------------------
# Invoking
# --------------------------------------------------------------------------------------------


@dataclass
class Invocation:
    """One call: which function, the event as the handler received it, and what it returned."""

    target: Target
    event_path: Path | None
    event: dict[str, Any]
    result: Any


def invoke(
    function: str,
    event: str | Path | Mapping[str, Any],
    stack: Mapping[str, Any],
    *,
    runtimes: Mapping[str, FunctionRuntime] | None = None,
    template_path: Path | None = None,
    events_dir: Path = EVENTS_DIR,
) -> Invocation:
    """Run ``function``'s handler in this process on ``event`` (a path, a name under ``events/<fn>/``,
    or the event itself), against the stack described by ``stack`` (what ``stack.json`` holds).

    ``runtimes`` (logical id -> runtime, e.g. ``LocalStack.runtimes``) shares an in-process stack's
    warm runtimes and their locks; otherwise a fresh runtime plays the Lambda container.
    Exceptions of the handler propagate.
    """
    target = resolve_function(function, template_path)
    if isinstance(event, Mapping):
        path, raw = None, dict(event)
    else:
        path = resolve_event(target, event, events_dir)
        raw = load_event(path)
    prepared = prepare_event(target, raw, stack)
    apply_stack_environment(stack)
    runtime = (runtimes or {}).get(target.logical_id) or FunctionRuntime(target.spec, str(stack.get("region") or DEFAULT_REGION))
    log.info("invoking %s (%s.%s) with %s", target.logical_id, target.spec.module, target.spec.handler, path or "an event")
    result = runtime.invoke(prepared)
    return Invocation(target=target, event_path=path, event=prepared, result=result)


@contextmanager
def embedded_stack(template_path: Path | None = None) -> Iterator[tuple[dict[str, Any], Mapping[str, FunctionRuntime]]]:
    """A private local stack for the duration: no pumps, an ephemeral port, a temporary state dir,
    the demo tenant with the WMS simulator (its clock stopped) and the demo receiver."""
    from local_stack.stack import LocalStack, StackOptions

    with tempfile.TemporaryDirectory(prefix="hub-invoke-") as state_dir:
        stack = LocalStack(
            StackOptions(port=0, state_dir=Path(state_dir), template_path=template_path, pumps=False, wms_clock_ms=0)
        )
        info = stack.start()
        try:
            yield info, stack.runtimes
        finally:
            stack.stop()


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.invoke",
        description="Invoke one function of template.yaml in-process with an event (sam local invoke, without Docker).",
    )
    parser.add_argument("function", help="template logical id (OrdersApiFunction) or folder under functions/ (orders_api)")
    parser.add_argument("event", help="event file, or the name of one under events/<function folder>/ (create_order)")
    parser.add_argument(
        "--stack",
        type=Path,
        default=DEFAULT_STACK_FILE,
        help=f"the running local stack's file (default: {DEFAULT_STACK_FILE})",
    )
    parser.add_argument("--embedded", action="store_true", help="start a private local stack for this invocation instead")
    parser.add_argument("--template", type=Path, default=None, help="template file (default: the repo's template.yaml)")
    parser.add_argument("--quiet", action="store_true", help="only warnings from the local stack on stderr")
    return parser.parse_args(argv)


@contextmanager
def _stdout_to_stderr() -> Iterator[TextIO]:
    """Send everything written to stdout (fd 1: prints, Powertools' log handler) to stderr; yield
    the real stdout for the result."""
    sys.stdout.flush()
    saved = os.dup(1)
    result = os.fdopen(saved, "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        yield result
    finally:
        sys.stdout.flush()
        result.flush()
        os.dup2(saved, 1)
        result.close()


def _error_document(error: BaseException) -> dict[str, Any]:
    """What Lambda returns for an unhandled exception."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.quiet)
    with _stdout_to_stderr() as out:
        try:
            target = resolve_function(args.function, args.template)
            resolve_event(target, args.event)  # fail before starting anything
            if args.embedded:
                with embedded_stack(args.template) as (info, runtimes):
                    code = _run(args, info, runtimes, out)
            else:
                code = _run(args, read_stack_file(args.stack), None, out)
        except (InvokeError, TemplateError) as error:
            print(f"local_stack.invoke: error: {error}", file=sys.stderr, flush=True)
            return EXIT_USAGE
    return code


def _run(args: argparse.Namespace, info: Mapping[str, Any], runtimes: Mapping[str, FunctionRuntime] | None, out: TextIO) -> int:
    try:
        invocation = invoke(args.function, args.event, info, runtimes=runtimes, template_path=args.template)
    except InvokeError:
        raise
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        out.write(json.dumps(_error_document(error)) + "\n")
        return EXIT_FAILED
    out.write(json.dumps(invocation.result, default=str) + "\n")
    return EXIT_OK


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Like `python -m local_stack`: library threads serving an abandoned request must not hold up the exit.
    os._exit(code)
