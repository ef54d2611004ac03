"""Soak: N orders through the whole local stack, then check that nothing was lost or doubled.

Starts ``python -m local_stack`` (own state folder, a fresh port, the WMS simulator's clock on and
every simulator webhook sent twice) and drives N orders from C concurrent clients: each create is
answered, and a share of them is replayed (same body) alongside by another pool. The simulator
forwards them through its statuses and sends the confirmation and PGI webhooks (duplicated); the
hub delivers callbacks to the demo receiver. At the end it checks every acknowledged order: listed
exactly once and CLOSED, and each callback format received as many events for it as for a probe
order sent first. Prints lost, duplicated, 5xx, undelivered, peak RSS of the stack process.

    python -m benchmarks.soak [--orders 5000] [--clients 8] [--replay-ratio 0.25] [--timeout 3600]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
OMS = "/v3/fulfillment/outbound/oms"
WAREHOUSE = "WH-TGR04"
FORMATS = ("shipper", "increff", "unicommerce", "standard")


@dataclass
class SoakResult:
    orders: int
    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)  # acknowledged, but missing or not CLOSED
    duplicated: list[str] = field(default_factory=list)  # created twice or listed more than once
    server_errors: int = 0  # 5xx answers of the hub
    undelivered: list[str] = field(default_factory=list)  # fewer callbacks than the probe order got
    peak_rss_mb: float = 0.0
    seconds: float = 0.0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    rss_curve: list[tuple[float, int, float]] = field(default_factory=list)  # (seconds, acknowledged, RSS MB)
    settled_at: float | None = None  # seconds: every order closed and delivered (the idle time starts)

    def idle_growth_mb(self) -> float:
        """How much the stack's RSS grew while it stood idle after the orders settled (0 without samples)."""
        if self.settled_at is None:
            return 0.0
        idle = [rss for seconds, _, rss in self.rss_curve if seconds > self.settled_at]
        return idle[-1] - idle[0] if len(idle) > 1 else 0.0

    def summary(self) -> str:
        return (
            f"orders {self.orders}  acknowledged {self.acknowledged}  lost {len(self.lost)}  "
            f"duplicated {len(self.duplicated)}  5xx {self.server_errors}  undelivered {len(self.undelivered)}  "
            f"peak RSS {self.peak_rss_mb:.0f} MB  in {self.seconds:.0f} s  "
            f"({self.acknowledged / max(self.seconds, 1e-9):.2f} orders/s, {self.requests} hub requests)"
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def order_body(so_number: str) -> dict[str, Any]:
    event = json.loads((REPO_ROOT / "events" / "orders_api" / "create_order.json").read_text())
    body: dict[str, Any] = json.loads(event["body"])
    body["so_number"] = so_number
    body["ext"] = {  # what the Increff and Unicommerce formats need
        "consignee_state_code": "JK",
        "consignee_country_code": "ID",
        "invoice": {"number": f"INV-{so_number}", "date": "2026-11-23"},
    }
    for item in body["items"]:
        item["ext"] = {"hsn_code": "61091000", "tax_lines": [{"type": "IGST", "rate": 11, "per_unit": 1000, "total": 1000}]}
    return body


def order_of(record: dict[str, Any]) -> str | None:
    """The order a received callback is about, in each format's own field."""
    body = record.get("json")
    if not isinstance(body, dict):
        return None
    if record.get("format") == "standard":
        data = body.get("data")
        return str(data["order_no"]) if isinstance(data, dict) and isinstance(data.get("order_no"), str) else None
    for key in ("doc_no", "orderCode", "saleOrderID", "order_no"):
        if isinstance(body.get(key), str):
            return str(body[key])
    return None


def _status_mb(pid: int, field_name: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """The process's resident set now (VmRSS), in MB."""
    return _status_mb(pid, "VmRSS")


class Progress:
    """One self-rewriting status line on stderr."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.plain = enabled and not self.enabled
        self._last = 0.0

    def show(self, text: str, final: bool = False) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K" + text + ("\n" if final else ""))
            sys.stderr.flush()
        elif self.plain and (final or time.monotonic() - self._last > 10):
            self._last = time.monotonic()
            print(text, file=sys.stderr, flush=True)


def bar(done: int, total: int, width: int = 24) -> str:
    filled = width * done // max(total, 1)
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


class Soak:
    def __init__(
        self,
        orders: int,
        clients: int,
        replay_ratio: float,
        timeout: float,
        clock_ms: int,
        progress: bool,
        idle_seconds: float = 0.0,
    ) -> None:
        self.orders = orders
        self.idle_seconds = idle_seconds
        self.clients = clients
        self.replay_ratio = replay_ratio
        self.timeout = timeout
        self.clock_ms = clock_ms
        self.progress = Progress(progress)
        self.result = SoakResult(orders=orders)
        self._lock = threading.Lock()
        self._local = threading.local()
        self.created: Counter[str] = Counter()  # so_number -> answers "created" (not a replay)
        self.acknowledged: set[str] = set()
        self.delivered: dict[str, Counter[str]] = defaultdict(Counter)  # format -> order -> accepted callbacks
        self._received_since = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    # -- the stack ------------------------------------------------------------------------------
    def start_stack(self, workdir: Path) -> None:
        port = free_port()
        state_dir = workdir / "state"
        environment = {k: v for k, v in os.environ.items() if k not in ("HUB_PORT", "AWS_ENDPOINT_URL", "HUB_SCHEDULE_SECONDS")}
        environment.update(PYTHONUNBUFFERED="1", POWERTOOLS_LOG_LEVEL="WARNING")
        command = [
            sys.executable,
            "-m",
            "local_stack",
            "--port",
            str(port),
            "--state-dir",
            str(state_dir),
            "--fresh",
            "--quiet",
            "--param",
            "WmsRetryBackoffSeconds=1,1,2",
            "--param",
            "DeliveryRetrySchedule=1,1,2",
            "--wms-clock-ms",
            str(self.clock_ms),
            "--poll-seconds",
            "10",
        ]
        workdir.mkdir(parents=True, exist_ok=True)  # --workdir may name a folder that does not exist yet
        self._log = (workdir / "stack.log").open("wb")
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=environment)
        state_file = state_dir / "stack.json"
        deadline = time.monotonic() + 90
        while not state_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local stack did not start; see {workdir / 'stack.log'}")
            time.sleep(0.2)
        self.info = json.loads(state_file.read_text())
        self.log_path = workdir / "stack.log"

    def stop_stack(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.result.peak_rss_mb = max(self.result.peak_rss_mb, peak_rss_mb(self.process.pid))
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)

    # -- HTTP -----------------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def hub(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"x-api-key": self.info["api_key"], **kwargs.pop("headers", {})}
        for attempt in itertools.count():
            try:
                response = self._session().request(method, self.info["api_url"] + path, headers=headers, timeout=60, **kwargs)
                break
            except requests.ConnectionError:
                if attempt >= 3:
                    raise
                time.sleep(0.5)
        with self._lock:
            self.result.requests += 1
            self.result.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.result.server_errors += 1
        return response

    def control(self, base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._session().request(method, base + path, json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    # -- driving --------------------------------------------------------------------------------
    def create(self, so_number: str) -> None:
        response = self.hub("POST", OMS, json=order_body(so_number))
        if response.status_code == 200:
            with self._lock:
                self.acknowledged.add(so_number)
                if response.headers.get("x-idempotent-replay") == "false":
                    self.created[so_number] += 1

    def collect_callbacks(self) -> None:
        """Read what the demo receiver got since the last call (it keeps the last 10,000 only)."""
        url = self.info["demo_receiver"]["url"]
        page = self.control(url, "GET", f"/_demo/received?kind=event&outcome=accepted&since={self._received_since}")
        for record in page["received"]:
            order = order_of(record)
            if order is None:
                continue
            if record["format"] == "standard":  # one event per status change (some coalesce): count the last one
                data = (record.get("json") or {}).get("data") or {}
                if data.get("status") != "CLOSED":
                    continue
            self.delivered[record["format"]][order] += 1
        self._received_since = max([self._received_since, *(int(r["seq"]) for r in page["received"])])

    def closed_count(self) -> int:
        """CLOSED orders, counted page by page: a filtered list's ``total_elements`` is exact only up to
        the end of the next page (``total_exact: false``), so it cannot stand for the count."""
        closed = 0
        for page in itertools.count(1):
            response = self.hub(
                "GET", "/v3/fulfillment/outbounds/OMS", params={"so_status": "CLOSED", "limit": 100, "page": page}
            )
            if response.status_code != 200:
                return -1
            body = response.json()
            closed += len(body["data"]["outbounds"])
            if body["pagination"]["current_page"] >= body["pagination"]["total_pages"]:
                return closed
        return closed

    def listed(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for page in itertools.count(1):
            response = self.hub("GET", "/v3/fulfillment/outbounds/OMS", params={"limit": 100, "page": page})
            response.raise_for_status()
            outbounds = response.json()["data"]["outbounds"]
            counts.update(f"{o['order_no']}|{o['so_status']}" for o in outbounds)
            if len(outbounds) < 100:
                break
        return counts

    def wait_until(self, check: Callable[[], bool], deadline: float, label: Callable[[], str]) -> bool:
        while time.monotonic() < deadline:
            self.collect_callbacks()
            if check():
                return True
            self.progress.show(label())
            time.sleep(3.0)
        return False

    def sample_rss(self, started: float, stop: threading.Event, every: float = 5.0) -> None:
        """Every few seconds: (elapsed, acknowledged orders, the stack's RSS) into ``result.rss_curve``."""
        assert self.process is not None
        while not stop.wait(every):
            with self._lock:
                done = len(self.acknowledged)
            self.result.rss_curve.append((time.monotonic() - started, done, rss_mb(self.process.pid)))

    def run(self) -> SoakResult:
        started = time.monotonic()
        stop_sampling = threading.Event()
        sampler = threading.Thread(target=self.sample_rss, args=(started, stop_sampling), name="rss", daemon=True)
        sampler.start()
        try:
            return self._run(started)
        finally:
            stop_sampling.set()
            sampler.join(10)

    def _run(self, started: float) -> SoakResult:
        deadline = started + self.timeout
        sim, receiver = self.info["wms_simulator"]["url"], self.info["demo_receiver"]["url"]
        # A probe order first: how many callbacks one order's lifecycle brings per format.
        probe = f"SOAK-PROBE-{random.randrange(16**8):08X}"
        self.create(probe)
        self.wait_until(lambda: self.closed_count() >= 1, deadline, lambda: f"soak: probe order {probe}...")
        time.sleep(3)  # late callbacks of the probe
        self.collect_callbacks()
        expected = {fmt: self.delivered[fmt][probe] for fmt in FORMATS if self.delivered[fmt][probe]}
        self.control(sim, "POST", "/_sim/webhooks", {"duplicate": True})  # every signed webhook twice

        numbers = [f"SOAK-{n:06d}-{random.randrange(16**4):04X}" for n in range(self.orders)]
        clients = ThreadPoolExecutor(self.clients, thread_name_prefix="client")
        replays = ThreadPoolExecutor(2, thread_name_prefix="replay")
        with clients, replays:
            futures = []
            for so_number in numbers:
                futures.append(clients.submit(self.create, so_number))
                if random.random() < self.replay_ratio:  # the same create again, alongside
                    futures.append(replays.submit(self.create, so_number))
            for index, future in enumerate(futures, 1):
                future.result()
                if index % 50 == 0:
                    with self._lock:
                        done = len(self.acknowledged)
                    self.progress.show(f"soak: creating {bar(done, self.orders + 1)}  5xx {self.result.server_errors}")
                    if index % 500 == 0:
                        self.collect_callbacks()
        total = len(self.acknowledged)
        closed_now = [0]
        listed_at = [time.monotonic()]

        def finished() -> bool:
            # Listing every order to count the CLOSED ones cost the stack a quarter of its CPU while the
            # orders closed: the callbacks (incremental) tell when everything may be done, and the list
            # is read then, or now and again for the progress line.
            delivered = self._delivered_enough(expected, numbers)
            if delivered or time.monotonic() - listed_at[0] >= max(30.0, self.orders / 50):
                closed_now[0] = self.closed_count()
                listed_at[0] = time.monotonic()
            return delivered and closed_now[0] >= total

        self.wait_until(
            finished,
            deadline,
            lambda: (
                f"soak: closing {bar(max(0, closed_now[0]), total)}  delivered {self._delivered_count(expected)}/{total}"
                f"  5xx {self.result.server_errors}"
            ),
        )
        time.sleep(2)
        self.collect_callbacks()
        self.control(sim, "POST", "/_sim/webhooks", {"duplicate": False})
        self.result.settled_at = time.monotonic() - started
        if self.idle_seconds:  # the orders have settled: memory should stay where it is
            self.progress.show(f"soak: idle {self.idle_seconds:.0f} s")
            time.sleep(self.idle_seconds)
        listed = self.listed()
        by_order: Counter[str] = Counter(key.split("|")[0] for key in listed)
        closed = {key.split("|")[0] for key in listed if key.endswith("|CLOSED")}
        result = self.result
        result.acknowledged = total
        result.lost = sorted(so for so in self.acknowledged if so not in closed or by_order[so] == 0)
        result.duplicated = sorted(
            {so for so, count in self.created.items() if count > 1} | {so for so, count in by_order.items() if count > 1}
        )
        result.undelivered = sorted(
            so for so in self.acknowledged if any(self.delivered[fmt][so] < count for fmt, count in expected.items())
        )
        result.seconds = time.monotonic() - started
        assert self.process is not None
        result.peak_rss_mb = peak_rss_mb(self.process.pid)
        self.progress.show(f"soak: done {bar(len(closed & self.acknowledged), total)}", final=True)
        del receiver
        return result

    def _delivered_count(self, expected: dict[str, int]) -> int:
        return sum(1 for so in self.acknowledged if all(self.delivered[fmt][so] >= count for fmt, count in expected.items()))

    def _delivered_enough(self, expected: dict[str, int], numbers: list[str]) -> bool:
        return all(
            self.delivered[fmt][so] >= count for fmt, count in expected.items() for so in numbers if so in self.acknowledged
        )


def rss_curve_text(result: SoakResult, points: int = 10) -> str:
    """The stack's RSS at each tenth of the orders acknowledged, then while they closed and at the end."""
    curve = result.rss_curve
    if not curve:
        return "no samples"
    marks: list[str] = []
    step = max(1, result.orders // points)
    next_mark = step
    creating_done = len(curve)
    for index, (_, done, rss) in enumerate(curve):
        if done >= next_mark:
            marks.append(f"{done}: {rss:.0f}")
            next_mark = (done // step + 1) * step
        if done >= result.acknowledged and creating_done == len(curve):
            creating_done = index
    settled = result.settled_at if result.settled_at is not None else curve[-1][0]
    closing = [sample for sample in curve[creating_done:] if sample[0] <= settled]
    idle = [sample for sample in curve if sample[0] > settled]
    if closing:
        marks.append(f"closing (+{closing[-1][0] - closing[0][0]:.0f} s): {max(rss for _, _, rss in closing):.0f} max")
    if idle:
        marks.append(f"idle {idle[0][2]:.0f} -> {idle[-1][2]:.0f} over {idle[-1][0] - idle[0][0]:.0f} s")
    return "MB at orders acknowledged  " + ", ".join(marks)


def run_soak(
    orders: int,
    clients: int = 8,
    replay_ratio: float = 0.25,
    timeout: float = 3600,
    clock_ms: int = 250,
    progress: bool = True,
    workdir: Path | None = None,
    idle_seconds: float = 0.0,
) -> SoakResult:
    """Start a stack, soak it, stop it; the figures."""
    with tempfile.TemporaryDirectory(prefix="soak-") as temporary:
        soak = Soak(orders, clients, replay_ratio, timeout, clock_ms, progress, idle_seconds)
        soak.start_stack(workdir or Path(temporary))
        try:
            return soak.run()
        finally:
            soak.stop_stack()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--replay-ratio", type=float, default=0.25, help="share of creates sent twice (default 0.25)")
    parser.add_argument("--timeout", type=float, default=3600, help="give up waiting after this many seconds")
    parser.add_argument("--clock-ms", type=int, default=250, help="the WMS simulator's step interval")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the stack's log and state here")
    parser.add_argument(
        "--idle", type=float, default=0.0, help="seconds to stay idle after the orders settle (RSS should not grow)"
    )
    args = parser.parse_args(argv)
    result = run_soak(
        args.orders, args.clients, args.replay_ratio, args.timeout, args.clock_ms, workdir=args.workdir, idle_seconds=args.idle
    )
    print(f"soak: {result.summary()}")
    print(f"  RSS: {rss_curve_text(result)}")
    for label, names in (("lost", result.lost), ("duplicated", result.duplicated), ("undelivered", result.undelivered)):
        if names:
            print(f"  {label}: {', '.join(names[:20])}{' ...' if len(names) > 20 else ''}")
    print(f"  hub answers: {dict(sorted(result.statuses.items()))}")
    ok = not (result.lost or result.duplicated or result.server_errors or result.undelivered) and result.peak_rss_mb < 1024
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
