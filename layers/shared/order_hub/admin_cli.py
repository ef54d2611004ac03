"""hub-admin: manage tenants, API keys, callback endpoints and deliveries.

Against the local stack (reads .local/stack.json for endpoint and table names):
    hub-admin --stack .local/stack.json tenant create acme --name "Acme" --warehouse WH-TGR04
    hub-admin --stack .local/stack.json key create acme          # prints the key once
    hub-admin --stack .local/stack.json key revoke acme <key_id>
    hub-admin endpoint add acme erp --format standard --url https://erp.example.com/hooks   # prints the whsec_ secret once
    hub-admin endpoint add acme pos --format unicommerce --url https://pos.example.com --username u --password p
    hub-admin endpoint add acme omni --format increff --url https://omni.example.com/so --header authUsername=u
    hub-admin endpoint disable acme erp --reason "maintenance"
    hub-admin deliveries failures acme
    hub-admin deliveries replay <delivery_id>
    hub-admin deliveries replay-endpoint acme erp --since 2026-11-01T00:00:00Z [--include-delivered]
    hub-admin deliveries redrive-dlq
    hub-admin portal link acme [--base-url https://api.example.com/Prod]   # a one-time portal login link
Against AWS: set TENANTS_TABLE_NAME, ORDERS_TABLE_NAME, DELIVERIES_TABLE_NAME, DELIVERY_QUEUE_URL and
DELIVERY_DLQ_URL (stack outputs) and the usual AWS credentials.
Output is JSON on stdout; errors go to stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from order_hub.errors import HubError, InvalidInput
from order_hub.services import tenants

DEFAULT_STACK_FILE = Path(".local/stack.json")


def _use_stack_file(path: Path) -> None:
    stack = json.loads(path.read_text())
    os.environ["AWS_ENDPOINT_URL"] = stack["aws_endpoint_url"]
    os.environ["AWS_DEFAULT_REGION"] = stack.get("region", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    os.environ["TENANTS_TABLE_NAME"] = stack["tables"]["TenantsTable"]
    os.environ["ORDERS_TABLE_NAME"] = stack["tables"]["OrdersTable"]
    if "DeliveriesTable" in stack["tables"]:
        os.environ["DELIVERIES_TABLE_NAME"] = stack["tables"]["DeliveriesTable"]
        os.environ["DELIVERY_QUEUE_URL"] = stack["queues"]["DeliveryQueue"]["url"]
        os.environ["DELIVERY_DLQ_URL"] = stack["queues"]["DeliveryDLQ"]["url"]
    os.environ["HUB_ENV"] = "local"
    os.environ.setdefault("HUB_API_URL", stack.get("api_url", ""))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub-admin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", type=Path, help="local stack file (default: .local/stack.json if present)")
    groups = parser.add_subparsers(dest="group", required=True)

    tenant = groups.add_parser("tenant", help="tenants").add_subparsers(dest="action", required=True)
    create = tenant.add_parser("create", help="create a tenant")
    create.add_argument("tenant_id")
    create.add_argument("--name", required=True)
    create.add_argument("--warehouse", action="append", default=[], help="warehouse id (repeatable)")
    show = tenant.add_parser("show", help="show a tenant")
    show.add_argument("tenant_id")
    tracking = tenant.add_parser("require-tracking-id", help="fulfilment-logistics client: create needs tracking_id")
    tracking.add_argument("tenant_id")
    tracking.add_argument("--off", action="store_true", help="no longer require it")
    rate = tenant.add_parser("rate-limit", help="the tenant's own API requests per second (instead of the stack default)")
    rate.add_argument("tenant_id")
    rate.add_argument("limit", help="requests per second (1..10000), or 'default' for TenantRateLimitPerSecond")
    add = tenant.add_parser("add-warehouse", help="allow more warehouses")
    add.add_argument("tenant_id")
    add.add_argument("warehouse", nargs="+")

    key = groups.add_parser("key", help="API keys").add_subparsers(dest="action", required=True)
    for action, text in (("create", "issue a new key"), ("list", "list keys (never the secrets)")):
        sub = key.add_parser(action, help=text)
        sub.add_argument("tenant_id")
    for action, text in (("revoke", "revoke a key"), ("rotate", "issue a new key and revoke this one")):
        sub = key.add_parser(action, help=text)
        sub.add_argument("tenant_id")
        sub.add_argument("key_id")

    endpoint = groups.add_parser("endpoint", help="callback endpoints").add_subparsers(dest="action", required=True)
    add_endpoint = endpoint.add_parser("add", help="register a callback endpoint")
    add_endpoint.add_argument("tenant_id")
    add_endpoint.add_argument("endpoint_id")
    add_endpoint.add_argument("--url", required=True, help="https URL (Unicommerce: the POS base URL)")
    add_endpoint.add_argument("--format", required=True, choices=["shipper", "increff", "unicommerce", "standard"])
    add_endpoint.add_argument("--event", action="append", default=[], help="event type to deliver (repeatable; default all)")
    add_endpoint.add_argument("--auth", help="none, headers, increff_credential, unicommerce_token, standard_webhooks")
    add_endpoint.add_argument("--header", action="append", default=[], help="static header NAME=VALUE (repeatable)")
    add_endpoint.add_argument("--username")
    add_endpoint.add_argument("--password")
    add_endpoint.add_argument("--signing-secret", help="whsec_... (default: generated and printed once)")
    add_endpoint.add_argument("--credential-url", help="Increff Get Credential URL")
    add_endpoint.add_argument("--rate-limit", type=int, help="requests per second")
    add_endpoint.add_argument("--timeout", type=float, default=15.0, help="seconds (at most 45)")
    add_endpoint.add_argument("--settings", help="JSON of format settings (partner codes, location/facility maps...)")
    add_endpoint.add_argument("--description", default="")
    for action, text in (("list", "list a tenant's endpoints"),):
        sub = endpoint.add_parser(action, help=text)
        sub.add_argument("tenant_id")
    for action, text in (("show", "show an endpoint"), ("enable", "enable an endpoint"), ("disable", "disable an endpoint")):
        sub = endpoint.add_parser(action, help=text)
        sub.add_argument("tenant_id")
        sub.add_argument("endpoint_id")
        if action == "disable":
            sub.add_argument("--reason", default="disabled by an operator")

    deliveries = groups.add_parser("deliveries", help="callback deliveries").add_subparsers(dest="action", required=True)
    failures = deliveries.add_parser("failures", help="deliveries that failed or wait for a retry, newest first")
    failures.add_argument("tenant_id")
    failures.add_argument("--limit", type=int, default=50)
    for action, text in (("show", "one delivery with its attempt log"), ("replay", "send one delivery again")):
        sub = deliveries.add_parser(action, help=text)
        sub.add_argument("delivery_id")
    since = deliveries.add_parser("replay-endpoint", help="send an endpoint's deliveries since a time again")
    since.add_argument("tenant_id")
    since.add_argument("endpoint_id")
    since.add_argument("--since", required=True, help="ISO 8601 time, e.g. 2026-11-01T00:00:00Z")
    since.add_argument("--include-delivered", action="store_true", help="also resend deliveries that succeeded")
    deliveries.add_parser(
        "redrive-dlq", help="move each DLQ message back to the delivery queue once (delivered ones skipped); moved/skipped/failed"
    )
    portal = groups.add_parser("portal", help="the tenant portal").add_subparsers(dest="action", required=True)
    link = portal.add_parser("link", help="a one-time login link to the tenant's portal: {url, expires_at}")
    link.add_argument("tenant_id")
    link.add_argument("--base-url", help="the API's URL (default: HUB_API_URL, or the local stack's api_url)")
    return parser


def _headers(pairs: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"header '{pair}' must be NAME=VALUE", field="header")
        headers[name.strip()] = value
    return headers


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidInput(f"'{text}' is not an ISO 8601 time", field="since") from error
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def run_delivery_command(args: argparse.Namespace) -> Any:
    from order_hub import wiring
    from order_hub.services import endpoints, replays
    from order_hub.services.replays import delivery_summary

    now = datetime.now(UTC)
    registry = wiring.endpoint_registry()
    match (args.group, args.action):
        case ("endpoint", "add"):
            settings = json.loads(args.settings) if args.settings else None
            request = endpoints.registration(
                endpoint_id=args.endpoint_id,
                url=args.url,
                format=args.format,
                events=args.event,
                auth=args.auth,
                headers=_headers(args.header),
                username=args.username,
                password=args.password,
                signing_secret=args.signing_secret,
                credential_url=args.credential_url,
                rate_limit_per_second=args.rate_limit,
                timeout_seconds=args.timeout,
                settings=settings,
                description=args.description,
            )
            endpoint, generated = endpoints.register_endpoint(request, args.tenant_id, wiring.endpoint_ports())
            shown = endpoints.public_view(endpoint)
            if generated:
                shown["signing_secret"] = generated  # shown once; stored only in Secrets Manager
            return shown
        case ("endpoint", "list"):
            return [endpoints.public_view(e) for e in registry.list_endpoints(args.tenant_id)]
        case ("endpoint", "show"):
            return endpoints.public_view(endpoints.get_endpoint(registry, args.tenant_id, args.endpoint_id))
        case ("endpoint", "enable" | "disable"):
            enabled = args.action == "enable"
            reason = "" if enabled else args.reason
            return endpoints.public_view(endpoints.set_enabled(registry, args.tenant_id, args.endpoint_id, enabled, reason))
    log = wiring.delivery_log()
    queue = wiring.delivery_queue()
    match args.action:
        case "failures":
            return [delivery_summary(d) for d in log.list_problems(args.tenant_id, args.limit)]
        case "show":
            found = log.get(args.delivery_id)
            if found is None:
                raise InvalidInput(f"no delivery '{args.delivery_id}'", field="delivery_id")
            return delivery_summary(found)
        case "replay":
            return delivery_summary(replays.replay_delivery(log, queue, args.delivery_id, now))
        case "replay-endpoint":
            ids = replays.replay_endpoint(
                log, queue, args.tenant_id, args.endpoint_id, _time(args.since), now, include_delivered=args.include_delivered
            )
            return {"replayed": len(ids), "delivery_ids": ids}
        case "redrive-dlq":
            return replays.redrive_dead_letters(log, wiring.delivery_dlq(), queue, now)
    raise AssertionError(f"unhandled command {args.group} {args.action}")  # argparse makes this unreachable


def portal_link(tenant_id: str, base_url: str) -> dict[str, str]:
    import time

    from order_hub import wiring
    from order_hub.config import PortalSettings, load
    from order_hub.services import portal_access

    if not base_url:
        raise InvalidInput("pass --base-url (the API's URL) or set HUB_API_URL", field="base_url")
    link = portal_access.issue_link(
        wiring.portal_store(), wiring.tenant_directory(), tenant_id, int(time.time()), load(PortalSettings).PORTAL_LINK_SECONDS
    )
    return portal_access.link_view(base_url, link)


def run(args: argparse.Namespace) -> Any:
    from order_hub import wiring

    if args.group in ("endpoint", "deliveries"):
        return run_delivery_command(args)
    if args.group == "portal":
        return portal_link(args.tenant_id, args.base_url or os.environ.get("HUB_API_URL", ""))

    directory = wiring.tenant_directory()
    match (args.group, args.action):
        case ("tenant", "create"):
            return tenants.create_tenant(directory, args.tenant_id, args.name, args.warehouse).model_dump(mode="json")
        case ("tenant", "show"):
            return tenants.get_tenant(directory, args.tenant_id).model_dump(mode="json")
        case ("tenant", "rate-limit"):
            limit = None if args.limit == "default" else _whole_number(args.limit, "rate_limit_per_second")
            return tenants.set_rate_limit(directory, args.tenant_id, limit).model_dump(mode="json")
        case ("tenant", "require-tracking-id"):
            return tenants.set_require_tracking_id(directory, args.tenant_id, not args.off).model_dump(mode="json")
        case ("tenant", "add-warehouse"):
            return tenants.add_warehouses(directory, args.tenant_id, args.warehouse).model_dump(mode="json")
        case ("key", "create"):
            return tenants.issue_api_key(directory, args.tenant_id).model_dump(mode="json")
        case ("key", "list"):
            tenants.get_tenant(directory, args.tenant_id)
            return [k.model_dump(mode="json", exclude={"key_hash"}) for k in directory.list_keys(args.tenant_id)]
        case ("key", "revoke"):
            return tenants.revoke_api_key(directory, args.tenant_id, args.key_id).model_dump(mode="json", exclude={"key_hash"})
        case ("key", "rotate"):
            return tenants.rotate_api_key(directory, args.tenant_id, args.key_id).model_dump(mode="json")
    raise AssertionError(f"unhandled command {args.group} {args.action}")  # argparse makes this unreachable


def _whole_number(text: str, field: str) -> int:
    try:
        return int(text)
    except ValueError as error:
        raise InvalidInput(f"{field} must be a whole number or 'default'", field=field) from error


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stack_file = args.stack or (
        DEFAULT_STACK_FILE if DEFAULT_STACK_FILE.exists() and "TENANTS_TABLE_NAME" not in os.environ else None
    )
    if stack_file is not None:
        _use_stack_file(stack_file)
    if "TENANTS_TABLE_NAME" not in os.environ:
        print("hub-admin: set TENANTS_TABLE_NAME or pass --stack .local/stack.json", file=sys.stderr)
        return 2
    try:
        result = run(args)
    except HubError as error:
        print(f"hub-admin: {error.message}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
