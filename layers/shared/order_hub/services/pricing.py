"""Domestic shipping prices: one provider per tenant, the built-in rate card, and short per-container caches.

The provider of a tenant, first match wins (chosen once per ``PRICING_CONFIG_TTL_SECONDS``, 300 s):
- Shipper logistics (HTTP) when the secret ``hub/<tenant>/logistics`` exists;
- else the tenant's own rate card when the tenants table holds ``TENANT#<id>`` / ``RATECARD``;
- else the built-in demo card (``default_rate_card()``, what the local stack prices with).
Only that provider is asked: its quotes carry its own courier and rate ids, which is what a client
of Shipper's pricing books with, so quotes of two providers are never mixed in one answer. When it
fails (unreachable, unreadable credentials, an invalid stored card): ``PricingUnavailable`` (503 /
803), never a fallback to another price list.

Rate card arithmetic (all money IDR integers):
- chargeable kg = ceil( sum over skus of max(weight, L x W x H / divisor) x qty ), at least 1 kg:
  actual vs volumetric is decided per sku unit, the total is rounded **up** to a whole kg;
- freight = base_price + per_kg_price x chargeable kg; discount = discount_percent of the freight;
- insurance_fee = max(insurance_min, insurance_percent of the item value), only with_insurance;
- COD fee = max(cod_fee_min, cod_fee_percent of the item value), only for COD;
- final_price = freight - discount + insurance_fee + COD fee.
Percentages are rounded to whole rupiah half up (0.5 -> 1). The item value is ``order_price``, else
the sum of sku ``price x qty``.

Bounds: a quote whose price (or fee or discount) would exceed ``MAX_IDR`` (10^13 IDR, the bound of
every money input) is declined: it becomes a ``pricing_errors[]`` entry (810) for that courier, so
no answer ever carries a number beyond int64. An answer with neither quotes nor errors (e.g.
``rate_type_id`` of a type no courier offers) gets an 810 entry saying why.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from pydantic import ValidationError

from order_hub.errors import CODE_INVALID_INPUT, PricingUnavailable
from order_hub.models.pricing import (
    MAX_IDR,
    Lane,
    PricingData,
    PricingErrorItem,
    PricingRequest,
    PricingSku,
    ProviderQuotes,
    Quote,
    RateCard,
    ServiceCard,
)
from order_hub.ports import LogisticsPricing, ProviderError, RateCardStore

CODE_NOT_SERVED = CODE_INVALID_INPUT


# --- arithmetic -------------------------------------------------------------------------------


def percent_of(value: int, percent: Decimal) -> int:
    """``percent`` % of ``value`` as whole rupiah, half up."""
    return int((Decimal(value) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def unit_kg(sku: PricingSku, divisor: int) -> Decimal:
    """The heavier of the actual and the volumetric weight of one unit."""
    volumetric = Decimal(sku.length * sku.width * sku.height) / divisor
    return max(sku.weight, volumetric)


def chargeable_kg(skus: list[PricingSku], divisor: int) -> int:
    """Sum of per-unit max(actual, volumetric) x qty, rounded up to a whole kg (at least 1)."""
    total = sum((unit_kg(sku, divisor) * sku.qty for sku in skus), Decimal(0))
    return max(1, int(total.to_integral_value(rounding=ROUND_CEILING)))


# --- the rate card provider -------------------------------------------------------------------


class RateCardPricing:
    """Prices from a rate card (no I/O)."""

    def __init__(self, card: RateCard, name: str = "rate-card") -> None:
        self.name = name
        self._card = card
        self._zones = {area_id: zone for zone, area_ids in card.zones.items() for area_id in area_ids}
        self._lanes: list[dict[tuple[str, str], Lane]] = [
            {(lane.origin, lane.destination): lane for lane in service.lanes} for service in card.services
        ]

    def _zone(self, area_id: int) -> str | None:
        return self._zones.get(area_id, self._card.default_zone)

    def quote(self, request: PricingRequest, tenant_id: str) -> ProviderQuotes:
        card = self._card
        origin, destination = self._zone(request.origin.area_id), self._zone(request.destination.area_id)
        kg = chargeable_kg(request.skus, card.volumetric_divisor)
        value = request.item_value
        insurance = max(card.insurance_min, percent_of(value, card.insurance_percent)) if request.with_insurance else 0
        cod_fee = max(card.cod_fee_min, percent_of(value, card.cod_fee_percent)) if request.cod else 0
        result = ProviderQuotes(provider=self.name)
        if request.rate_type_id and not any(service.rate.type == request.rate_type_id for service in card.services):
            offered = sorted({service.rate.type for service in card.services})
            result.errors.append(
                PricingErrorItem(
                    code=CODE_NOT_SERVED,
                    message=f"no courier of this account offers rate type '{request.rate_type_id}' "
                    f"(offered: {', '.join(offered)})",
                )
            )
            return result
        for service, lanes in zip(card.services, self._lanes, strict=True):
            if request.rate_type_id and service.rate.type != request.rate_type_id:
                continue
            label = f"{service.logistic.name} {service.rate.name}"

            def refuse(reason: str, service: ServiceCard = service, label: str = label) -> None:
                result.errors.append(
                    PricingErrorItem(code=CODE_NOT_SERVED, message=f"{label}: {reason}", logistic_id=service.logistic.id)
                )

            if origin is None or destination is None:
                side = "origin" if origin is None else "destination"
                refuse(f"{side} area {getattr(request, side).area_id} is in no zone of the rate card")
                continue
            lane = lanes.get((origin, destination))
            if lane is None:
                refuse(f"no service from zone {origin} to zone {destination}")
                continue
            if request.cod and not service.cod:
                refuse("does not take COD parcels")
                continue
            if service.max_weight_kg is not None and kg > service.max_weight_kg:
                refuse(f"{kg} kg is over the {service.max_weight_kg} kg limit")
                continue
            freight = lane.base_price + lane.per_kg_price * kg
            discount = percent_of(freight, service.discount_percent)
            result.quotes.append(
                Quote(
                    logistic=service.logistic,
                    rate=service.rate,
                    final_price=freight - discount + insurance + cod_fee,
                    insurance_fee=insurance,
                    discount=discount,
                    min_day=lane.min_day,
                    max_day=lane.max_day,
                )
            )
        return result


class BrokenProvider:
    """A provider that could not even be set up (unreadable credentials, an invalid stored card)."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self._reason = reason

    def quote(self, request: PricingRequest, tenant_id: str) -> ProviderQuotes:
        raise ProviderError(self._reason)


# --- the built-in card ------------------------------------------------------------------------

DEMO_ZONES: dict[str, list[int]] = {
    "JAKARTA": [4711, 4712, 4713, 4714, 4715],
    "BANDUNG": [1401, 1402, 1403],
    "SURABAYA": [3101, 3102],
}
NATIONAL = "NATIONAL"


def _tier(origin: str, destination: str) -> str:
    if NATIONAL in (origin, destination):
        return "national"
    if origin == destination:
        return "local"
    return "near" if {origin, destination} == {"JAKARTA", "BANDUNG"} else "far"


# per service: tier -> (base_price, per_kg_price, min_day, max_day); a missing tier is not served
_DEMO_SERVICES: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, tuple[int, int, int, int]]]] = [
    (
        {"id": 4, "name": "JNE", "code": "jne"},
        {"id": 4, "name": "REG", "type": "regular"},
        {},
        {"local": (2000, 9000, 1, 2), "near": (2000, 12000, 2, 3), "far": (2000, 17000, 2, 4), "national": (2000, 28000, 3, 7)},
    ),
    (
        {"id": 4, "name": "JNE", "code": "jne"},
        {"id": 5, "name": "YES", "type": "express"},
        {},
        {"local": (5000, 16000, 1, 1), "near": (5000, 21000, 1, 1), "far": (5000, 30000, 1, 2)},
    ),
    (
        {"id": 6, "name": "SiCepat", "code": "sicepat"},
        {"id": 20, "name": "REG", "type": "regular"},
        {"discount_percent": "5"},
        {"local": (0, 9500, 1, 2), "near": (0, 11500, 2, 3), "far": (0, 16500, 2, 5), "national": (0, 27000, 4, 8)},
    ),
    (
        {"id": 21, "name": "GoSend", "code": "gosend"},
        {"id": 60, "name": "Instant", "type": "instant"},
        {"cod": False, "max_weight_kg": 20},
        {"local": (20000, 2500, 0, 0)},
    ),
    (
        {"id": 21, "name": "GoSend", "code": "gosend"},
        {"id": 61, "name": "Same Day", "type": "same-day"},
        {"cod": False, "max_weight_kg": 20},
        {"local": (12000, 2000, 0, 1)},
    ),
]


@cache
def default_rate_card() -> RateCard:
    """The built-in demo card: illustrative prices, area ids and zones (not any courier's real tariff)."""
    zones = [*DEMO_ZONES, NATIONAL]
    services = []
    for logistic, rate, extra, tiers in _DEMO_SERVICES:
        lanes = [
            {"origin": a, "destination": b, "base_price": p[0], "per_kg_price": p[1], "min_day": p[2], "max_day": p[3]}
            for a in zones
            for b in zones
            if (p := tiers.get(_tier(a, b))) is not None
        ]
        services.append({"logistic": logistic, "rate": rate, **extra, "lanes": lanes})
    return RateCard.model_validate(
        {
            "zones": DEMO_ZONES,
            "default_zone": NATIONAL,
            "cod_fee_percent": "3",
            "cod_fee_min": 5000,
            "insurance_percent": "0.2",
            "insurance_min": 1000,
            "services": services,
        }
    )


# --- provider choice per tenant ---------------------------------------------------------------


class ProviderDirectory:
    """Which provider prices a tenant's parcels, first match wins (looked up once per ``ttl`` seconds per tenant)."""

    def __init__(
        self,
        read_secret: Callable[[str], dict[str, Any] | None],
        cards: RateCardStore,
        http_provider: Callable[[str, str], LogisticsPricing],
        ttl: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_secret = read_secret
        self._cards = cards
        self._http_provider = http_provider
        self._ttl = ttl
        self._clock = clock
        self._known: dict[str, tuple[float, LogisticsPricing]] = {}

    def provider_for(self, tenant_id: str) -> LogisticsPricing:
        now = self._clock()
        known = self._known.get(tenant_id)
        if known and known[0] > now:
            return known[1]
        provider, lasting = self._look_up(tenant_id)
        if lasting and self._ttl > 0:
            self._known[tenant_id] = (now + self._ttl, provider)
        return provider

    def _look_up(self, tenant_id: str) -> tuple[LogisticsPricing, bool]:
        """(the provider, whether the choice may be remembered): Shipper logistics, else the stored card, else the demo card."""
        from order_hub.models.pricing import LOGISTICS_PROVIDER as PROVIDER
        from order_hub.observability import logger
        from order_hub.secret_names import logistics_secret_name

        try:
            secret = self._read_secret(logistics_secret_name(tenant_id))
        except Exception as error:  # e.g. throttled or access denied: try again on the next request
            logger.warning("logistics credentials unreadable", extra={"error": type(error).__name__})
            return BrokenProvider(PROVIDER, "Shipper logistics credentials could not be read"), False
        if secret and secret.get("base_url") and secret.get("api_key"):
            return self._http_provider(str(secret["base_url"]), str(secret["api_key"])), True
        raw = self._cards.get_rate_card(tenant_id)
        if raw is None:
            return RateCardPricing(default_rate_card()), True
        try:
            return RateCardPricing(RateCard.model_validate(raw), name="tenant-rate-card"), True
        except ValidationError as error:
            logger.error("stored rate card is invalid", extra={"errors": error.error_count()})
            return BrokenProvider("tenant-rate-card", "the account's stored rate card is invalid"), True


# --- cache ------------------------------------------------------------------------------------


class PricingCache:
    """Answers to identical requests (tenant + canonical request JSON) for ``ttl`` seconds, per container."""

    def __init__(self, ttl: float, max_entries: int = 2048, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, PricingData]] = OrderedDict()

    @staticmethod
    def key(tenant_id: str, request: PricingRequest) -> tuple[str, str]:
        return tenant_id, json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def get(self, key: tuple[str, str]) -> PricingData | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: tuple[str, str], data: PricingData) -> None:
        if self._ttl <= 0:
            return
        self._entries[key] = (self._clock() + self._ttl, data)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


# --- the service ------------------------------------------------------------------------------


def _sort_key(quote: Quote) -> tuple[int, int, str, str]:
    return quote.final_price, quote.max_day, quote.logistic.name, quote.rate.name


def _within_bounds(quote: Quote) -> bool:
    return all(0 <= amount <= MAX_IDR for amount in (quote.final_price, quote.insurance_fee, quote.discount))


def _declined(quote: Quote) -> PricingErrorItem:
    return PricingErrorItem(
        code=CODE_NOT_SERVED,
        message=f"{quote.logistic.name} {quote.rate.name}: the price would exceed {MAX_IDR:,} IDR, "
        "the most this API quotes; split the parcel",
        logistic_id=quote.logistic.id,
    )


def _nothing_offered(request: PricingRequest) -> PricingErrorItem:
    asked = f"rate type '{request.rate_type_id}'" if request.rate_type_id else "any rate type"
    return PricingErrorItem(code=CODE_NOT_SERVED, message=f"no courier quoted {asked} for this parcel")


class PricingService:
    def __init__(self, provider_for: Callable[[str], LogisticsPricing], cache: PricingCache) -> None:
        self._provider_for = provider_for
        self._cache = cache

    def price(self, tenant_id: str, request: PricingRequest) -> tuple[PricingData, bool]:
        """The tenant's provider's quotes, cheapest first, and whether they came from the cache."""
        key = self._cache.key(tenant_id, request)
        cached = self._cache.get(key)
        if cached is not None:
            return cached, True
        from order_hub.observability import logger

        provider = self._provider_for(tenant_id)
        try:
            answer = provider.quote(request, tenant_id)
        except ProviderError as error:
            logger.warning("pricing provider failed", extra={"provider": provider.name, "reason": str(error)})
            raise PricingUnavailable(f"No shipping price is available right now: {provider.name}: {error}"[:400]) from error
        quotes = [quote for quote in answer.quotes if _within_bounds(quote)]
        errors = [*answer.errors, *(_declined(quote) for quote in answer.quotes if not _within_bounds(quote))]
        if not quotes and not errors:
            errors.append(_nothing_offered(request))
        data = PricingData(pricings=sorted(quotes, key=_sort_key), pricing_errors=errors)
        self._cache.put(key, data)
        return data, False
