"""API key authentication with a small per-container cache (so a warm create costs no auth reads)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

from order_hub.errors import Unauthorized
from order_hub.models.tenant import Tenant
from order_hub.ports import TenantDirectory
from order_hub.services.tenants import KEY_PREFIX, hash_api_key

UNAUTHORIZED_MESSAGE = "Unauthorized Access. You are not authorized to access this resource."
_MAX_CACHE = 1024


class Authenticator:
    """Resolves an ``x-api-key`` to its active tenant.

    Positive results are cached for ``ttl_seconds`` (revocation takes effect within that time);
    failures are never cached, so a newly issued key works at once.
    """

    def __init__(self, directory: TenantDirectory, ttl_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._directory = directory
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, Tenant]] = {}

    def authenticate(self, api_key: str | None) -> Tenant:
        if not api_key or not api_key.startswith(KEY_PREFIX) or len(api_key) > 200:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        digest = hash_api_key(api_key)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        tenant = self._resolve(digest)
        if self._ttl > 0:
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, tenant)
        return tenant

    def _resolve(self, digest: str) -> Tenant:
        key = self._directory.find_key(digest)
        if key is None or key.status != "active" or not hmac.compare_digest(key.key_hash, digest):
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        tenant = self._directory.get_tenant(key.tenant_id)
        if tenant is None or tenant.status != "active":
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        return tenant
