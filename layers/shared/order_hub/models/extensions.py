"""Optional extension fields on create: what Increff/Unicommerce formats need and Shipper lacks.

Nothing here has a default that invents business data (tax, HSN, partner codes): absent means
absent, and a format that needs a missing value fails its delivery with a clear reason.
"""

from pydantic import Field, StrictBool

from order_hub.models.common import IsoDate, Money, Rate, Strict


class TaxLine(Strict):
    type: str = Field(min_length=1, max_length=20, description="IGST, CGST, SGST, UTGST, VAT, PPN, ...")
    cost_head: str = Field(default="SELLING_PRICE", max_length=40, description="SELLING_PRICE, SHIPPING_CHARGES, ...")
    rate: Rate
    per_unit: Money
    total: Money


class LineExt(Strict):
    hsn_code: str | None = Field(default=None, max_length=20)
    barcode: str | None = Field(default=None, max_length=64)
    channel_sku_code: str | None = Field(default=None, max_length=255)
    tax_lines: list[TaxLine] = Field(default_factory=list, max_length=20)


class Address(Strict):
    name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)
    line1: str = Field(max_length=400)
    line2: str | None = Field(default=None, max_length=400)
    city: str = Field(max_length=50)
    state: str | None = Field(default=None, max_length=50)
    state_code: str | None = Field(default=None, max_length=10)
    zip: str = Field(max_length=20)
    country: str | None = Field(default=None, max_length=60)
    country_code: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class Invoice(Strict):
    number: str = Field(min_length=1, max_length=100)
    date: IsoDate | None = None
    url: str | None = Field(default=None, max_length=1000)
    irn: str | None = Field(default=None, max_length=255)
    qr_code: str | None = Field(default=None, max_length=4000)


class OrderExt(Strict):
    channel_name: str | None = Field(default=None, max_length=255)
    channel_code: str | None = Field(default=None, max_length=255)
    channel_type: str | None = Field(default=None, max_length=255)
    partner_code: str | None = Field(default=None, max_length=255)
    partner_location_code: str | None = Field(default=None, max_length=255)
    location_code: str | None = Field(default=None, max_length=255)
    facility_code: str | None = Field(default=None, max_length=255)
    parent_order_no: str | None = Field(default=None, max_length=50)
    is_priority: StrictBool | None = None
    consignee_state_code: str | None = Field(default=None, max_length=10)
    consignee_country_code: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    billing_address: Address | None = None
    invoice: Invoice | None = None
