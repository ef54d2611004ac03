"""Pricing: rate card arithmetic, provider choice and failures, sorting, the per-container cache (no sockets)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from order_hub.http_api import http_status_of
from order_hub.models.pricing import (
    Logistic,
    PricingData,
    PricingErrorItem,
    PricingRequest,
    ProviderQuotes,
    Quote,
    Rate,
    RateCard,
)
from order_hub.ports import ProviderError
from order_hub.services.pricing import (
    PricingCache,
    PricingService,
    PricingUnavailable,
    ProviderDirectory,
    RateCardPricing,
    chargeable_kg,
    default_rate_card,
    percent_of,
)


def request(**changes: Any) -> PricingRequest:
    body: dict[str, Any] = {
        "origin": {"area_id": 1},
        "destination": {"area_id": 2},
        "for_order": True,
        "skus": [{"height": 10, "length": 10, "width": 10, "weight": 1}],
    }
    body.update(changes)
    return PricingRequest.model_validate(body)


def card(**changes: Any) -> RateCard:
    body: dict[str, Any] = {
        "zones": {"A": [1], "B": [2]},
        "cod_fee_percent": "3",
        "cod_fee_min": 5000,
        "insurance_percent": "0.25",
        "insurance_min": 0,
        "services": [
            {
                "logistic": {"id": 1, "name": "Kurir", "code": "kurir"},
                "rate": {"id": 10, "name": "REG", "type": "regular"},
                "lanes": [
                    {"origin": "A", "destination": "B", "base_price": 1000, "per_kg_price": 10000, "min_day": 1, "max_day": 3}
                ],
            }
        ],
    }
    body.update(changes)
    return RateCard.model_validate(body)


def only_quote(answer: ProviderQuotes) -> Quote:
    assert answer.errors == []
    (quote,) = answer.quotes
    return quote


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- arithmetic ---------------------------------------------------------------------------------


def test_actual_weight_counts_when_heavier_than_volumetric() -> None:
    # 10 x 10 x 10 / 6000 = 0.17 kg volumetric < 1.2 kg actual -> 1.2 -> rounded up to 2 kg
    assert chargeable_kg(request(skus=[{"height": 10, "length": 10, "width": 10, "weight": 1.2}]).skus, 6000) == 2


def test_volumetric_weight_counts_when_heavier_than_actual() -> None:
    # 40 x 30 x 20 / 6000 = 4 kg volumetric > 0.5 kg actual
    assert chargeable_kg(request(skus=[{"height": 20, "length": 40, "width": 30, "weight": 0.5}]).skus, 6000) == 4


def test_qty_multiplies_and_the_total_is_rounded_up_once() -> None:
    # 3 x 0.3 kg + 1 x max(0.2, 30x20x10/6000 = 1) = 1.9 -> 2 kg (per-unit rounding would give 4)
    skus = request(
        skus=[
            {"height": 1, "length": 1, "width": 1, "weight": 0.3, "qty": 3},
            {"height": 10, "length": 30, "width": 20, "weight": 0.2},
        ]
    ).skus
    assert chargeable_kg(skus, 6000) == 2


def test_exact_whole_kg_is_not_rounded_up_and_tiny_parcels_pay_one_kg() -> None:
    assert chargeable_kg(request(skus=[{"height": 1, "length": 1, "width": 1, "weight": 2}]).skus, 6000) == 2
    assert chargeable_kg(request(skus=[{"height": 1, "length": 1, "width": 1, "weight": 0.001}]).skus, 6000) == 1


@pytest.mark.parametrize(
    ("value", "percent", "expected"), [(1000, "0.25", 3), (1000, "0.15", 2), (1000, "0.05", 1), (999, "3", 30)]
)
def test_percentages_round_half_up_to_whole_rupiah(value: int, percent: str, expected: int) -> None:
    # 2.5 -> 3, 1.5 -> 2, 0.5 -> 1 (half up, not banker's rounding), 29.97 -> 30
    assert percent_of(value, Decimal(percent)) == expected


def test_freight_is_base_plus_per_kg_times_chargeable_kg() -> None:
    quote = only_quote(RateCardPricing(card()).quote(request(skus=[{"height": 1, "length": 1, "width": 1, "weight": 2.5}]), "t"))
    assert quote.final_price == 1000 + 10000 * 3
    assert (quote.insurance_fee, quote.discount, quote.min_day, quote.max_day, quote.currency) == (0, 0, 1, 3, "IDR")
    assert quote.logistic == Logistic(id=1, name="Kurir", code="kurir") and quote.rate == Rate(id=10, name="REG", type="regular")


def test_cod_fee_is_a_percentage_of_the_order_price_with_a_minimum() -> None:
    pricing = RateCardPricing(card())
    assert only_quote(pricing.quote(request(cod=True, order_price=1_000_000), "t")).final_price == 11000 + 30000
    assert only_quote(pricing.quote(request(cod=True, order_price=10_000), "t")).final_price == 11000 + 5000  # the minimum


def test_insurance_is_a_percentage_of_the_item_value_only_when_asked() -> None:
    pricing = RateCardPricing(card())
    insured = only_quote(pricing.quote(request(with_insurance=True, order_price=1_000_001), "t"))
    assert insured.insurance_fee == 2500  # 2500.0025 -> 2500
    assert insured.final_price == 11000 + 2500
    assert only_quote(pricing.quote(request(order_price=1_000_000), "t")).insurance_fee == 0


def test_item_value_defaults_to_the_sum_of_sku_prices() -> None:
    skus = [{"height": 1, "length": 1, "width": 1, "weight": 0.5, "qty": 2, "price": 100_000}]
    quote = only_quote(RateCardPricing(card()).quote(request(skus=skus, with_insurance=True), "t"))
    assert quote.insurance_fee == 500  # 0.25 % of 200 000


def test_discount_percent_comes_off_the_freight() -> None:
    service = card().services[0].model_dump()
    quote = only_quote(RateCardPricing(card(services=[{**service, "discount_percent": "5"}])).quote(request(), "t"))
    assert quote.discount == 550 and quote.final_price == 11000 - 550


def test_zone_lookup_uses_the_table_then_the_default_zone() -> None:
    assert card().zone_of(1) == "A" and card().zone_of(99) is None
    lanes = [{"origin": "A", "destination": "B", "base_price": 0, "per_kg_price": 1, "min_day": 1, "max_day": 1}]
    lanes.append({**lanes[0], "origin": "REST", "per_kg_price": 7})
    service = {**card().services[0].model_dump(), "lanes": lanes}
    quote = only_quote(RateCardPricing(card(default_zone="REST", services=[service])).quote(request(origin={"area_id": 99}), "t"))
    assert quote.final_price == 7


def test_unknown_zone_is_a_pricing_error_for_that_courier_only() -> None:
    answer = RateCardPricing(default_rate_card()).quote(request(origin={"area_id": 4711}, destination={"area_id": 999_999}), "t")
    assert {(q.logistic.name, q.rate.name) for q in answer.quotes} == {("JNE", "REG"), ("SiCepat", "REG")}  # national lanes
    assert sorted(error.message.split(":")[0] for error in answer.errors) == ["GoSend Instant", "GoSend Same Day", "JNE YES"]
    assert all("no service from zone JAKARTA to zone NATIONAL" in error.message for error in answer.errors)
    strict = RateCardPricing(card()).quote(request(destination={"area_id": 77}), "t")
    assert strict.quotes == []
    assert strict.errors == [
        PricingErrorItem(code=810, message="Kurir REG: destination area 77 is in no zone of the rate card", logistic_id=1)
    ]


def test_rate_type_filters_services_and_instant_refuses_cod_and_heavy_parcels() -> None:
    pricing = RateCardPricing(default_rate_card())
    where = {
        "origin": {"area_id": 4711, "lat": "-6.2", "lng": "106.8"},
        "destination": {"area_id": 4712, "lat": "-6.3", "lng": "106.9"},
    }
    instant = pricing.quote(request(rate_type_id="instant", **where), "t")
    assert [(q.logistic.code, q.rate.type) for q in instant.quotes] == [("gosend", "instant")]
    cod = pricing.quote(request(rate_type_id="instant", cod=True, **where), "t")
    assert cod.quotes == [] and "COD" in cod.errors[0].message
    heavy = pricing.quote(
        request(rate_type_id="instant", skus=[{"height": 1, "length": 1, "width": 1, "weight": 25}], **where), "t"
    )
    assert heavy.quotes == [] and "25 kg is over the 20 kg limit" in heavy.errors[0].message


def test_instant_and_same_day_need_coordinates_named_per_field() -> None:
    with pytest.raises(ValidationError) as raised:
        request(rate_type_id="same-day", destination={"area_id": 2, "lat": "-6.1", "lng": "106.1"})
    assert [error["loc"] for error in raised.value.errors()] == [("origin", "lat"), ("origin", "lng")]
    request(rate_type_id="regular")  # fine without coordinates


def test_a_rate_type_no_courier_offers_says_so_in_pricing_errors() -> None:
    answer = RateCardPricing(default_rate_card()).quote(request(rate_type_id="trucking"), "t")
    assert answer.quotes == []
    assert answer.errors == [
        PricingErrorItem(
            code=810,
            message="no courier of this account offers rate type 'trucking' (offered: express, instant, regular, same-day)",
        )
    ]


def test_rate_card_refuses_an_area_in_two_zones() -> None:
    with pytest.raises(ValidationError, match="area 1 is in zones A and B"):
        card(zones={"A": [1], "B": [1, 2]})


# --- the service ----------------------------------------------------------------------------------


def quote(price: int, name: str = "X", max_day: int = 2) -> Quote:
    return Quote(
        logistic=Logistic(id=1, name=name, code=name.lower()),
        rate=Rate(id=1, name="R", type="regular"),
        final_price=price,
        max_day=max_day,
    )


class FakeProvider:
    def __init__(self, name: str, quotes: list[Quote] | None = None, fail: str | None = None) -> None:
        self.name = name
        self.quotes = quotes or []
        self.fail = fail
        self.calls = 0

    def quote(self, request: PricingRequest, tenant_id: str) -> ProviderQuotes:
        self.calls += 1
        if self.fail:
            raise ProviderError(self.fail)
        return ProviderQuotes(provider=self.name, quotes=self.quotes)


def service(provider: FakeProvider, ttl: float = 60, clock: Clock | None = None) -> PricingService:
    return PricingService(lambda tenant_id: provider, PricingCache(ttl, clock=clock or Clock()))


def test_the_providers_quotes_come_cheapest_first() -> None:
    data, cached = service(FakeProvider("a", [quote(30000), quote(9000, "Z"), quote(12000), quote(9000, "A")])).price(
        "t", request()
    )
    assert [(q.final_price, q.logistic.name) for q in data.pricings] == [(9000, "A"), (9000, "Z"), (12000, "X"), (30000, "X")]
    assert not cached and data.pricing_errors == []


def test_a_failing_provider_is_pricing_unavailable_and_not_cached() -> None:
    provider = FakeProvider("shipper-logistics", fail="Shipper logistics HTTP 502 after 2 attempts")
    pricing = service(provider)
    for _ in range(2):
        with pytest.raises(PricingUnavailable) as raised:
            pricing.price("t", request())
        assert (http_status_of(raised.value), raised.value.code) == (503, 803)
        assert str(raised.value) == (
            "No shipping price is available right now: shipper-logistics: Shipper logistics HTTP 502 after 2 attempts"
        )
    assert provider.calls == 2


def test_a_price_beyond_the_input_bound_is_declined_not_quoted() -> None:
    data, _ = service(FakeProvider("a", [quote(10**13, "Edge"), quote(10**13 + 1, "Huge"), quote(5 * 10**19, "Int64")])).price(
        "t", request()
    )
    assert [q.logistic.name for q in data.pricings] == ["Edge"]
    assert [e.code for e in data.pricing_errors] == [810, 810]
    assert data.pricing_errors[0].message == (
        "Huge R: the price would exceed 10,000,000,000,000 IDR, the most this API quotes; split the parcel"
    )


def test_one_hundred_maximal_skus_give_declined_quotes_not_an_int64_overflow() -> None:
    biggest = {"height": 10_000, "length": 10_000, "width": 10_000, "weight": 100_000, "qty": 100_000, "price": 10**13}
    big = request(skus=[biggest] * 100, cod=True, with_insurance=True, order_price=10**13)
    data, _ = service_over(RateCardPricing(default_rate_card())).price("t", big)
    assert data.pricings == []
    assert {e.code for e in data.pricing_errors} == {810}
    assert sum("would exceed 10,000,000,000,000 IDR" in e.message for e in data.pricing_errors) == 2  # JNE REG, SiCepat REG


def test_an_answer_with_nothing_in_it_says_why() -> None:
    data, _ = service(FakeProvider("a", [])).price("t", request(rate_type_id="trucking"))
    assert data.pricings == []
    assert data.pricing_errors == [PricingErrorItem(code=810, message="no courier quoted rate type 'trucking' for this parcel")]


def service_over(provider: Any) -> PricingService:
    return PricingService(lambda tenant_id: provider, PricingCache(60, clock=Clock()))


def test_identical_requests_hit_the_cache_until_the_ttl_runs_out() -> None:
    clock = Clock()
    provider = FakeProvider("a", [quote(5)])
    pricing = service(provider, clock=clock)
    assert pricing.price("t", request())[1] is False
    clock.now += 59.9
    data, cached = pricing.price(
        "t", request(skus=[{"height": 10, "length": 10, "width": 10, "weight": 1, "qty": 1}])
    )  # same, canonically
    assert cached and provider.calls == 1 and data.pricings[0].final_price == 5
    clock.now += 0.2
    assert pricing.price("t", request())[1] is False and provider.calls == 2


def test_the_cache_key_is_the_tenant_and_the_whole_request() -> None:
    provider = FakeProvider("a", [quote(5)])
    pricing = service(provider)
    pricing.price("t", request())
    assert pricing.price("other", request())[1] is False
    assert pricing.price("t", request(cod=True))[1] is False
    assert provider.calls == 3


def test_ttl_zero_turns_the_cache_off() -> None:
    off = FakeProvider("a", [quote(5)])
    uncached = service(off, ttl=0)
    uncached.price("t", request())
    assert uncached.price("t", request())[1] is False and off.calls == 2


def test_the_cache_forgets_the_oldest_entries_beyond_its_size() -> None:
    cache = PricingCache(60, max_entries=2, clock=Clock())
    for n in range(3):
        cache.put(("t", str(n)), PricingData(pricings=[], pricing_errors=[]))
    assert len(cache) == 2 and cache.get(("t", "0")) is None and cache.get(("t", "2")) is not None


# --- provider choice ------------------------------------------------------------------------------


class Cards:
    def __init__(self, card: dict[str, Any] | None = None) -> None:
        self.card = card
        self.reads = 0

    def get_rate_card(self, tenant_id: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.card


def directory(secret: dict[str, Any] | None, cards: Cards, clock: Clock | None = None) -> ProviderDirectory:
    return ProviderDirectory(
        lambda name: secret if name == "hub/t/logistics" else None,
        cards,
        lambda base_url, api_key: FakeProvider(f"http:{base_url}"),
        ttl=300,
        clock=clock or Clock(),
    )


def test_no_configuration_prices_with_the_built_in_card() -> None:
    assert directory(None, Cards()).provider_for("t").name == "rate-card"


def test_first_match_wins_logistics_credentials_then_the_stored_card() -> None:
    stored = card().model_dump(mode="json")
    cards = Cards(stored)
    assert directory({"base_url": "https://x", "api_key": "k"}, cards).provider_for("t").name == "http:https://x"
    assert cards.reads == 0  # the stored card is not even read
    assert directory(None, Cards(stored)).provider_for("t").name == "tenant-rate-card"


def test_an_invalid_stored_card_fails_as_the_provider() -> None:
    provider = directory(None, Cards({"zones": "nope"})).provider_for("t")
    with pytest.raises(ProviderError, match="stored rate card is invalid"):
        provider.quote(request(), "t")


def test_unreadable_credentials_fail_and_are_looked_up_again() -> None:
    calls = []

    def unreadable(name: str) -> dict[str, Any] | None:
        calls.append(name)
        raise RuntimeError("throttled")

    choose = ProviderDirectory(unreadable, Cards(), lambda base_url, api_key: FakeProvider("http"), ttl=300, clock=Clock())
    with pytest.raises(ProviderError, match="credentials could not be read"):
        choose.provider_for("t").quote(request(), "t")
    choose.provider_for("t")
    assert calls == ["hub/t/logistics", "hub/t/logistics"]


def test_provider_choice_is_remembered_for_its_ttl() -> None:
    clock, cards = Clock(), Cards()
    choose = directory(None, cards, clock)
    choose.provider_for("t")
    choose.provider_for("t")
    assert cards.reads == 1
    clock.now += 301
    choose.provider_for("t")
    assert cards.reads == 2


def test_provider_choices_are_cached_for_five_minutes_by_default() -> None:
    from order_hub.config import PricingSettings

    assert PricingSettings.model_fields["PRICING_CONFIG_TTL_SECONDS"].default == 300  # the README's "5 minutes"
