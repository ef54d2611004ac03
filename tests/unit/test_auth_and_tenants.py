from __future__ import annotations

import pytest

from order_hub.errors import InvalidInput, TenantNotFound, Unauthorized
from order_hub.services import tenants
from order_hub.services.auth import Authenticator
from tests.fakes import InMemoryTenantDirectory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_keys_are_stored_hashed_and_resolve_to_their_tenant(directory: InMemoryTenantDirectory) -> None:
    tenants.create_tenant(directory, "acme", "Acme", ["WH-TGR04"])
    issued = tenants.issue_api_key(directory, "acme")

    assert issued.api_key.startswith("ohk_")
    assert all(issued.api_key not in key.model_dump_json() for key in directory.keys.values())
    assert Authenticator(directory, ttl_seconds=0).authenticate(issued.api_key).tenant_id == "acme"


@pytest.mark.parametrize("presented", [None, "", "ohk_unknown_key", "not-even-our-format", "ohk_" + "x" * 300])
def test_missing_or_unknown_keys_are_unauthorized(directory: InMemoryTenantDirectory, presented: str | None) -> None:
    tenants.create_tenant(directory, "acme", "Acme", ["WH-TGR04"])
    with pytest.raises(Unauthorized):
        Authenticator(directory, ttl_seconds=60).authenticate(presented)


def test_revoked_key_stops_working_after_the_cache_ttl(directory: InMemoryTenantDirectory) -> None:
    tenants.create_tenant(directory, "acme", "Acme", ["WH-TGR04"])
    issued = tenants.issue_api_key(directory, "acme")
    clock = Clock()
    auth = Authenticator(directory, ttl_seconds=60, clock=clock)
    auth.authenticate(issued.api_key)
    lookups = directory.lookups

    auth.authenticate(issued.api_key)
    assert directory.lookups == lookups  # warm: no directory reads

    tenants.revoke_api_key(directory, "acme", issued.key_id)
    auth.authenticate(issued.api_key)  # still cached
    clock.now += 61
    with pytest.raises(Unauthorized):
        auth.authenticate(issued.api_key)


def test_rotation_issues_a_new_key_and_revokes_the_old(directory: InMemoryTenantDirectory) -> None:
    tenants.create_tenant(directory, "acme", "Acme", ["WH-TGR04"])
    old = tenants.issue_api_key(directory, "acme")
    new = tenants.rotate_api_key(directory, "acme", old.key_id)
    auth = Authenticator(directory, ttl_seconds=0)

    assert auth.authenticate(new.api_key).tenant_id == "acme"
    with pytest.raises(Unauthorized):
        auth.authenticate(old.api_key)
    with pytest.raises(InvalidInput):
        tenants.rotate_api_key(directory, "acme", old.key_id)


def test_suspended_tenant_is_unauthorized(directory: InMemoryTenantDirectory) -> None:
    tenant = tenants.create_tenant(directory, "acme", "Acme", ["WH-TGR04"])
    issued = tenants.issue_api_key(directory, "acme")
    directory.save_tenant(tenant.model_copy(update={"status": "suspended"}))
    with pytest.raises(Unauthorized):
        Authenticator(directory, ttl_seconds=0).authenticate(issued.api_key)


def test_tenant_admin_rules(directory: InMemoryTenantDirectory) -> None:
    with pytest.raises(InvalidInput):
        tenants.create_tenant(directory, "Bad Id!", "x", [])
    with pytest.raises(InvalidInput):
        tenants.create_tenant(directory, "acme", "Acme", ["WH#1"])
    tenants.create_tenant(directory, "acme", "Acme", ["WH-TGR04"])
    with pytest.raises(InvalidInput):
        tenants.create_tenant(directory, "acme", "Acme again", [])
    assert tenants.add_warehouses(directory, "acme", ["WH-CGK09", "WH-TGR04"]).warehouse_ids == ["WH-CGK09", "WH-TGR04"]
    with pytest.raises(TenantNotFound):
        tenants.issue_api_key(directory, "ghost")
