"""The embedded local stack: moto (in-process) + the template's tables and queues + the API + pumps.

``LocalStack.start()`` does everything ``sam local start-api`` plus a deployed stack would give a
developer, without Docker: it binds the API port first (so a busy port fails fast), starts moto's
server on a free loopback port, points the AWS SDK at it through the environment, creates the
template's SQS queues (dead-letter queues first) and DynamoDB tables, exports the functions'
resolved environment, seeds a demo tenant with an API key, starts serving, starts one pump per
DynamoDB stream, SQS and schedule event (``local_stack.pumps``, sharing each function's runtime
with the API), and writes ``<state-dir>/stack.json`` for tools and tests to discover.

State survives a restart (``local_stack.persistence``): the stack holds ``<state-dir>/stack.lock``
while it runs (a second stack on the folder is refused), restores ``<state-dir>/state.json.gz``
(unless ``fresh``) before any function runs, saves it every ``snapshot_seconds`` and on ``stop()``,
and gives the simulator and the demo receiver their saved ports and keys, so that the URLs and
secrets stored in the tables stay valid.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local_stack.apigw import HOST, ApiGateway
from local_stack.docs_site import DocumentedGateway
from local_stack.iam import IamGuard
from local_stack.lambdas import FunctionRuntime
from local_stack.persistence import (
    SNAPSHOT_FILE,
    Snapshot,
    StateLock,
    StateLocked,
    read_snapshot,
    restore,
    take_snapshot,
    write_snapshot,
)
from local_stack.pumps import Invocation, Pumps, build_pumps
from local_stack.template import (
    DEFAULT_REGION,
    FunctionSpec,
    LocalResources,
    api_stage_name,
    create_queues,
    create_tables,
    function_specs,
    load_template,
    local_table_names,
    parameter_values,
    table_stream_arns,
)

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

    from local_stack.demo_receiver import DemoReceiver
    from local_stack.wms_simulator import WmsSimulator

log = logging.getLogger(__name__)

DEFAULT_PORT = 8750
STATE_FILE = "stack.json"
IAM_REPORT_FILE = "iam.json"
TABLE_PREFIX = "hub-local"
QUEUE_PREFIX = "hub-local"
PUMPS_STOP_SECONDS = 3.0  # from the stop request: then batches still in their handler are abandoned

DEMO_TENANT_ID = "demo"
DEMO_TENANT_NAME = "Demo Seller"
DEMO_WAREHOUSES = ("WH-TGR04", "WH-CGK09")

# Process-wide settings for the in-process handlers and the AWS SDK (fake credentials: moto accepts any).
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
# Applied after the functions' template environment: the local stack is not a template stage.
# Functions share this one process, and so would share each secret read: every read goes to
# Secrets Manager, so each function's own policy is what allows it (local_stack.iam).
LOCAL_OVERRIDES = {"HUB_ENV": "local", "SECRETS_CACHE_SECONDS": "0"}


class StackError(RuntimeError):
    """Startup cannot proceed; the message is meant for the user as it is."""


class PortInUse(StackError):
    pass


class StateInUse(StackError):
    """Another local stack holds the state folder."""


# Per table, what its items are called in the banner's "restored" line.
TABLE_LABELS = {"OrdersTable": "order items", "TenantsTable": "tenant items", "DeliveriesTable": "deliveries"}


@dataclass
class StackOptions:
    port: int = DEFAULT_PORT
    state_dir: Path = field(default_factory=lambda: Path.cwd() / ".local")
    parameters: dict[str, str] = field(default_factory=dict)
    template_path: Path | None = None
    seed_demo_tenant: bool = True
    pumps: bool = True  # run the DynamoDB stream, SQS and schedule event sources
    schedule_seconds: float | None = None  # fire every schedule this often instead of its own rate
    wms_simulator: bool = True  # run the WMS simulator as the demo tenant's warehouse
    wms_clock_ms: int = 10_000  # the simulator moves every open order one step this often (0: only on command)
    demo_receiver: bool = True  # run the demo callback receiver with one endpoint per format for the demo tenant
    fresh: bool = False  # ignore the state saved in state_dir (it is replaced on the next snapshot)
    snapshot_seconds: float = 30.0  # save the state this often while running (0: only on stop)


def merge_environments(specs: list[FunctionSpec]) -> dict[str, str]:
    """One process-wide environment for every function; conflicting values are reported, first wins."""
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    for spec in sorted(specs, key=lambda spec: spec.logical_id):
        for name, value in spec.environment.items():
            if name in merged and merged[name] != value:
                log.warning(
                    "%s=%r in %s conflicts with %r from %s; the local stack runs every function in one process, keeping %r",
                    name,
                    value,
                    spec.logical_id,
                    merged[name],
                    owner[name],
                    merged[name],
                )
                continue
            merged.setdefault(name, value)
            owner.setdefault(name, spec.logical_id)
    return merged


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2, sort_keys=True)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class LocalStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.state_file = options.state_dir / STATE_FILE
        self.gateway: ApiGateway | None = None
        self.moto: ThreadedMotoServer | None = None
        self.pumps: Pumps | None = None
        self.simulator: WmsSimulator | None = None
        self.receiver: DemoReceiver | None = None
        self.iam: IamGuard | None = None
        self.wms_key: str | None = None
        self.runtimes: dict[str, FunctionRuntime] = {}
        self.resources = LocalResources()
        self.endpoint: str | None = None
        self.region = DEFAULT_REGION
        self.info: dict[str, Any] = {}
        self.snapshot_path = options.state_dir / SNAPSHOT_FILE
        self.restored: Snapshot | None = None
        self.demo: dict[str, Any] = {}  # keys, ports and secrets of the demo set-up, saved with the state
        self._lock = StateLock(options.state_dir)
        self._snapshotter: threading.Thread | None = None
        self._snapshot_stop = threading.Event()
        self._snapshot_mutex = threading.Lock()

    def start(self) -> dict[str, Any]:
        """Bring everything up and return what ``stack.json`` holds; ``stop()`` undoes it (also on failure)."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> dict[str, Any]:
        try:
            self._lock.acquire()  # before anything: a second stack on this folder must not touch it
        except StateLocked as error:
            raise StateInUse(str(error)) from None
        overrides = self.options.parameters
        template = load_template(self.options.template_path)
        parameter_values(template, overrides)  # validate --param before anything starts
        region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION
        self.region = region
        table_names = local_table_names(template, TABLE_PREFIX)
        # The code and events of every function are known now; their environment needs the queues.
        planned = function_specs(template, table_names, overrides, region=region, resolve_environment=False)
        self.runtimes = {spec.logical_id: FunctionRuntime(spec, region) for spec in planned}

        self.gateway = self._bind_gateway(planned, api_stage_name(template, overrides), region)

        from moto.server import ThreadedMotoServer  # deferred: importing moto takes a while

        from local_stack import moto_patches

        moto_patches.install()  # thread-safe DynamoDB transactions, bounded streams
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
        self.moto = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
        self.moto.start()
        moto_host, moto_port = self.moto.get_host_and_port()
        endpoint = f"http://{moto_host}:{moto_port}"
        self.endpoint = endpoint
        # this process's own AWS calls skip HTTP (the server keeps serving other processes)
        moto_patches.serve_in_process(endpoint, self.moto._server.app)  # type: ignore[union-attr]

        self._export_aws_environment(endpoint, region)
        import boto3

        queues = create_queues(
            boto3.client("sqs", endpoint_url=endpoint, region_name=region),
            template,
            name_prefix=QUEUE_PREFIX,
            parameter_overrides=overrides,
            region=region,
        )
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=region)
        created = create_tables(dynamodb, template, name_prefix=TABLE_PREFIX, parameter_overrides=overrides)
        if created != table_names:  # pragma: no cover - both come from the same template
            raise StackError(f"created tables {created} differ from the names the functions were given {table_names}")
        self.resources = LocalResources(tables=created, stream_arns=table_stream_arns(dynamodb, created), queues=queues)
        # moto allows every call; AWS only what each function's Policies grant (local_stack.iam).
        self.iam = IamGuard(template, TABLE_PREFIX, overrides, on_denial=lambda d: log.error("IAM denied: %s", d)).install()
        specs = function_specs(
            template,
            self.resources.refs(),
            overrides,
            region=region,
            attributes=self.resources.attributes(region),
        )

        for spec in specs:  # same code and events, now with the environment resolved
            self.runtimes[spec.logical_id].spec = spec
        function_env = {**merge_environments(specs), **LOCAL_OVERRIDES}
        os.environ.update(function_env)
        restored = self._restore()
        self.demo = dict(restored.demo) if restored else {}

        api_key: str | None = None
        if self.options.seed_demo_tenant:
            api_key = self.demo.get("api_key") or self._seed_demo_tenant(function_env)
            self.demo["api_key"] = api_key
        simulator_info = self._start_wms_simulator() if self.options.wms_simulator and api_key else {}
        receiver_info = self._start_demo_receiver() if self.options.demo_receiver and api_key else {}

        self.gateway.start()
        pumps: list[str] = []
        if self.options.pumps:
            self.pumps = build_pumps(
                specs, self.runtimes, self.resources, region=region, schedule_seconds=self.options.schedule_seconds
            )
            self.pumps.start()
            pumps = self.pumps.describe()
        self.info = {
            "api_url": self.gateway.url,
            "docs_url": f"{self.gateway.url}/docs",
            "openapi_url": f"{self.gateway.url}/openapi.json",
            "api_key": api_key,
            "portal_url": self._portal_link(self.gateway.url) if api_key else None,
            "tenant_id": DEMO_TENANT_ID,
            "warehouse_ids": list(DEMO_WAREHOUSES),
            "aws_endpoint_url": endpoint,
            "region": region,
            "tables": created,
            "streams": dict(self.resources.stream_arns),
            "queues": {logical_id: {"url": queue.url, "arn": queue.arn} for logical_id, queue in queues.items()},
            "env": function_env,
            "stage": self.gateway.stage,
            "functions": {spec.logical_id: f"{spec.module}.{spec.handler}" for spec in specs},
            "pumps": pumps,
            "pumps_enabled": self.options.pumps,
            "schedule_seconds": self.options.schedule_seconds,
            "pid": os.getpid(),
            "state": {
                "snapshot": str(self.snapshot_path),
                "restored": self._restored_line(),
                "snapshot_seconds": self.options.snapshot_seconds,
            },
            **simulator_info,
            **receiver_info,
        }
        write_json_atomically(self.state_file, self.info)
        self.snapshot()  # what was restored plus the demo set-up, at once
        if self.options.snapshot_seconds > 0:
            self._snapshotter = threading.Thread(target=self._snapshot_loop, name="snapshots", daemon=True)
            self._snapshotter.start()
        for spec in specs:
            for event in spec.other_events:
                log.warning("%s: %s event %s: %s", spec.logical_id, event.type, event.event_id, event.reason)
        return self.info

    def _bind_gateway(self, specs: list[FunctionSpec], stage: str, region: str) -> ApiGateway:
        try:
            return DocumentedGateway(specs, stage=stage, port=self.options.port, region=region, runtimes=self.runtimes)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"port {self.options.port} on {HOST} is already in use "
                    "(another local stack running?); choose another with --port or HUB_PORT"
                ) from None
            raise StackError(f"cannot listen on {HOST}:{self.options.port}: {error.strerror}") from None

    @staticmethod
    def _export_aws_environment(endpoint: str, region: str) -> None:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):  # a profile would win over the fake keys
            os.environ.pop(name, None)
        os.environ.update(FAKE_CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        os.environ.setdefault("AWS_DEFAULT_REGION", region)
        os.environ.setdefault("AWS_REGION", region)
        os.environ["AWS_MAX_ATTEMPTS"] = "2"
        os.environ["HUB_ENV"] = "local"

    @staticmethod
    def _portal_link(api_url: str) -> str:
        """A one-time portal login link for the demo tenant (``hub-admin portal link demo`` makes more)."""
        import time

        from order_hub import wiring
        from order_hub.config import PortalSettings, load
        from order_hub.services import portal_access

        lifetime = load(PortalSettings).PORTAL_LINK_SECONDS
        link = portal_access.issue_link(
            wiring.portal_store(), wiring.tenant_directory(), DEMO_TENANT_ID, int(time.time()), lifetime
        )
        return portal_access.login_url(api_url, link)

    @staticmethod
    def _seed_demo_tenant(function_env: dict[str, str]) -> str:
        from order_hub.adapters.dynamodb import DynamoTenantDirectory
        from order_hub.services.tenants import create_tenant, issue_api_key

        table = function_env.get("TENANTS_TABLE_NAME")
        if not table:
            raise StackError("the functions' environment has no TENANTS_TABLE_NAME; cannot seed the demo tenant")
        directory = DynamoTenantDirectory(table)
        create_tenant(directory, tenant_id=DEMO_TENANT_ID, name=DEMO_TENANT_NAME, warehouse_ids=list(DEMO_WAREHOUSES))
        issued = issue_api_key(directory, tenant_id=DEMO_TENANT_ID)
        return issued.api_key

    def _start_wms_simulator(self) -> dict[str, Any]:
        """The demo tenant's warehouse: the simulator, reached through the tenant's secrets like a real WMS."""
        import secrets

        from local_stack.wms_simulator import TenantConfig, WmsSimulator
        from order_hub.secret_names import webhook_secret_name, wms_secret_name

        assert self.gateway is not None
        saved = self.demo.get("wms") or {}
        wms_key = saved.get("api_key") or f"wmskey-{secrets.token_hex(12)}"
        hmac_secret = saved.get("hmac_secret") or f"whsec-{secrets.token_hex(16)}"
        tenants = {DEMO_TENANT_ID: TenantConfig(api_key=wms_key, webhook_secret=hmac_secret)}
        simulator = self._start_service(
            lambda port: WmsSimulator(port=port, tenants=tenants, hub_url=self.gateway.url if self.gateway else ""),
            saved.get("port", 0),
            "WMS simulator",
        )
        self.simulator = simulator
        if self.restored is not None and self.restored.wms:
            restored = simulator.restore_orders(self.restored.wms)
            log.info("WMS simulator: restored %d order(s)", restored)
        if self.options.wms_clock_ms > 0:
            simulator.set_clock(enabled=True, interval_ms=self.options.wms_clock_ms)
        self.put_secret(wms_secret_name(DEMO_TENANT_ID), {"base_url": simulator.url, "api_key": wms_key})
        self.wms_key = wms_key
        self.put_secret(webhook_secret_name(DEMO_TENANT_ID), {"hmac_secret": hmac_secret})
        from order_hub.secret_names import logistics_secret_name

        logistics = {
            "api_key": saved.get("logistics_api_key") or f"lgkey-{secrets.token_hex(12)}",
            "tracking_url": f"{self.gateway.url}/webhooks/logistics/{DEMO_TENANT_ID}/tracking",
        }
        self.put_secret(logistics_secret_name(DEMO_TENANT_ID), logistics)
        self.demo["wms"] = {
            "port": simulator.port,
            "api_key": wms_key,
            "hmac_secret": hmac_secret,
            "logistics_api_key": logistics["api_key"],
        }
        return {
            "wms_simulator": {"url": simulator.url, "api_key": wms_key, "clock_ms": self.options.wms_clock_ms},
            "webhook_secrets": {DEMO_TENANT_ID: {"hmac_secret": hmac_secret}},
            "logistics_secrets": {DEMO_TENANT_ID: logistics},
            "webhook_urls": {
                "order_confirmation": f"{self.gateway.url}/webhooks/wms/{DEMO_TENANT_ID}/order-confirmation",
                "pgi": f"{self.gateway.url}/webhooks/wms/{DEMO_TENANT_ID}/pgi",
            },
        }

    def _start_demo_receiver(self) -> dict[str, Any]:
        """The demo tenant's client: one receiver playing all four formats, one endpoint per format.

        The standard endpoint requires valid signatures, Increff credentials come from its Get
        Credential URL after a 401, Unicommerce tokens from its token route: every auth path runs.
        """
        import secrets

        from local_stack.demo_receiver import DemoReceiver
        from order_hub import wiring
        from order_hub.rendering.callbacks.standard import new_secret
        from order_hub.services.endpoints import register_endpoint, registration

        saved = self.demo.get("receiver") or {}
        standard_secret = saved.get("standard_secret") or new_secret()
        pos_user, pos_password = "demo-pos", saved.get("pos_password") or f"pos-{secrets.token_hex(8)}"
        receiver = self._start_service(
            lambda port: DemoReceiver(
                port=port,
                standard_secret=standard_secret,
                unicommerce_username=pos_user,
                unicommerce_password=pos_password,
                increff_auth_mode="dynamic",
            ),
            saved.get("port", 0),
            "demo receiver",
        )
        self.receiver = receiver
        self.demo["receiver"] = {"port": receiver.port, "standard_secret": standard_secret, "pos_password": pos_password}
        receiver.configure("standard", require_signature=True)
        urls = receiver.endpoint_urls()
        warehouses = {warehouse: f"LOC-{warehouse}" for warehouse in DEMO_WAREHOUSES}
        channels = {platform: platform.lower() for platform in ("LAZADA", "SHOPEE", "TOKOPEDIA", "TIKTOK", "SHOPIFY", "ERP")}
        ports = wiring.endpoint_ports(write_secret=self.put_secret)
        endpoints: dict[str, dict[str, Any]] = {
            "demo-shipper": {"format": "shipper", "url": urls["shipper"]},
            "demo-increff": {
                "format": "increff",
                "url": urls["increff"],
                "auth": "increff_credential",
                "credential_url": receiver.increff_credential_url,
                "settings": {
                    "partner_code": "DEMO-PARTNER",
                    "partner_location_code": "1",
                    "location_codes": warehouses,
                    "channel_names": channels,
                    "default_country": "ID",  # the demo warehouses are Indonesian
                },
            },
            "demo-unicommerce": {
                "format": "unicommerce",
                "url": urls["unicommerce"],
                "username": pos_user,
                "password": pos_password,
                "settings": {"facility_codes": {w: f"FAC-{w}" for w in DEMO_WAREHOUSES}, "channel_codes": channels},
            },
            "demo-standard": {"format": "standard", "url": urls["standard"], "signing_secret": standard_secret},
        }
        if self.simulator is not None and self.wms_key:  # seed 002 step 7: the PGI goes back to the WMS too
            endpoints["demo-wms-pgi"] = {
                "format": "shipper",
                "url": f"{self.simulator.url}/v3/fulfillment/webhooks/pgi",
                "events": ["order.shipped"],
                "auth": "headers",
                "headers": {"x-api-key": self.wms_key},
                "description": "PGI forwarded to the warehouse (seed 002 step 7)",
            }
        registered = {endpoint.endpoint_id for endpoint in wiring.endpoint_registry().list_endpoints(DEMO_TENANT_ID)}
        for endpoint_id, spec in endpoints.items():
            if endpoint_id in registered:  # restored: same URLs, since the receiver and simulator kept their ports
                continue
            register_endpoint(registration(endpoint_id=endpoint_id, **spec), DEMO_TENANT_ID, ports)
        return {
            "demo_receiver": {
                "url": receiver.url,
                "endpoints": {endpoint_id: spec["url"] for endpoint_id, spec in endpoints.items()},
                "standard_secret": standard_secret,
                "unicommerce": {"username": pos_user, "password": pos_password},
            }
        }

    # -- state across restarts -----------------------------------------------------------------------
    def _restore(self) -> Snapshot | None:
        """Load the saved state into moto (unless --fresh); the snapshot, or None if none was used."""
        if self.options.fresh:
            return None
        try:
            snapshot = read_snapshot(self.snapshot_path)
        except (OSError, ValueError, KeyError) as error:
            raise StackError(
                f"cannot read the saved state {self.snapshot_path}: {error}; start from nothing with --fresh"
            ) from None
        if snapshot is None:
            return None
        restore(self.region, snapshot, self.resources.tables, self._queue_names())
        for name, text in snapshot.secrets.items():
            self._put_secret_text(name, text)
        self.restored = snapshot
        log.info("restored %s from %s", snapshot.describe(TABLE_LABELS), self.snapshot_path)
        return snapshot

    def _restored_line(self) -> str:
        if self.restored is not None:
            saved = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.restored.saved_at))
            return f"{self.restored.describe(TABLE_LABELS)} (saved {saved})"
        return "nothing (--fresh)" if self.options.fresh else "nothing (no saved state)"

    def _queue_names(self) -> dict[str, str]:
        return {logical_id: queue.url.rsplit("/", 1)[-1] for logical_id, queue in self.resources.queues.items()}

    def snapshot(self) -> Snapshot | None:
        """Save moto's state and the demo set-up into the state folder now (atomically)."""
        if self.moto is None:
            return None
        with self._snapshot_mutex:
            started = time.monotonic()
            snapshot = take_snapshot(self.region, self.resources.tables, self._queue_names(), self.demo)
            if self.simulator is not None:  # the warehouse keeps the orders the hub forwarded to it
                snapshot.wms = self.simulator.saved_orders()
            write_snapshot(self.snapshot_path, snapshot)
            log.debug("state saved in %.1f s: %s", time.monotonic() - started, snapshot.describe(TABLE_LABELS))
            return snapshot

    def _snapshot_loop(self) -> None:
        while not self._snapshot_stop.wait(self.options.snapshot_seconds):
            try:
                self.snapshot()
            except Exception:  # pragma: no cover - disk full and the like: keep running, say so
                log.exception("saving the state into %s failed", self.snapshot_path)

    def _start_service(self, build: Callable[[int], Any], port: int, name: str) -> Any:
        """Start a loopback service on its saved port (its URL is stored in endpoints and secrets);
        on a new port if that one is taken."""
        service = build(port)
        try:
            service.start()
        except OSError:
            if not port:
                raise
            log.warning("%s: saved port %d is taken; using a new one (saved URLs pointing at it are stale)", name, port)
            service = build(0)
            service.start()
        return service

    def _put_secret_text(self, name: str, text: str) -> None:
        import boto3

        client = boto3.client("secretsmanager", endpoint_url=self.endpoint, region_name=self.region)
        try:
            client.create_secret(Name=name, SecretString=text)
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=name, SecretString=text)

    def put_secret(self, name: str, value: dict[str, Any]) -> str:
        """Store ``value`` as JSON in Secrets Manager (moto) under ``name``, creating or replacing
        it; return the secret's ARN. Works once moto runs (from inside ``start()`` on)."""
        if self.endpoint is None:
            raise StackError("put_secret needs a running stack (moto is not started)")
        import boto3

        from order_hub.adapters.secrets import store_secret

        return store_secret(boto3.client("secretsmanager", endpoint_url=self.endpoint, region_name=self.region), name, value)

    def fire_schedule(self, logical_id: str, event_id: str | None = None) -> Invocation:
        """Fire a schedule of function ``logical_id`` now, in the calling thread (see ``Pumps.fire``)."""
        if self.pumps is None:
            raise StackError("the pumps are not running (--no-pumps?)")
        return self.pumps.fire(logical_id, event_id)

    def stop(self) -> None:
        """Stop the API and the pumps, save the state, stop the simulator, the receiver and moto;
        remove stack.json and write the IAM report (``iam.json``: calls checked, denials, permissions
        no call needed). Safe to call more than once."""
        self._snapshot_stop.set()
        if self._snapshotter is not None:
            self._snapshotter.join(10)
            self._snapshotter = None
        # The pumps and the API wind down side by side (each waits up to a few seconds for work in
        # flight): one after the other, a busy stack took more than the 5 s a Ctrl-C may take.
        pumps_asked = time.monotonic()
        if self.pumps is not None:
            self.pumps.request_stop()
        if self.gateway is not None:  # no new requests while the last state is taken
            self._timed("API gateway", self.gateway.stop)
            self.gateway = None
        if self.pumps is not None:
            pumps = self.pumps
            left = max(0.1, PUMPS_STOP_SECONDS - (time.monotonic() - pumps_asked))
            self._timed("pumps", lambda: pumps.stop(left))
            self.pumps = None
        if self.info and self.moto is not None:  # started fully: what it holds now is the state to keep
            try:
                self._timed("state snapshot", self.snapshot)
            except Exception:  # pragma: no cover - the periodic snapshot is what is left
                log.exception("saving the state into %s failed", self.snapshot_path)
        if self.simulator is not None:
            self._timed("WMS simulator", self.simulator.stop)
            self.simulator = None
        if self.receiver is not None:
            self._timed("demo receiver", self.receiver.stop)
            self.receiver = None
        if self.moto is not None:
            if self.endpoint:
                from local_stack import moto_patches

                moto_patches.stop_serving_in_process(self.endpoint)
            try:
                self._timed("moto", self.moto.stop)
            except Exception:  # pragma: no cover - best effort during shutdown
                log.exception("stopping moto failed")
            self.moto = None
            self.endpoint = None
        if self.iam is not None:
            self.iam.uninstall()
            write_json_atomically(self.state_file.with_name(IAM_REPORT_FILE), self.iam.report())
            self.iam = None
        if self.info:
            self.state_file.unlink(missing_ok=True)
            self.info = {}
        self._lock.release()

    @staticmethod
    def _timed(name: str, stop: Any) -> None:
        started = time.monotonic()
        stop()
        log.info("stopped %s in %.1f s", name, time.monotonic() - started)


def banner(info: dict[str, Any]) -> str:
    api_url, api_key = info["api_url"], info["api_key"]
    lines = [
        "",
        "outbound order hub - local stack is up",
        f"  API          {api_url}   (stage '{info['stage']}' is not part of the URL)",
        f"  API docs     {api_url}/docs   (OpenAPI: {api_url}/openapi.json)",
        f"  demo tenant  {info['tenant_id']}  warehouses {', '.join(info['warehouse_ids'])}",
        f"  demo API key {api_key}",
        *(
            [f"  portal       {info['portal_url']}", "               (works once; more: hub-admin portal link demo)"]
            if info.get("portal_url")
            else []
        ),
        *(
            [f"  WMS sim      {info['wms_simulator']['url']}  (control: /_sim/orders, /_sim/faults, /_sim/webhooks)"]
            if info.get("wms_simulator")
            else []
        ),
        *(
            [
                f"  callbacks    {info['demo_receiver']['url']}  (demo receiver: /_demo/received, /_demo/stats, /_demo/config)",
                f"               endpoints {', '.join(info['demo_receiver']['endpoints'])}",
            ]
            if info.get("demo_receiver")
            else []
        ),
        f"  AWS endpoint {info['aws_endpoint_url']}  ({info['region']})",
        *(
            [
                f"  state        restored {info['state']['restored']}",
                f"               saved in {info['state']['snapshot']} on stop"
                + (f" and every {info['state']['snapshot_seconds']:g} s" if info["state"]["snapshot_seconds"] else "")
                + " (--fresh: start from nothing)",
            ]
            if info.get("state")
            else []
        ),
        f"  tables       {', '.join(f'{k}={v}' for k, v in info['tables'].items())}",
        f"  pumps        {pumps_line(info)}",
        "",
        "  try:",
        f"    curl -s -H 'x-api-key: {api_key}' '{api_url}/v3/fulfillment/outbounds/OMS'",
        "",
        "  Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def pumps_line(info: dict[str, Any]) -> str:
    if not info.get("pumps_enabled", True):
        return "off (--no-pumps): streams, queues and schedules are not delivered"
    return "; ".join(info.get("pumps") or []) or "none (the template has no stream, queue or schedule events)"


def configure_logging(quiet: bool) -> None:
    """The local stack's own log lines on stderr (the CLI and ``local_stack.invoke``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("local_stack %(levelname)s %(message)s"))
    root = logging.getLogger("local_stack")
    root.addHandler(handler)
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    root.propagate = False


def print_banner(info: dict[str, Any]) -> None:
    print(banner(info), file=sys.stdout, flush=True)
