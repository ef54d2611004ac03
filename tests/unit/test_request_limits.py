"""Per-tenant request limit counted per container, written to the shared counter in batches
(services.request_limits): the writes it saves, the bound it keeps, and that the limit still bites."""

from __future__ import annotations

import itertools

import pytest

from order_hub.services.request_limits import FLUSH_EVERY, TenantRequestLimiter, flush_every, overshoot_bound
from tests.fakes import InMemoryTenantDirectory

T = 1_800_000_000.25  # an epoch second, a quarter in


def test_a_tenant_below_the_batch_size_costs_no_write() -> None:
    shared = InMemoryTenantDirectory()
    limiter = TenantRequestLimiter(shared, limit=50)

    assert all(limiter.allow("acme", T) for _ in range(FLUSH_EVERY - 1))

    assert limiter.writes == 0 and shared.request_counts == {}


def test_one_container_admits_exactly_the_limit_with_one_write_per_batch() -> None:
    shared = InMemoryTenantDirectory()
    limiter = TenantRequestLimiter(shared, limit=50)

    answers = [limiter.allow("acme", T) for _ in range(80)]

    assert answers == [True] * 50 + [False] * 30
    assert limiter.writes == 50 // FLUSH_EVERY  # the refused ones are refused from memory, without a write
    assert shared.request_counts == {("acme", int(T)): 50}


@pytest.mark.parametrize("limit", [1, 3, 5, 50])
def test_a_small_limit_holds_in_one_container(limit: int) -> None:
    limiter = TenantRequestLimiter(InMemoryTenantDirectory(), limit=limit)
    assert sum(limiter.allow("acme", T) for _ in range(limit + 10)) == limit


@pytest.mark.parametrize(("limit", "containers"), [(50, 2), (50, 10), (3, 4), (10, 7)])
def test_a_tenant_spread_over_n_containers_passes_the_limit_by_at_most_n_times_the_batch(limit: int, containers: int) -> None:
    """The worst interleaving: every container holds a batch short of a flush before any of them adds.
    The bound, limit + (N - 1) x (batch - 1), is reached, not passed, and every request after it is refused."""
    shared = InMemoryTenantDirectory()
    limiters = [TenantRequestLimiter(shared, limit=limit) for _ in range(containers)]
    admitted = 0
    for limiter in limiters:  # each container fills its batch but for one: no container has written yet
        admitted += sum(limiter.allow("acme", T) for _ in range(flush_every(limit) - 1))
    for limiter in itertools.islice(itertools.cycle(limiters), 40 * containers + limit):  # then round robin
        admitted += limiter.allow("acme", T)

    assert admitted == overshoot_bound(limit, containers) < limit + containers * FLUSH_EVERY  # reached, never passed
    assert not any(limiter.allow("acme", T) for limiter in limiters)  # the limit bites in every container
    total_requests = containers * (flush_every(limit) - 1) + 40 * containers + limit
    assert sum(limiter.writes for limiter in limiters) <= total_requests / flush_every(limit)


def test_the_limit_bites_across_containers_at_a_steady_rate() -> None:
    """Two containers taking turns, 60 requests each in one second with a limit of 50: the tenant is
    refused once its total passes the limit, within the bound."""
    shared = InMemoryTenantDirectory()
    a, b = TenantRequestLimiter(shared, limit=50), TenantRequestLimiter(shared, limit=50)

    answers = [container.allow("acme", T) for _ in range(60) for container in (a, b)]

    admitted = sum(answers)
    assert 50 <= admitted <= overshoot_bound(50, 2) == 54
    assert answers[-20:] == [False] * 20
    assert a.writes + b.writes <= 120 // FLUSH_EVERY


def test_each_tenant_has_its_own_count_and_each_second_starts_over() -> None:
    shared = InMemoryTenantDirectory()
    limiter = TenantRequestLimiter(shared, limit=5)

    assert [limiter.allow("acme", T) for _ in range(6)] == [True] * 5 + [False]
    assert limiter.allow("rival", T)  # another tenant: its own count and its own counter key
    assert limiter.allow("acme", T + 1)  # the next second
    assert set(shared.request_counts) == {("acme", int(T))}  # rival and the new second have not written yet


def test_the_limit_is_off_at_zero() -> None:
    shared = InMemoryTenantDirectory()
    limiter = TenantRequestLimiter(shared, limit=0)
    assert all(limiter.allow("acme", T) for _ in range(1000)) and limiter.writes == 0


@pytest.mark.parametrize("seed", range(20))
def test_no_interleaving_passes_the_bound(seed: int) -> None:
    import random

    pick = random.Random(seed)
    containers, limit = pick.randint(1, 8), pick.choice([1, 2, 5, 7, 50])
    shared = InMemoryTenantDirectory()
    limiters = [TenantRequestLimiter(shared, limit=limit) for _ in range(containers)]

    admitted = sum(pick.choice(limiters).allow("acme", T) for _ in range(limit + 200))

    assert limit <= admitted <= overshoot_bound(limit, containers)
