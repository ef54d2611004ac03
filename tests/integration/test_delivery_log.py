"""The DynamoDB delivery log, endpoint registry and event store under moto (tables from template.yaml)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from local_stack.harness import build_tables
from order_hub import wiring
from order_hub.errors import InvalidInput
from order_hub.models.endpoints import Attempt, Delivery, Endpoint

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield build_tables()
        wiring.reset()


def _delivery(n: int = 1, endpoint: str = "erp", at: datetime = T0) -> Delivery:
    return Delivery(
        delivery_id=f"ev-{n}.{endpoint}",
        tenant_id="acme",
        endpoint_id=endpoint,
        event_id=f"ev-{n}",
        event_type="order.created",
        warehouse_id="WH-1",
        order_no=f"SO-{n}",
        seq=1,
        created_at=at,
        updated_at=at,
    )


def test_claim_creates_the_record_once_and_a_lease_keeps_others_out(tables: dict[str, str]) -> None:
    log = wiring.delivery_log()

    first = log.claim(_delivery(), T0, lease_seconds=60)
    again = log.claim(_delivery(), T0 + timedelta(seconds=10), lease_seconds=60)
    after_lease = log.claim(_delivery(), T0 + timedelta(seconds=61), lease_seconds=60)

    assert first.granted and first.delivery is not None and first.delivery.attempt_count == 1
    assert first.delivery.status == "delivering"
    assert not again.granted and again.delivery is not None and again.delivery.status == "delivering"
    assert after_lease.granted and after_lease.delivery is not None and after_lease.delivery.attempt_count == 2


def test_finished_deliveries_are_never_claimed_again_until_reopened(tables: dict[str, str]) -> None:
    log = wiring.delivery_log()
    claim = log.claim(_delivery(), T0, lease_seconds=60)
    assert claim.delivery is not None
    delivered = claim.delivery.model_copy(update={"status": "delivered", "delivered_at": T0, "updated_at": T0})
    log.finish(delivered, Attempt(n=1, at=T0, outcome="delivered", status_code=200, latency_ms=12, response="ok"))

    refused = log.claim(_delivery(), T0 + timedelta(hours=1), lease_seconds=60)
    reopened = log.reopen(delivered.delivery_id, T0 + timedelta(hours=1))
    regranted = log.claim(_delivery(), T0 + timedelta(hours=1), lease_seconds=60)

    assert not refused.granted and refused.delivery is not None and refused.delivery.status == "delivered"
    assert reopened is not None and reopened.status == "pending" and reopened.attempt_base == 1 and reopened.replays == 1
    assert regranted.granted and regranted.delivery is not None
    assert regranted.delivery.attempt_count == 2 and regranted.delivery.round_attempts == 1
    stored = log.get(delivered.delivery_id)
    assert stored is not None and [a.status_code for a in stored.attempts] == [200]


def test_reopen_refuses_a_delivery_being_attempted(tables: dict[str, str]) -> None:
    log = wiring.delivery_log()
    log.claim(_delivery(), T0, lease_seconds=60)

    with pytest.raises(InvalidInput, match="being attempted"):
        log.reopen("ev-1.erp", T0 + timedelta(seconds=5))
    assert log.reopen("missing.erp", T0) is None


def test_problems_index_holds_only_retrying_and_failed_deliveries(tables: dict[str, str]) -> None:
    log = wiring.delivery_log()
    for n, status in enumerate(["retrying", "failed", "delivered"], start=1):
        claim = log.claim(_delivery(n, at=T0 + timedelta(minutes=n)), T0, lease_seconds=60)
        assert claim.delivery is not None
        done = claim.delivery.model_copy(update={"status": status, "updated_at": T0 + timedelta(minutes=n)})
        log.finish(done, Attempt(n=1, at=T0, outcome="retry" if status == "retrying" else status, status_code=500))

    problems = log.list_problems("acme", limit=10)
    since = log.list_for_endpoint("acme", "erp", T0 + timedelta(minutes=2), limit=10)

    assert [d.delivery_id for d in problems] == ["ev-2.erp", "ev-1.erp"]  # newest first
    assert [d.delivery_id for d in since] == ["ev-2.erp", "ev-3.erp"]  # oldest first
    assert log.list_problems("other", limit=10) == []


def test_rate_tokens_are_counted_per_endpoint_and_second(tables: dict[str, str]) -> None:
    log = wiring.delivery_log()

    taken = [log.take_token("acme#erp", 2, T0) for _ in range(3)]
    next_second = log.take_token("acme#erp", 2, T0 + timedelta(seconds=1))
    other = log.take_token("acme#pos", 2, T0)

    assert taken == [True, True, False]
    assert next_second and other


def test_endpoint_registry_round_trip(tables: dict[str, str]) -> None:
    registry = wiring.endpoint_registry()
    endpoint = Endpoint(
        tenant_id="acme", endpoint_id="erp", url="https://x.example/h", format="standard", created_at=T0, updated_at=T0
    )

    registry.put_endpoint(endpoint, create=True)
    with pytest.raises(InvalidInput, match="already exists"):
        registry.put_endpoint(endpoint, create=True)
    registry.put_endpoint(endpoint.model_copy(update={"enabled": False}))

    assert registry.get_endpoint("acme", "erp") == endpoint.model_copy(update={"enabled": False})
    assert [e.endpoint_id for e in registry.list_endpoints("acme")] == ["erp"]
    assert registry.list_endpoints("other") == [] and registry.get_endpoint("acme", "nope") is None


def test_order_holds_keep_later_events_of_one_order_and_endpoint_back(tables: dict[str, str]) -> None:
    log = wiring.delivery_log()
    gate, other = "acme#erp#WH-1#SO-1", "acme#erp#WH-1#SO-2"
    log.hold_order(gate, 3, T0 + timedelta(seconds=5), T0 + timedelta(seconds=300))
    log.hold_order(gate, 5, T0 + timedelta(seconds=1), T0 + timedelta(seconds=30))

    assert log.order_holds(gate, 7, T0) == [(3, T0 + timedelta(seconds=5)), (5, T0 + timedelta(seconds=1))]
    assert log.order_holds(gate, 3, T0) == []  # only earlier events hold an event back
    assert log.order_holds(other, 7, T0) == []  # another order is never held
    assert log.order_holds(gate, 7, T0 + timedelta(seconds=31)) == [(3, T0 + timedelta(seconds=5))]  # 5 lapsed
    log.release_order(gate, 3)
    assert log.order_holds(gate, 7, T0 + timedelta(seconds=31)) == []
