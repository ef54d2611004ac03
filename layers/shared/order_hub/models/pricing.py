"""Domestic shipping prices: ``POST /v3/fulfillment/pricing/domestic`` (vendor-notes §1.8).

Request fields follow Shipper's fulfilment pricing page; where it is cut off (``skus[]`` beyond
``height``) and for the response (NOT FOUND there), the shapes are the hub's design after
Shipper's logistics pricing (``data.pricings[]`` / ``data.pricing_errors[]``). Prices are IDR
integers. The rate card shapes (a tenant's own prices) live here too.
"""

from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, WithJsonSchema, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from order_hub.models.common import Strict
from order_hub.models.responses import Metadata

RateTypeId = Literal["regular", "express", "trucking", "instant", "same-day"]
RATE_TYPES: tuple[RateTypeId, ...] = ("regular", "express", "trucking", "instant", "same-day")
NEEDS_COORDINATES: frozenset[str] = frozenset({"instant", "same-day"})
MAX_SKUS = 100
MAX_IDR = 10**13
LOGISTICS_PROVIDER = "shipper-logistics"  # the name Shipper logistics quotes and errors carry


def _number_only(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a JSON number")
    return value


Kilograms = Annotated[
    Decimal,
    BeforeValidator(_number_only),
    Field(gt=0, le=100_000, max_digits=10, decimal_places=3),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 100000, "multipleOf": 0.001}),
]
"""A weight in kg (a JSON number, up to 3 decimal places: grams)."""

Centimetres = Annotated[StrictInt, Field(ge=1, le=10_000)]
Idr = Annotated[StrictInt, Field(ge=0, le=MAX_IDR)]
Coordinate = Annotated[str, Field(min_length=1, max_length=24, pattern=r"^-?[0-9]{1,3}(\.[0-9]{1,15})?$", examples=["-6.2255"])]


class PricingLocation(Strict):
    area_id: StrictInt = Field(ge=1, le=2_147_483_647, description="Area id from Shipper's Location API")
    suburb_id: StrictInt | None = Field(default=None, ge=1, le=2_147_483_647)
    lat: Coordinate | None = Field(default=None, description="Mandatory for instant and same-day rates")
    lng: Coordinate | None = Field(default=None, description="Mandatory for instant and same-day rates")


class PricingSku(Strict):
    height: Centimetres = Field(description="cm")
    length: Centimetres = Field(description="cm")
    width: Centimetres = Field(description="cm")
    weight: Kilograms = Field(description="Actual weight of one unit, kg")
    qty: StrictInt = Field(default=1, ge=1, le=100_000)
    price: Idr | None = Field(default=None, description="Unit price, IDR")


class PricingRequest(Strict):
    """Ask for domestic shipping prices of one parcel (all ``skus`` travel together)."""

    origin: PricingLocation
    destination: PricingLocation
    for_order: StrictBool
    rate_type_id: RateTypeId | None = Field(default=None, description="Only this rate type; every type when absent")
    cod: StrictBool = False
    with_insurance: StrictBool = False
    order_price: Idr | None = Field(default=None, description="Total order price, IDR; defaults to the sum of skus price x qty")
    skus: list[PricingSku] = Field(min_length=1, max_length=MAX_SKUS)

    @model_validator(mode="after")
    def _coordinates_for_instant(self) -> Self:
        if self.rate_type_id not in NEEDS_COORDINATES:
            return self
        missing: list[InitErrorDetails] = [
            {
                "type": PydanticCustomError("coordinates_required", "is mandatory for instant and same-day rates"),
                "loc": (side, part),
                "input": None,
            }
            for side in ("origin", "destination")
            for part in ("lat", "lng")
            if getattr(getattr(self, side), part) is None
        ]
        if missing:
            raise ValidationError.from_exception_data(type(self).__name__, missing)
        return self

    @property
    def item_value(self) -> int:
        """``order_price``, else the sum of the skus' ``price x qty`` (0 when no price is known)."""
        if self.order_price is not None:
            return self.order_price
        return sum((sku.price or 0) * sku.qty for sku in self.skus)


# --- results (also the response shapes) -------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Logistic(_Out):
    id: int
    name: str = Field(examples=["JNE"])
    code: str = Field(examples=["jne"])


class Rate(_Out):
    id: int
    name: str = Field(examples=["REG"])
    type: str = Field(examples=["regular"], description="regular, express, trucking, instant, same-day")


class Quote(_Out):
    """One courier service's price for the parcel (IDR integers)."""

    logistic: Logistic
    rate: Rate
    final_price: int = Field(description="What the shipment costs, fees included, discount deducted")
    insurance_fee: int = 0
    discount: int = 0
    min_day: int = 0
    max_day: int = 0
    currency: Literal["IDR"] = "IDR"


class PricingErrorItem(_Out):
    """A courier (or a whole provider) that could not quote; the other quotes stand."""

    code: int | str = Field(
        description=(
            "810: the service does not cover this parcel, its price would exceed 10^13 IDR, or no courier offers the "
            "rate type; 803: the provider could not read that courier's price; else the provider's own"
        )
    )
    message: str
    logistic_id: int | None = None


class PricingData(_Out):
    pricings: list[Quote] = Field(description="Cheapest first")
    pricing_errors: list[PricingErrorItem]


class PricingResponse(_Out):
    metadata: Metadata
    data: PricingData


# --- rate card --------------------------------------------------------------------------------


class Lane(BaseModel):
    """Prices of one service from one zone to another (IDR)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    origin: str = Field(min_length=1, max_length=40)
    destination: str = Field(min_length=1, max_length=40)
    base_price: int = Field(ge=0, le=MAX_IDR)
    per_kg_price: int = Field(ge=0, le=MAX_IDR)
    min_day: int = Field(ge=0, le=365)
    max_day: int = Field(ge=0, le=365)


class ServiceCard(BaseModel):
    """One courier service of the card, e.g. JNE REG."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    logistic: Logistic
    rate: Rate
    cod: bool = Field(default=True, description="Whether the service takes COD parcels")
    max_weight_kg: int | None = Field(default=None, ge=1)
    discount_percent: Decimal = Field(default=Decimal(0), ge=0, le=100, description="Off the freight")
    lanes: list[Lane] = Field(min_length=1)


class RateCard(BaseModel):
    """A tenant's rate card (JSON in the tenants table, item ``TENANT#<id>`` / ``RATECARD``, attribute ``doc``).

    Money is IDR; percentages are of the item value (``order_price`` or the sum of sku prices).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    zones: dict[str, list[int]] = Field(description="zone -> area ids")
    default_zone: str | None = Field(
        default=None, description="Zone of area ids listed nowhere; None: unknown areas are not served"
    )
    volumetric_divisor: int = Field(default=6000, ge=1, description="cm3 per kg: volumetric kg = L x W x H / divisor")
    cod_fee_percent: Decimal = Field(default=Decimal(3), ge=0, le=100)
    cod_fee_min: int = Field(default=5000, ge=0, le=MAX_IDR)
    insurance_percent: Decimal = Field(default=Decimal("0.2"), ge=0, le=100)
    insurance_min: int = Field(default=0, ge=0, le=MAX_IDR)
    services: list[ServiceCard] = Field(min_length=1)

    @model_validator(mode="after")
    def _area_in_one_zone(self) -> Self:
        seen: dict[int, str] = {}
        for zone, area_ids in self.zones.items():
            for area_id in area_ids:
                if area_id in seen:
                    raise ValueError(f"area {area_id} is in zones {seen[area_id]} and {zone}")
                seen[area_id] = zone
        return self

    def zone_of(self, area_id: int) -> str | None:
        for zone, area_ids in self.zones.items():
            if area_id in area_ids:
                return zone
        return self.default_zone


class ProviderQuotes(BaseModel):
    """What one provider answered: its quotes and the couriers it could not quote with."""

    model_config = ConfigDict(defer_build=True)

    provider: str
    quotes: list[Quote] = Field(default_factory=list)
    errors: list[PricingErrorItem] = Field(default_factory=list)
