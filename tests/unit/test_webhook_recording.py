"""Webhook recording without a transaction (services.webhooks.record_change): the order change first,
carrying the webhook's mark, then the inbox row. A crash between the two writes must neither lose the
change nor apply it twice when the vendor sends the same webhook again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from order_hub.models.api import CreateOrderRequest
from order_hub.models.order import Order
from order_hub.models.status import ApiStatus
from order_hub.models.tenant import Tenant
from order_hub.models.wms import OrderConfirmationWebhook, PgiWebhook
from order_hub.services import orders
from order_hub.services.limits import KEPT_MARKS, MARK_CHARS
from order_hub.services.webhooks import ingest_order_confirmation, ingest_pgi, webhook_mark
from tests.fakes import InMemoryOrderRepository
from tests.payloads import order_body, pgi_body

WH, NO = "WH-TGR04", "SO-2026-0001"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _now() -> datetime:
    return T0


def _pgi(delivery_no: str = "JNE0001") -> PgiWebhook:
    return PgiWebhook.model_validate(pgi_body(WH, NO, delivery_no, order_type="SO"))


def _confirmation(so_status: str = "OPEN") -> OrderConfirmationWebhook:
    return OrderConfirmationWebhook(order_no=NO, warehouse_id=WH, wms_order_no="W-1", so_status=so_status)


def _stored(repo: InMemoryOrderRepository) -> Order:
    order = repo.get("acme", WH, NO)
    assert order is not None
    return order


@pytest.fixture
def created(tenant: Tenant, repo: InMemoryOrderRepository) -> Order:
    return orders.create_order(tenant, CreateOrderRequest.model_validate(order_body()), repo).order


def test_a_pgi_sent_again_after_a_crash_between_the_writes_is_applied_once(created: Order, repo: InMemoryOrderRepository) -> None:
    repo.crash_before_inbox = 1
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest_pgi("acme", _pgi(), "{}", repo, _now)
    shipped = _stored(repo)
    assert shipped.status == ApiStatus.CLOSED and len(shipped.shipments) == 1  # the change is not lost
    assert repo.inbox == {}  # ... but its inbox row is
    events = len(repo.events)

    again = ingest_pgi("acme", _pgi(), "{}", repo, _now)  # the vendor retries: no 2xx came back

    assert again.outcome == "duplicate"
    assert _stored(repo) == shipped and len(repo.events) == events  # not applied twice, no second event
    assert ("acme", f"PGI#{WH}#{NO}#JNE0001") in repo.inbox  # the retry stored the missing row
    assert ingest_pgi("acme", _pgi(), "{}", repo, _now).outcome == "duplicate"


def test_a_retry_after_a_crash_is_recognised_after_other_webhooks_changed_the_order(
    created: Order, repo: InMemoryOrderRepository
) -> None:
    """Without the mark the late confirmation would be recorded as a refused fact (a new version and an
    ``order.fact_recorded`` event); with it the retry changes nothing."""
    repo.crash_before_inbox = 1
    with pytest.raises(RuntimeError):
        ingest_order_confirmation("acme", _confirmation(), "{}", repo, _now)
    assert _stored(repo).status == ApiStatus.CREATED
    assert ingest_pgi("acme", _pgi(), "{}", repo, _now).outcome == "applied"  # moves the order on meanwhile
    closed, events = _stored(repo), len(repo.events)

    again = ingest_order_confirmation("acme", _confirmation(), "{}", repo, _now)

    assert again.outcome == "duplicate" and _stored(repo) == closed and len(repo.events) == events
    assert closed.history[-1].applied is True  # no "ignored: CLOSED does not move to CREATED" entry


def test_an_order_keeps_its_last_marks_only_and_older_duplicates_are_found_in_the_inbox(
    created: Order, repo: InMemoryOrderRepository
) -> None:
    assert ingest_order_confirmation("acme", _confirmation(), "{}", repo, _now).outcome == "applied"
    for status in ("ALLOCATED", "PICKING", "PACKED", "PACKED_DONE")[:KEPT_MARKS]:
        ingest_order_confirmation("acme", _confirmation(status), "{}", repo, _now)
    order = _stored(repo)
    assert len(order.webhook_marks) == KEPT_MARKS and all(len(mark) == MARK_CHARS for mark in order.webhook_marks)
    first = webhook_mark(f"WMS_CONFIRM#{WH}#{NO}#OPEN")
    assert first not in order.webhook_marks  # its mark has left the order ...
    writes = repo.writes

    again = ingest_order_confirmation("acme", _confirmation(), "{}", repo, _now)

    assert again.outcome == "duplicate" and repo.writes == writes and _stored(repo) == order  # ... its inbox row has not


def test_marks_belong_to_the_webhook_not_to_the_order() -> None:
    assert webhook_mark("PGI#WH#SO-1#AWB-1") != webhook_mark("PGI#WH#SO-1#AWB-2")
    assert webhook_mark("PGI#WH#SO-1#AWB-1") == webhook_mark("PGI#WH#SO-1#AWB-1")


def test_a_webhook_read_on_a_stale_order_is_applied_once_on_the_latest(created: Order, repo: InMemoryOrderRepository) -> None:
    """The first read is eventually consistent: a change computed on an older version loses its
    conditional write, and the next attempt reads consistently."""
    assert ingest_order_confirmation("acme", _confirmation(), "{}", repo, _now).outcome == "applied"
    repo.lagging[("acme", WH, NO)] = created  # the replica has not seen the confirmation yet

    result = ingest_pgi("acme", _pgi(), "{}", repo, _now)

    assert result.outcome == "applied" and repo.eventual_reads == 2
    shipped = _stored(repo)
    assert shipped.status == ApiStatus.CLOSED and shipped.forward.wms_order_no == "W-1"  # the confirmation's change kept
    assert len(shipped.webhook_marks) == 2


def test_a_webhook_for_an_order_a_stale_read_misses_is_not_parked_as_unmatched(
    created: Order, repo: InMemoryOrderRepository
) -> None:
    repo.lagging[("acme", WH, NO)] = None  # created a moment ago: not on the replica yet
    assert ingest_pgi("acme", _pgi(), "{}", repo, _now).outcome == "applied"
    assert _stored(repo).status == ApiStatus.CLOSED
