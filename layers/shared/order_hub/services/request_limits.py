"""Per-tenant request limit of the order and admin APIs, without a write per request.

Each container counts a tenant's requests of the current epoch second in memory. It adds them to the
tenant's shared counter for that second (``RequestCounter.add_requests``: one DynamoDB ``ADD``, the
new total back) only when ``FLUSH_EVERY`` of them are not yet added, or fewer when the limit is smaller
(``flush_every``). A request is refused (429) when the container's own estimate of the second's total,
the last total it read plus what it has not added yet, passes the limit, or when its flush returns a
total over the limit; after that every further request of the tenant in that second is refused without
a write. A tenant below ``FLUSH_EVERY`` requests a second in a container costs no write at all.

The bound: a container admits at most ``flush_every - 1`` requests the shared counter does not know
about yet, and the container whose add brought the counter to the limit knows it is there, so a tenant
whose requests are spread over N containers in one second is admitted at most
``limit + (N - 1) x (flush_every - 1)`` times (under ``limit + N x FLUSH_EVERY``; in one container, never
more than ``limit``). A refusal always means the tenant made more than ``limit`` requests that second:
the counter only ever holds requests that were made.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from order_hub.ports import RequestCounter

FLUSH_EVERY = 5
"""Requests a container counts for a tenant in memory before it adds them to the shared counter."""


def flush_every(limit: int) -> int:
    """How many requests a container holds before it adds them to the shared counter."""
    return max(1, min(FLUSH_EVERY, limit))


def overshoot_bound(limit: int, containers: int) -> int:
    """The most requests a tenant spread over ``containers`` containers is admitted in one second."""
    return limit + (containers - 1) * (flush_every(limit) - 1)


@dataclass
class _Second:
    second: int
    seen: int = 0  # requests of the tenant in this second, in this container
    added: int = 0  # of which already added to the shared counter
    total: int = 0  # the shared counter's total when this container last added to it


class TenantRequestLimiter:
    """One per container (``wiring.request_limiter``); state per tenant for the current second only."""

    def __init__(self, counter: RequestCounter, limit: int) -> None:
        self._counter = counter
        self._limit = limit
        self._seconds: dict[str, _Second] = {}  # tenant -> its count of the current second
        self._lock = threading.Lock()
        self.writes = 0  # counter writes this container made (observability, tests)

    def allow(self, tenant_id: str, now: float, limit: int | None = None) -> bool:
        """Count one request of ``tenant_id`` at ``now``; False when it is over the tenant's limit
        (``limit``: the tenant's own, ``hub-admin tenant rate-limit``; else the stack's)."""
        limit = limit or self._limit
        if not limit:
            return True
        every = flush_every(limit)
        second = int(now)
        with self._lock:
            state = self._seconds.get(tenant_id)
            if state is None or state.second != second:
                if state is not None and state.second < second:
                    self._forget_before(second)
                state = self._seconds[tenant_id] = _Second(second)
            state.seen += 1
            pending = state.seen - state.added
            if state.total + pending > limit:
                return False  # over by this container's own estimate: no write
            if pending < every:
                return True
            state.total = self._counter.add_requests(tenant_id, second, pending)
            state.added = state.seen
            self.writes += 1
            return state.total <= limit

    def _forget_before(self, second: int) -> None:
        """Drop every tenant's count of an earlier second (memory stays one entry per active tenant)."""
        for tenant_id in [tenant for tenant, state in self._seconds.items() if state.second < second]:
            del self._seconds[tenant_id]
