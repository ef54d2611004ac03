"""Access to the tenant portal without an API key in the browser.

A tenant (with its API key: ``POST /hub/v1/portal/sessions``) or an operator (``hub-admin portal
link``) gets a one-time link ``/portal/login?token=<tenant>.<secret>``. Opening it consumes the
token (a conditional write: the second use is refused) and starts a session: a cookie
``<tenant>.<secret>`` whose digest keys the stored session. The session ends at a fixed time
(``PORTAL_SESSION_SECONDS``, default 30 minutes; opening pages does not extend it) or on logout.
Links expire after ``PORTAL_LINK_SECONDS`` (default 10 minutes) whether used or not.

Tokens and session secrets carry 256 random bits and are stored as SHA-256 digests only; the
tenant is part of the token, of the cookie and of every stored key, and a session only ever sees
its own tenant's data (the portal scopes every request like the admin API).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from order_hub.errors import InvalidInput
from order_hub.ports import PortalSession, PortalStore, TenantDirectory
from order_hub.services.tenants import get_tenant

_TOKEN = re.compile(r"^([a-z0-9][a-z0-9_\-]{1,39})\.([A-Za-z0-9_\-]{40,60})$")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _split(token: str | None) -> tuple[str, str] | None:
    match = _TOKEN.match(token or "")
    return (match.group(1), match.group(2)) if match else None


@dataclass(frozen=True)
class IssuedLink:
    tenant_id: str
    token: str
    expires_at: int


@dataclass(frozen=True)
class StartedSession:
    session: PortalSession
    cookie_value: str


def issue_link(store: PortalStore, tenants: TenantDirectory, tenant_id: str, now: int, lifetime: int) -> IssuedLink:
    """A one-time login token for an active tenant (1 write)."""
    tenant = get_tenant(tenants, tenant_id)
    if tenant.status != "active":
        raise InvalidInput(f"tenant '{tenant_id}' is not active", field="tenant_id")
    secret = secrets.token_urlsafe(32)
    store.put_link(tenant_id, _digest(secret), now + lifetime)
    return IssuedLink(tenant_id=tenant_id, token=f"{tenant_id}.{secret}", expires_at=now + lifetime)


def login_url(base_url: str, link: IssuedLink) -> str:
    """The link a person opens: ``<base>/portal/login?token=...`` (the token is URL-safe)."""
    return f"{base_url.rstrip('/')}/portal/login?token={link.token}"


def link_view(base_url: str, link: IssuedLink) -> dict[str, str]:
    """``{url, expires_at}`` as the API and the CLI return it."""
    from datetime import UTC, datetime

    expires = datetime.fromtimestamp(link.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"url": login_url(base_url, link), "expires_at": expires}


def open_link(store: PortalStore, token: str | None, now: int, session_lifetime: int) -> StartedSession | None:
    """Consume a link token and start a session (2 writes); None when the token is malformed,
    unknown, expired or was used before."""
    parts = _split(token)
    if parts is None:
        return None
    tenant_id, secret = parts
    if not store.consume_link(tenant_id, _digest(secret), now):
        return None
    cookie_secret = secrets.token_urlsafe(32)
    session = PortalSession(
        tenant_id=tenant_id,
        session_hash=_digest(cookie_secret),
        csrf_token=secrets.token_urlsafe(32),
        expires_at=now + session_lifetime,
    )
    store.put_session(session)
    return StartedSession(session=session, cookie_value=f"{tenant_id}.{cookie_secret}")


def current_session(store: PortalStore, cookie_value: str | None, now: int) -> PortalSession | None:
    """The live session a cookie names (1 read), or None (no cookie, unknown, ended or expired)."""
    parts = _split(cookie_value)
    if parts is None:
        return None
    tenant_id, secret = parts
    session = store.get_session(tenant_id, _digest(secret))
    if session is None or session.expires_at <= now:
        return None
    return session


def csrf_ok(session: PortalSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf_token.encode(), (submitted or "").encode())


def end_session(store: PortalStore, session: PortalSession) -> None:
    store.delete_session(session.tenant_id, session.session_hash)
