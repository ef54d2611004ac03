"""The cost model's pure math: request units, SQS chunks, GB-seconds and prices (no AWS, no sockets)."""

from __future__ import annotations

import pytest

from benchmarks.cost_model import (
    PRICES,
    ArrivalClock,
    IndexSpec,
    Prices,
    api_requests_per_container_s,
    billed_ms,
    fixed_per_order,
    gb_seconds,
    idle_sqs_polls_per_day,
    index_write_sizes,
    item_size,
    price_of,
    rcu_for,
    secrets_calls_per_order,
    sqs_requests_for,
    wcu_for,
    write_units,
)
from order_hub.services.request_limits import TenantRequestLimiter

KB = 1024


@pytest.mark.parametrize(
    ("size", "transactional", "units"),
    [
        (0, False, 1),
        (1, False, 1),
        (KB, False, 1),
        (KB + 1, False, 2),
        (int(1.1 * KB), False, 2),
        (3 * KB, False, 3),
        (KB, True, 2),
        (int(1.1 * KB), True, 4),
        (3 * KB, True, 6),
    ],
)
def test_write_units_round_up_per_kb_and_double_in_transactions(size: int, transactional: bool, units: int) -> None:
    assert wcu_for(size, transactional) == units


@pytest.mark.parametrize(
    ("size", "consistent", "transactional", "units"),
    [
        (4 * KB, True, False, 1.0),
        (4 * KB + 1, True, False, 2.0),
        (100, True, False, 1.0),
        (0, True, False, 1.0),
        (4 * KB, False, False, 0.5),
        (8 * KB, False, False, 1.0),
        (8 * KB + 1, False, False, 1.5),
        (4 * KB, True, True, 2.0),
        (8 * KB, False, True, 4.0),
    ],
)
def test_read_units_per_4_kb_eventually_consistent_halves(size: int, consistent: bool, transactional: bool, units: float) -> None:
    assert rcu_for(size, consistent, transactional) == units


@pytest.mark.parametrize(("size", "requests"), [(0, 1), (1, 1), (64 * KB, 1), (64 * KB + 1, 2), (256 * KB, 4)])
def test_each_64_kb_chunk_of_an_sqs_request_is_a_request(size: int, requests: int) -> None:
    assert sqs_requests_for(size) == requests


def test_gb_seconds_bill_whole_ms_at_the_configured_memory() -> None:
    assert billed_ms(0.2) == 1 and billed_ms(100.0) == 100 and billed_ms(100.01) == 101
    assert gb_seconds(1000, 1024) == 1.0
    assert gb_seconds(1000, 512) == 0.5
    assert gb_seconds(99.3, 512) == pytest.approx(0.1 * 0.5)


def test_item_size_counts_names_and_values() -> None:
    assert item_size(None) == 0
    assert item_size({"pk": {"S": "abc"}}) == 2 + 3
    assert item_size({"ok": {"BOOL": True}, "b": {"B": b"1234"}}) == (2 + 1) + (1 + 4)
    assert item_size({"m": {"M": {"x": {"S": "yz"}}}}) == 1 + 3 + 1 + 1 + 2
    assert item_size({"l": {"L": [{"S": "a"}, {"S": "bc"}]}}) == 1 + 3 + (1 + 1) + (1 + 2)
    assert item_size({"n": {"N": "12345"}}) == 1 + 4


def _item(size: int, **extra: str) -> dict[str, dict[str, str]]:
    """An item of exactly ``size`` bytes plus ``extra`` string attributes."""
    base: dict[str, dict[str, str]] = {"pk": {"S": "p"}, "sk": {"S": "s"}}
    base.update({name: {"S": value} for name, value in extra.items()})
    pad = size - item_size(base) - len("doc")
    base["doc"] = {"S": "x" * pad}
    return base


INDEX = IndexSpec("by_updated", ("gsi2pk", "gsi2sk"), "INCLUDE", frozenset({"status"}))


def test_gsi_writes_follow_the_projection_and_key_changes() -> None:
    old = _item(1500, gsi2pk="T", gsi2sk="2026-01-01", status="A")
    same_keys = _item(1500, gsi2pk="T", gsi2sk="2026-01-01", status="B")
    moved = _item(1500, gsi2pk="T", gsi2sk="2026-01-02", status="B")
    not_indexed = _item(1500)
    projected_size = item_size({k: old[k] for k in ("pk", "sk", "gsi2pk", "gsi2sk", "status")})

    assert index_write_sizes(None, old, INDEX, ("pk", "sk")) == [projected_size]  # a put into the index
    assert index_write_sizes(old, None, INDEX, ("pk", "sk")) == [projected_size]  # a delete from it
    assert index_write_sizes(old, same_keys, INDEX, ("pk", "sk")) == [projected_size]  # projected attribute changed
    assert index_write_sizes(old, old, INDEX, ("pk", "sk")) == []  # nothing projected changed
    assert len(index_write_sizes(old, moved, INDEX, ("pk", "sk"))) == 2  # key changed: delete + put
    assert index_write_sizes(not_indexed, not_indexed, INDEX, ("pk", "sk")) == []  # sparse: not in the index
    assert index_write_sizes(old, old, IndexSpec("all", ("gsi2pk", "gsi2sk")), ("pk", "sk")) == []


def test_write_units_take_the_larger_image_double_transactions_and_add_gsi_writes() -> None:
    small, large = _item(900, gsi2pk="T", gsi2sk="1"), _item(2100, gsi2pk="T", gsi2sk="2")
    assert write_units(None, _item(1100)) == 2
    assert write_units(large, small) == 3  # an update is charged on the larger of before/after
    assert write_units(None, small, transactional=True) == 2
    # base 3 KB x2 in the transaction + index delete (small) + index put (large, 1 KB after projection) at x1
    assert write_units(small, large, [INDEX], ("pk", "sk"), transactional=True) == 6 + 1 + 1
    assert write_units(None, large, [IndexSpec("all", ("gsi2pk", "gsi2sk"))], ("pk", "sk")) == 3 + 3


def test_prices_per_million_orders_and_total() -> None:
    counts = {
        "dynamodb_wru": 10.0,
        "dynamodb_rru": 8.0,
        "sqs_requests": 5.0,
        "lambda_requests": 4.0,
        "lambda_gb_seconds": 1.5,
        "apigw_requests": 3.0,
        "secrets_calls": 0.02,
        "scheduler_invocations": 0.0144,
    }
    dollars = price_of(counts)
    assert dollars["DynamoDB"] == pytest.approx(10 * 0.625 + 8 * 0.125)
    assert dollars["SQS"] == pytest.approx(5 * 0.40)
    assert dollars["Lambda"] == pytest.approx(4 * 0.20 + 1.5 * 0.0000133334 * 1_000_000)
    assert dollars["API Gateway"] == pytest.approx(3 * 3.50)
    assert dollars["Secrets Manager"] == pytest.approx(0.02 * 0.05 / 10_000 * 1_000_000)
    assert dollars["EventBridge Scheduler"] == pytest.approx(0.0144)
    assert dollars["total"] == pytest.approx(sum(v for k, v in dollars.items() if k != "total"))
    assert dollars["total"] == pytest.approx(7.25 + 2.0 + 0.8 + 20.0001 + 10.5 + 0.1 + 0.0144)


def test_prices_are_the_list_prices_and_can_be_replaced() -> None:
    assert price_of({"apigw_requests": 1.0})["total"] == pytest.approx(3.50)
    assert price_of({"dynamodb_wru": 1.0}, Prices(dynamodb_wru=1.25e-6))["DynamoDB"] == pytest.approx(1.25)
    assert PRICES.lambda_gb_second == 0.0000133334
    assert price_of({})["total"] == 0.0
    with pytest.raises(KeyError):
        price_of({"dynamodb_wcu": 1.0})


def test_fixed_daily_costs_spread_over_the_days_orders() -> None:
    assert fixed_per_order(1440, 100_000) == pytest.approx(0.0144)  # one scheduled poll per minute
    assert fixed_per_order(1440, 0) == 1440
    assert idle_sqs_polls_per_day(queues=1, pollers=5, wait_s=20) == 21_600
    # 4 (function, secret) pairs x 2 containers x 288 refreshes a day
    assert secrets_calls_per_order(4, 100_000, containers=2) == pytest.approx(4 * 2 * 288 / 100_000)


def test_the_api_price_follows_the_api_type_of_the_template() -> None:
    from benchmarks.cost_model import API_PRICES, api_type, prices_for

    def template(kind: str) -> dict[str, object]:
        return {"Resources": {"OrdersApiFunction": {"Properties": {"Events": {"Create": {"Type": kind}}}}}}

    assert api_type(template("HttpApi")) == "HTTP API" and api_type(template("Api")) == "REST API"
    assert prices_for(template("HttpApi")).apigw_request == API_PRICES["HTTP API"] == 1.00 / 1_000_000
    assert prices_for(template("Api")).apigw_request == 3.50 / 1_000_000
    assert api_type({"Resources": {"Api": {"Type": "AWS::Serverless::HttpApi"}}}) == "HTTP API"
    with pytest.raises(ValueError, match="API type"):
        api_type({"Resources": {"A": {"Properties": {"Events": {"a": {"Type": "Api"}, "b": {"Type": "HttpApi"}}}}}})


def test_batches_come_from_the_templates_batching_windows() -> None:
    from benchmarks.cost_model import Trigger, realistic_batch, triggers
    from local_stack.template import load_template

    found = triggers(load_template())
    assert found["DeliveryWorkerFunction"] == Trigger("DeliveryWorkerFunction", "SQS", 10, 1.0)
    assert found["DispatcherFunction"].kind == "DynamoDB" and found["DispatcherFunction"].batch_size == 100
    stream, queue = found["DispatcherFunction"], found["DeliveryWorkerFunction"]
    assert realistic_batch(4, 100_000, stream) == 4  # 4.6 records a second, one poller per shard
    assert realistic_batch(6, 100_000, queue) == 1  # 6.9 a second shared by 5 SQS pollers
    assert realistic_batch(6, 10_000_000, queue) == 10  # full batches
    assert realistic_batch(6, 10_000_000, Trigger("F", "SQS", 10, 0)) == 1  # no window: no waiting for a batch


def test_the_readme_cost_table_is_the_recorded_run_of_this_template() -> None:
    """``python -m benchmarks.cost_model --record`` writes both; a hand edit of either, or a template on
    another API type than the recorded run's, fails here until the model is run again."""
    import json

    from benchmarks.cost_model import BEFORE, LATEST, README, README_BEGIN, README_END, api_type, readme_section
    from local_stack.template import load_template

    with open(LATEST, encoding="utf-8") as handle:
        latest = json.load(handle)
    with open(README, encoding="utf-8") as handle:
        readme = handle.read()
    section = readme[readme.index(README_BEGIN) : readme.index(README_END) + len(README_END)]

    assert section == readme_section(BEFORE, latest)
    assert latest["api"] == api_type(load_template())
    assert latest["total"] == round(sum(latest["dollars"].values()), 2)


def test_api_requests_reach_the_limiter_at_the_days_rate_not_back_to_back() -> None:
    """At 100,000 orders a day (3.05 orders-API requests each, two warm containers) a container sees
    about 1.8 requests a second: the shared counter is written only in the odd second with 5 or more."""
    rate = api_requests_per_container_s(100_000, detail_reads=2)
    assert rate == pytest.approx(100_000 * 3.05 / 86_400 / 2)

    class Counter:
        def add_requests(self, tenant_id: str, second: int, count: int) -> int:
            return count

    spread, back_to_back = TenantRequestLimiter(Counter(), 50), TenantRequestLimiter(Counter(), 50)
    clock = ArrivalClock(rate)
    for n in range(1_000):
        spread.allow("acme", clock())
        back_to_back.allow("acme", 1_800_000_000 + n / 500)  # the lifecycle's own pace: hundreds a second
    assert clock.now - 1_800_000_000 == pytest.approx(1_000 / rate, rel=0.1)
    assert spread.writes <= 30 and back_to_back.writes == 200  # one write per 5 requests back to back
