"""``python -m local_stack``: run the hub locally (moto + tables + queues + API + event pumps) without Docker."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TypeVar

from local_stack import memory_report
from local_stack.stack import DEFAULT_PORT, LocalStack, PortInUse, StackError, StackOptions, configure_logging, print_banner
from local_stack.template import TemplateError

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
M_ARENA_MAX = -8  # glibc mallopt parameter


def _parameter(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected Key=Value, got {text!r}")
    return name, value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < seconds <= 86400:
        raise argparse.ArgumentTypeError(f"seconds out of range (0, 86400]: {text}")
    return seconds


def _from_environment(name: str, parse: Callable[[str], T], default: T) -> T:
    """An environment default, parsed like its flag; a bad value exits 2 with a clear message."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return parse(raw)
    except argparse.ArgumentTypeError as error:
        print(f"local_stack: error: {name}: {error}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def _default_schedule_seconds() -> float | None:
    return _from_environment("HUB_SCHEDULE_SECONDS", _seconds, None)


def _default_port() -> int:
    return _from_environment("HUB_PORT", _port, DEFAULT_PORT)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack",
        description="Run the outbound order hub locally: in-process moto, the template's DynamoDB tables and "
        "SQS queues, its API routes served on 127.0.0.1 (replaces `sam local start-api`; no Docker), and its "
        "DynamoDB stream, SQS and schedule events delivered to the functions as Lambda would.",
    )
    parser.add_argument("--port", type=_port, default=None, help=f"API port (default: $HUB_PORT or {DEFAULT_PORT})")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".local"),
        help="where stack.json, the saved state (state.json.gz) and the lock are kept; one stack per folder (default: ./.local)",
    )
    parser.add_argument(
        "--snapshot-seconds",
        type=float,
        default=30.0,
        metavar="N",
        help="save the state every N seconds while running, besides on stop (0: only on stop; default 30)",
    )
    parser.add_argument(
        "--param",
        dest="params",
        type=_parameter,
        action="append",
        default=[],
        metavar="Key=Value",
        help="template parameter override, repeatable (e.g. --param AuthCacheTtlSeconds=0)",
    )
    parser.add_argument("--template", type=Path, default=None, help="template file (default: the repo's template.yaml)")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start from nothing: ignore and replace the state saved in --state-dir by the last run",
    )
    parser.add_argument("--no-demo-tenant", action="store_true", help="do not create the demo tenant and API key")
    parser.add_argument("--quiet", action="store_true", help="no per-request access log on stderr")
    parser.add_argument(
        "--no-pumps",
        action="store_true",
        help="do not deliver DynamoDB stream, SQS and schedule events (only the API runs)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=_seconds,
        default=None,
        metavar="N",
        help="fire every schedule (e.g. the WMS status poll) every N seconds instead of its rate "
        "(default: $HUB_SCHEDULE_SECONDS, else the template's expression)",
    )
    parser.add_argument("--no-wms-simulator", action="store_true", help="do not run the WMS simulator")
    parser.add_argument(
        "--no-demo-receiver", action="store_true", help="do not run the demo callback receiver (and register no demo endpoints)"
    )
    parser.add_argument(
        "--wms-clock-ms",
        type=int,
        default=int(os.environ.get("HUB_WMS_CLOCK_MS", "10000")),
        metavar="MS",
        help="the WMS simulator moves open orders one step every MS milliseconds; 0 = only on command "
        "(default: $HUB_WMS_CLOCK_MS or 10000)",
    )
    return parser.parse_args(argv)


def _limit_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core), and freed
    memory stays in them: with a thread per connection, the RSS grew without bound while Python's
    own heap stayed flat. Two arenas keep it flat; ``trim_memory`` hands freed pages back."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, 2)


def trim_memory() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _trace_memory(path: Path, every: float, frames: int) -> None:
    """HUB_TRACEMALLOC=N (diagnostics): every N seconds, append to ``path`` the RSS, the traced heap and
    the 25 allocation sites that grew most since the first report, each with its traceback
    (HUB_TRACEMALLOC_FRAMES deep, default 6): what keeps memory, not only where it was allocated."""
    import tracemalloc

    tracemalloc.start(frames)

    def report() -> None:
        baseline: tracemalloc.Snapshot | None = None
        while True:
            time.sleep(every)
            snapshot = tracemalloc.take_snapshot()
            traced = tracemalloc.get_traced_memory()[0] / 1e6
            overhead = tracemalloc.get_tracemalloc_memory() / 1e6
            lines = [
                f"== {time.strftime('%H:%M:%S')} RSS {memory_report.rss_mb():.0f} MB  traced {traced:.0f} MB "
                f"(tracemalloc's own {overhead:.0f} MB)  threads {threading.active_count()}  {memory_report.malloc_summary()}"
            ]
            if baseline is None:
                baseline = snapshot
                stats = snapshot.statistics("traceback")[:25]
                lines.append("(baseline: biggest sites)")
                for stat in stats:
                    lines.append(f"{stat.size / 1e6:8.2f} MB {stat.count:8d}")
                    lines.extend(f"      {frame}" for frame in stat.traceback)
            else:
                for diff in snapshot.compare_to(baseline, "traceback")[:25]:
                    lines.append(f"{diff.size_diff / 1e6:+8.2f} MB {diff.count_diff:+8d}  (now {diff.size / 1e6:.2f} MB)")
                    lines.extend(f"      {frame}" for frame in diff.traceback)
            with path.open("a") as out:
                out.write("\n".join(lines) + "\n")

    threading.Thread(target=report, name="tracemalloc", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    _limit_malloc_arenas()  # before any thread starts
    args = parse_args(argv)
    configure_logging(args.quiet)
    if os.environ.get("HUB_TRACEMALLOC"):
        _trace_memory(
            args.state_dir / "tracemalloc.txt",
            float(os.environ["HUB_TRACEMALLOC"]),
            int(os.environ.get("HUB_TRACEMALLOC_FRAMES") or 6),
        )
    options = StackOptions(
        port=args.port if args.port is not None else _default_port(),
        state_dir=args.state_dir.resolve(),
        parameters=dict(args.params),
        template_path=args.template,
        seed_demo_tenant=not args.no_demo_tenant,
        pumps=not args.no_pumps,
        schedule_seconds=args.poll_seconds if args.poll_seconds is not None else _default_schedule_seconds(),
        wms_simulator=not args.no_wms_simulator,
        demo_receiver=not args.no_demo_receiver,
        wms_clock_ms=max(0, args.wms_clock_ms),
        fresh=args.fresh,
        snapshot_seconds=max(0.0, args.snapshot_seconds),
    )

    # Ctrl-C in `make run` reaches the stack twice (make forwards it to its process group): the
    # handler only records the signal. It takes no lock (an Event would, and a second signal
    # arriving while the main thread holds that lock deadlocks), and stopping happens below, once.
    signals: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    reports: list[int] = []  # SIGUSR1: a memory report into <state-dir>/memory.txt (local_stack.memory_report)
    signal.signal(signal.SIGUSR1, lambda signum, frame: reports.append(signum))

    stack = LocalStack(options)
    try:
        info = stack.start()
    except (PortInUse, TemplateError) as error:
        print(f"local_stack: error: {error}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except StackError as error:
        print(f"local_stack: error: {error}", file=sys.stderr, flush=True)
        return EXIT_FAILED

    try:
        if not signals:
            print_banner(info)
        idle = 0
        while not signals:
            time.sleep(0.1)
            idle += 1
            if idle % 300 == 0:  # every 30 s
                trim_memory()
            if reports:
                reports.clear()
                memory_report.write_report(options.state_dir / "memory.txt")
        print("local_stack: stopping (saving the state)", file=sys.stderr, flush=True)
    finally:
        stack.stop()
        sys.stdout.flush()
    print(f"local_stack: stopped; state saved in {stack.snapshot_path}", file=sys.stderr, flush=True)
    _exit_now(EXIT_OK)
    return EXIT_OK  # not reached


def _exit_now(code: int) -> None:
    """Leave right after a clean stop.

    Everything the stack owns is stopped by then; what may still be alive are library threads
    serving an abandoned request (e.g. a WMS call a pump gave up on), and interpreter shutdown
    hooks could wait on them for a long time. Like Lambda freezing an environment, abandon them.
    """
    left = sorted(t.name for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive())
    if left:
        print(f"local_stack: abandoning thread(s): {', '.join(left)}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
