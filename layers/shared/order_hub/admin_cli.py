"""hub-admin: manage tenants and API keys.

Against the local stack (reads .local/stack.json for endpoint and table names):
    hub-admin --stack .local/stack.json tenant create acme --name "Acme" --warehouse WH-TGR04
    hub-admin --stack .local/stack.json key create acme          # prints the key once
    hub-admin --stack .local/stack.json key revoke acme <key_id>
Against AWS: set TENANTS_TABLE_NAME (stack output TenantsTableName) and the usual AWS credentials.
Output is JSON on stdout; errors go to stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from order_hub.errors import HubError
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
    return parser


def run(args: argparse.Namespace) -> Any:
    from order_hub import wiring

    directory = wiring.tenant_directory()
    match (args.group, args.action):
        case ("tenant", "create"):
            return tenants.create_tenant(directory, args.tenant_id, args.name, args.warehouse).model_dump(mode="json")
        case ("tenant", "show"):
            return tenants.get_tenant(directory, args.tenant_id).model_dump(mode="json")
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
