"""The portal's access rules (one-time links, sessions, CSRF) against an in-memory store, and its charts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from order_hub.errors import InvalidInput, TenantNotFound
from order_hub.models.tenant import Tenant
from order_hub.portal import charts
from order_hub.services import portal_access
from tests.fakes import InMemoryPortalStore, InMemoryTenantDirectory

NOW = 1_800_000_000


@pytest.fixture
def tenants() -> InMemoryTenantDirectory:
    directory = InMemoryTenantDirectory()
    at = datetime(2026, 11, 23, tzinfo=UTC)
    directory.create_tenant(Tenant(tenant_id="acme", name="Acme", warehouse_ids=["WH-TGR04"], created_at=at))
    directory.create_tenant(Tenant(tenant_id="gone", name="Gone", warehouse_ids=[], created_at=at, status="suspended"))
    return directory


def test_a_link_opens_one_session_once_then_the_session_lasts_its_lifetime(tenants: InMemoryTenantDirectory) -> None:
    store = InMemoryPortalStore()
    link = portal_access.issue_link(store, tenants, "acme", NOW, 600)
    assert link.token.startswith("acme.") and link.expires_at == NOW + 600
    assert portal_access.link_view("https://api.example.com/dev/", link) == {
        "url": f"https://api.example.com/dev/portal/login?token={link.token}",
        "expires_at": "2027-01-15T08:10:00Z",
    }
    started = portal_access.open_link(store, link.token, NOW + 5, 1800)
    assert started is not None and started.cookie_value.startswith("acme.")
    assert store.writes == 3  # the link, its use, the session
    assert portal_access.open_link(store, link.token, NOW + 6, 1800) is None
    assert store.writes == 4  # a refused conditional write is still a write (DynamoDB bills it)

    cookie = started.cookie_value
    assert portal_access.current_session(store, cookie, NOW + 1804) == started.session
    assert portal_access.current_session(store, cookie, NOW + 1805) is None  # 1800 s after sign-in
    assert portal_access.current_session(store, "gone." + cookie.split(".")[1], NOW + 10) is None
    assert portal_access.current_session(store, None, NOW) is None
    assert portal_access.current_session(store, "acme.short", NOW) is None

    portal_access.end_session(store, started.session)
    assert portal_access.current_session(store, cookie, NOW + 10) is None


def test_csrf_tokens_belong_to_their_session(tenants: InMemoryTenantDirectory) -> None:
    store = InMemoryPortalStore()
    one = portal_access.open_link(store, portal_access.issue_link(store, tenants, "acme", NOW, 600).token, NOW, 60)
    two = portal_access.open_link(store, portal_access.issue_link(store, tenants, "acme", NOW, 600).token, NOW, 60)
    assert one is not None and two is not None
    assert portal_access.csrf_ok(one.session, one.session.csrf_token)
    assert not portal_access.csrf_ok(one.session, two.session.csrf_token)
    assert not portal_access.csrf_ok(one.session, "")
    assert not portal_access.csrf_ok(one.session, None)


def test_links_only_for_active_known_tenants(tenants: InMemoryTenantDirectory) -> None:
    with pytest.raises(TenantNotFound):
        portal_access.issue_link(InMemoryPortalStore(), tenants, "nobody", NOW, 600)
    with pytest.raises(InvalidInput):
        portal_access.issue_link(InMemoryPortalStore(), tenants, "gone", NOW, 600)


def test_bars_scale_to_the_largest_value_and_keep_their_labels() -> None:
    bars = charts.orders_chart([("2026-11-30", 0), ("2026-12-01", 5), ("2026-12-02", 10)])
    usable = charts.HEIGHT - charts.PAD_BOTTOM - charts.PAD_TOP
    assert [b.height for b in bars] == [0, usable // 2, usable]
    assert [b.label for b in bars] == ["11-30", "12-01", "12-02"]
    assert all(b.y + b.height == charts.HEIGHT - charts.PAD_BOTTOM for b in bars)
    assert bars[0].x < bars[1].x < bars[2].x
    rates = charts.success_chart([("erp", 9, 10), ("pos", 4, 4), ("idle", 0, 0)])
    assert [(b.value, b.tone) for b in rates] == [("90%", "bad"), ("100%", "ok"), ("no deliveries", "none")]
