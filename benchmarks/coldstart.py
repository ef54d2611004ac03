"""Cold start of every function in template.yaml, measured on the code as Lambda runs it.

The layer's ``python/`` folder and each function's folder are laid out as ``sam build`` lays them
out (the layer's distributions are copied from this environment, so the host's pydantic_core
stands in for the arm64 one), twice: without bytecode, as the plain ``python3.11`` build method
shipped them, and with the ``unchecked-hash`` bytecode our Makefiles now ship. Each probe is a
fresh ``python -S -B`` whose ``sys.path`` is the function folder plus the layer, like Lambda's,
and that writes no bytecode (Lambda's ``/opt`` and ``/var/task`` are read-only).

For every function it prints:
- the time to import its handler, as a ratio to ``import boto3`` from the same layer with bytecode
  (interleaved runs, median and min);
- its *library floor*: a fresh process that imports every non-hub module the handler loads, in
  the order it loads them, and none of the hub's own code. The difference is the hub's own share.
- with ``--instructions``: the same ratios in instructions counted by valgrind (callgrind), which
  do not depend on what else the machine is doing (system calls are not counted);
- a cold request: the import plus the first invocation (which imports boto3 and makes the clients)
  on a committed event from events/, with AWS played by a moto server on 127.0.0.1; then the next,
  warm invocation. With bytecode it is measured twice: tracing off (the Tracing parameter's default,
  POWERTOOLS_TRACE_DISABLED=true: no X-Ray SDK is imported) and tracing on (=false, as Tracing=Enabled
  sets it, in a Lambda-like environment with a sampled trace header: Powertools Tracer imports the
  X-Ray SDK on the first invocation, patches boto3 and requests, and sends its segments over UDP to
  127.0.0.1:2000, where no daemon listens), and a line per function prints what tracing adds.

    python -m benchmarks.coldstart [--runs 11] [--instructions] [--invocation-runs 5]
                                   [--functions orders_api ...] [--skip-imports]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack.template import function_specs, load_template, local_table_names

ROOT = Path(__file__).resolve().parent.parent
LAYER_SOURCE = ROOT / "layers" / "shared"
OWN_PREFIXES = ("order_hub", "app")

COMPILE = ("-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash")
"""How layers/shared/Makefile and functions/Makefile compile what they ship."""

TIME_PROBE = (
    "import sys; sys.path[:0] = {path!r}; import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
)
MODULES_PROBE = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = {path!r}
    loaded = set(sys.modules)
    import app
    own = {own!r}
    def importable(name):  # aliases such as typing.io have no spec of their own
        spec = getattr(sys.modules[name], "__spec__", None)
        return spec is not None and spec.name == name
    def library(name):  # third-party: the standard library they need comes with them
        top = name.split(".")[0]
        return top not in own and top not in sys.stdlib_module_names and not top.startswith("_")
    print(json.dumps([m for m in list(sys.modules) if m not in loaded and library(m) and importable(m)]))
    """
)

REQUEST_PROBE = textwrap.dedent(
    """
    import json, sys, time
    sys.path[:0] = {path!r}
    class Context:  # what Powertools and the handlers read of a Lambda context
        function_name, function_version, memory_limit_in_mb = "{name}", "$LATEST", 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:{name}"
        aws_request_id, log_group_name, log_stream_name = "bench", "/aws/lambda/{name}", "bench"
        def get_remaining_time_in_millis(self):
            return 60_000
    first_event, next_event = json.load(open({events!r}))
    t0 = time.perf_counter()
    import app
    t1 = time.perf_counter()
    answer = app.lambda_handler(first_event, Context())
    t2 = time.perf_counter()
    if {warm!r}:
        app.lambda_handler(next_event, Context())
    t3 = time.perf_counter()
    status = answer.get("statusCode", 200) if isinstance(answer, dict) else 200
    assert status < 500, answer
    print(json.dumps({{"import": t1 - t0, "first_call": t2 - t1, "warm_call": t3 - t2}}))
    """
)


@dataclass(frozen=True)
class Layout:
    """One copy of what Lambda would see: the layer's python/ folder and each function's folder."""

    layer: Path
    functions: dict[str, Path]

    def path(self, function: str | None = None) -> list[str]:
        return [str(self.functions[function]), str(self.layer)] if function else [str(self.layer)]


def _requirement_names(lines: Sequence[str]) -> list[str]:
    return [re.split(r"[\s<>=!~;\[]", line.strip(), maxsplit=1)[0] for line in lines if line.strip() and not line.startswith("#")]


def _distributions() -> Iterator[importlib.metadata.Distribution]:
    """The layer's requirements and everything they require (extras excluded), as installed here."""
    from packaging.requirements import Requirement

    pending = _requirement_names((LAYER_SOURCE / "requirements.txt").read_text().splitlines())
    seen: set[str] = set()
    while pending:
        name = pending.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        distribution = importlib.metadata.distribution(name)
        yield distribution
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)


def build_layout(root: Path, names: Sequence[str], *, bytecode: bool) -> Layout:
    layer = root / "layer" / "python"
    for distribution in _distributions():
        for file in distribution.files or []:
            source = Path(str(distribution.locate_file(file)))
            if file.parts[0] == ".." or "__pycache__" in file.parts or not source.is_file():
                continue
            target = layer / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    shutil.copytree(LAYER_SOURCE / "order_hub", layer / "order_hub", ignore=shutil.ignore_patterns("__pycache__"))
    functions: dict[str, Path] = {}
    for name in names:
        folder = root / "functions" / name
        folder.mkdir(parents=True)
        shutil.copy2(ROOT / "functions" / name / "app.py", folder / "app.py")
        functions[name] = folder
    if bytecode:
        subprocess.run([sys.executable, *COMPILE, str(root)], check=True, capture_output=True)
    return Layout(layer, functions)


def _python(code: str) -> list[str]:
    return [sys.executable, "-S", "-B", "-c", code]  # no site-packages, nothing written


def _run(command: list[str], **kwargs: Any) -> str:
    out = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if out.returncode:
        raise SystemExit(f"probe failed: {out.stderr.strip().splitlines()[-1:]}")
    return out.stdout


def _time(path: list[str], statement: str) -> float:
    return float(_run(_python(TIME_PROBE.format(path=path, statement=statement))).strip().splitlines()[-1])


def _count(command: list[str], environment: dict[str, str] | None = None) -> int:
    """Instructions the command executes (valgrind's callgrind), with a fixed hash seed."""
    environment = {**(environment or {"PATH": "/usr/bin:/bin"}), "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        capture_output=True,
        text=True,
        env=environment,
    )
    if out.returncode:
        raise SystemExit(f"probe failed: {out.stderr.strip().splitlines()[-1:]}")
    return int(re.findall(r"Collected : (\d+)", out.stderr)[-1])


def _instructions(path: list[str], statement: str) -> int:
    return _count(_python(f"import sys; sys.path[:0] = {path!r}; {statement}"))


def library_floor(layout: Layout, name: str) -> str:
    """A statement importing every third-party module the handler loads, in load order (the standard
    library modules they need come with them; the few the hub's code alone needs count as its own)."""
    modules = json.loads(_run(_python(MODULES_PROBE.format(path=layout.path(name), own=OWN_PREFIXES))).strip().splitlines()[-1])
    return f"import importlib; [importlib.import_module(module) for module in {modules!r}]"


def _cell(values: list[float], base: float) -> str:
    median = statistics.median(values)
    return f"{median * 1000:6.1f} ms ({min(values) * 1000:5.1f}) {median / base:5.2f}x"


def _print_times(names: list[str], samples: dict[str, list[float]], runs: int) -> None:
    base = statistics.median(samples["boto3"])
    print(f"cold import, fresh `python -S -B` with Lambda's sys.path; median of {runs} (min),")
    print("ratio of the median to `import boto3` with bytecode:")
    print(f"  {'':16s} {'no bytecode (sam build before)':30s} {'bytecode (shipped now)':30s} its libraries alone")
    print(f"  {'import boto3':16s} {_cell(samples['boto3 plain'], base):30s} {_cell(samples['boto3'], base):30s}")
    for name in names:
        row = [_cell(samples[key], base) for key in (f"{name} plain", name, f"{name} floor")]
        print(f"  {name:16s} {row[0]:30s} {row[1]:30s} {row[2]}")


def _print_instructions(names: list[str], probes: dict[str, tuple[Layout, str | None, str]]) -> None:
    jobs = {"pass": (probes["boto3"][0], None, "pass"), "boto3": probes["boto3"]}
    jobs.update({key: probes[key] for name in names for key in (name, f"{name} floor")})
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: _instructions(job[0].path(job[1]), job[2]), jobs.values()), strict=True))
    start = counts["pass"]  # the interpreter's own start, common to every probe
    boto3 = counts["boto3"] - start
    print(f"instructions (valgrind) with bytecode, the interpreter's start ({start / 1e6:.0f} M) subtracted;")
    print(f"ratio to `import boto3` ({boto3 / 1e6:.0f} M):")
    for name in names:
        own, floor = counts[name] - start, counts[f"{name} floor"] - start
        print(
            f"  {name:16s} {own / 1e6:5.0f} M {own / boto3:5.2f}x   libraries alone {floor / 1e6:5.0f} M {floor / boto3:5.2f}x"
            f"   the hub's own code {(own - floor) / boto3:+.2f}x"
        )


class RequestBench:
    """A moto server on 127.0.0.1 with the tables, queues, a tenant and its secrets, and an event pair
    (first, next) per function, so a probe process does nothing but what Lambda would do."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.environment = {
            **os.environ,
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_MAX_ATTEMPTS": "1",
            "AUTH_CACHE_TTL_SECONDS": "60",
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "HUB_ENV": "local",
        }
        saved = dict(os.environ)
        os.environ.update(self.environment)
        try:
            from local_stack.harness import build_tables, put_secret, seed_tenant

            build_tables()  # into os.environ, where the hub's settings are read from
            self.key = seed_tenant("demo", ["WH-TGR04"])
            put_secret("hub/demo/wms-webhook", {"hmac_secret": "bench"})
            self.environment = dict(os.environ)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.count = 0

    def events(self, name: str) -> list[dict[str, Any]]:
        from local_stack.harness import api_event, load_event, signed_webhook_event

        self.count += 1
        if name == "orders_api":  # a new order each time: a create, not an idempotent replay
            body = json.loads(load_event("orders_api/create_order")["body"])
            return [api_event("orders_api/create_order", self.key, {**body, "so_number": f"CS-{self.count}-{n}"}) for n in (1, 2)]
        if name == "admin_api":
            return [api_event("admin_api/list_endpoints", self.key)] * 2
        if name == "portal":  # a login link that was used before: the token's conditional write, a rendered page
            page = api_event("admin_api/list_endpoints", None, query={"token": "demo." + "x" * 43})
            page.update(path="/portal/login", resource="/portal/{proxy+}")
            return [page] * 2
        if name == "webhook_ingest":
            return [signed_webhook_event("webhook_ingest/pgi", "bench")] * 2
        event = {"dispatcher": "order_created", "wms_forwarder": "forward_order", "delivery_worker": "deliver"}.get(
            name, "scheduled"
        )
        return [load_event(f"{name}/{event}")] * 2

    def _code(self, layout: Layout, name: str, scratch: Path, warm: bool) -> str:
        events = scratch / f"{name}.json"
        events.write_text(json.dumps(self.events(name)))
        return REQUEST_PROBE.format(path=layout.path(name), name=name, events=str(events), warm=warm)

    def tracing_environment(self, layout: Layout, name: str, tracing: bool) -> dict[str, str]:
        """The process environment with tracing off, or on as Lambda runs a sampled, traced request."""
        if not tracing:
            return {**self.environment, "POWERTOOLS_TRACE_DISABLED": "true"}
        return {
            **self.environment,
            "POWERTOOLS_TRACE_DISABLED": "false",
            "LAMBDA_TASK_ROOT": str(layout.functions[name]),  # the X-Ray SDK's sign that it runs in Lambda
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "_X_AMZN_TRACE_ID": "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        }

    def probe(self, layout: Layout, name: str, scratch: Path, tracing: bool = False) -> dict[str, float]:
        environment = self.tracing_environment(layout, name, tracing)
        return json.loads(_run(_python(self._code(layout, name, scratch, warm=True)), env=environment).strip().splitlines()[-1])

    def instructions(self, layout: Layout, name: str, scratch: Path, tracing: bool = False) -> int:
        """Instructions of a whole process that imports the handler and serves one request."""
        return _count(_python(self._code(layout, name, scratch, warm=False)), self.tracing_environment(layout, name, tracing))

    def stop(self) -> None:
        self.server.stop()


def _print_requests(
    names: list[str], layouts: dict[str, tuple[Layout, bool]], runs: int, scratch: Path, instructions: bool
) -> None:
    """``layouts``: variant name -> (layout, tracing on)."""
    print(
        f"a cold request in a fresh `python -S -B` with Lambda's sys.path (AWS = a moto server on 127.0.0.1), median of {runs}:"
    )
    print("import + first invocation (boto3 is imported and clients made on first use) = cold request; then the next one")
    bench = RequestBench()
    try:
        samples: dict[tuple[str, str], list[dict[str, float]]] = {(v, n): [] for v in layouts for n in names}
        for _ in range(runs):  # interleaved, like the imports
            for name in names:
                for variant, (layout, tracing) in layouts.items():
                    samples[(variant, name)].append(bench.probe(layout, name, scratch, tracing))
        if instructions:
            jobs = [(name, tracing) for name in names for tracing in (False, True)]
            with ThreadPoolExecutor(max_workers=2) as pool:
                counts = dict(
                    zip(
                        jobs,
                        pool.map(lambda job: bench.instructions(layouts["bytecode"][0], job[0], scratch, job[1]), jobs),
                        strict=True,
                    )
                )
    finally:
        bench.stop()
    cold: dict[tuple[str, str], float] = {}
    for (variant, name), figures in samples.items():
        imported, first, warm = (
            statistics.median(f[key] for f in figures) * 1000 for key in ("import", "first_call", "warm_call")
        )
        total = cold[(variant, name)] = statistics.median(f["import"] + f["first_call"] for f in figures) * 1000
        print(
            f"  {name:16s} {variant:18s} import {imported:6.1f} ms + first {first:6.1f} ms = {total:6.1f} ms; next {warm:5.1f} ms"
        )
    if "tracing on" in layouts:
        print("cold request with bytecode, tracing off -> on (the Tracing parameter):")
        for name in names:
            off, on = cold[("bytecode", name)], cold[("tracing on", name)]
            print(f"  {name:16s} off {off:6.1f} ms   on {on:6.1f} ms   tracing adds {on - off:+6.1f} ms")
    if instructions:
        print("instructions (valgrind) of a whole process that imports the handler and serves one cold request, bytecode,")
        print("tracing off -> on (these do not depend on the machine's load):")
        for name in names:
            off, on = counts[(name, False)], counts[(name, True)]
            added = f"{(on - off) / 1e6:+5.0f} M ({on / off - 1:+.0%})"
            print(f"  {name:16s} off {off / 1e6:6.0f} M   on {on / 1e6:6.0f} M   tracing adds {added}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--instructions", action="store_true", help="also count instructions with valgrind (slow)")
    parser.add_argument(
        "--invocation-runs", type=int, default=5, help="fresh processes per function for the invocations (0: none)"
    )
    parser.add_argument("--functions", nargs="+", metavar="NAME", help="only these functions (e.g. orders_api)")
    parser.add_argument("--skip-imports", action="store_true", help="only the cold requests (tracing off and on)")
    args = parser.parse_args(argv)
    template = load_template()
    specs = function_specs(template, local_table_names(template), {}, resolve_environment=False)
    names = [spec.module.split(".")[1] for spec in specs]
    if args.functions:
        unknown = sorted(set(args.functions) - set(names))
        if unknown:
            parser.error(f"unknown function(s) {unknown}; choose from {names}")
        names = [name for name in names if name in args.functions]
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        plain = build_layout(Path(scratch) / "plain", names, bytecode=False)
        compiled = build_layout(Path(scratch) / "compiled", names, bytecode=True)
        if not args.skip_imports:
            probes: dict[str, tuple[Layout, str | None, str]] = {
                "boto3 plain": (plain, None, "import boto3"),
                "boto3": (compiled, None, "import boto3"),
            }
            for name in names:
                probes[f"{name} plain"] = (plain, name, "import app")
                probes[name] = (compiled, name, "import app")
                probes[f"{name} floor"] = (compiled, name, library_floor(compiled, name))
            samples: dict[str, list[float]] = {key: [] for key in probes}
            for _ in range(args.runs):  # interleaved, so machine noise hits every probe alike
                for key, (layout, function, statement) in probes.items():
                    samples[key].append(_time(layout.path(function), statement))
            _print_times(names, samples, args.runs)
            if args.instructions:
                _print_instructions(names, probes)
        if args.invocation_runs:
            layouts = {"no bytecode": (plain, False), "bytecode": (compiled, False), "tracing on": (compiled, True)}
            _print_requests(names, layouts, args.invocation_runs, Path(scratch), args.instructions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
