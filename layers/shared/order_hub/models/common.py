"""Shared field types: money, bounded strings, codes."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from annotated_types import MaxLen
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)


def _decimal_to_json(value: Decimal) -> int | float:
    # Shortest-repr floats round-trip every amount with <= 15 significant digits exactly,
    # so JSON clients see 12.35, never 12.349999.
    return int(value) if value == value.to_integral_value() else float(value)


def _number_only(value: object) -> object:
    """Amounts are JSON numbers: text ("12.50") and booleans are refused, as the schema says."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a JSON number")
    return value


Money = Annotated[
    Decimal,
    BeforeValidator(_number_only),
    Field(ge=0, max_digits=15, decimal_places=2),
    PlainSerializer(_decimal_to_json, return_type=int | float, when_used="json"),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 9999999999999.99, "multipleOf": 0.01}),
]
"""A non-negative amount with at most 2 decimal places (IDR amounts are integers)."""

Rate = Annotated[
    Decimal,
    BeforeValidator(_number_only),
    Field(ge=0, le=100, max_digits=7, decimal_places=4),
    PlainSerializer(_decimal_to_json, return_type=int | float, when_used="json"),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.0001}),
]
"""A percentage such as a tax rate (0..100)."""

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_text(value: object) -> object:
    """Dates in queries are ``yyyy-MM-dd`` text only (pydantic would also take numbers as timestamps)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date as yyyy-MM-dd")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]

CODE_PATTERN = r"^[A-Za-z0-9_.\-]*[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$"
"""Identifiers that become part of keys and URL paths: letters, digits, '_', '.', '-', with at least
one character that is not a dot ('.' and '..' are path steps: a URL would normalise them away)."""


def code(max_length: int) -> object:
    return Field(min_length=1, max_length=max_length, pattern=CODE_PATTERN)


def utf8_cap(model: type[BaseModel], field_name: str) -> int | None:
    """The ``max_length`` of a text field, read as a cap in UTF-8 bytes (None when it has none)."""
    field = model.model_fields.get(field_name)
    if field is None:
        return None
    caps = [meta.max_length for meta in field.metadata if isinstance(meta, MaxLen)]
    return min(caps) if caps else None


class ByteCaps(BaseModel):
    """Text caps count UTF-8 bytes, as DynamoDB does, not characters: ``max_length=200`` admits 200
    ASCII characters but only 66 characters of 3 bytes each (810 names the field)."""

    @field_validator("*", mode="after")
    @classmethod
    def _utf8_within_cap(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str) and not value.isascii() and info.field_name is not None:
            cap = utf8_cap(cls, info.field_name)
            size = len(value.encode("utf-8", "surrogatepass"))
            if cap is not None and size > cap:
                raise ValueError(f"must be at most {cap} bytes in UTF-8 (got {size} bytes)")
        return value


class Strict(ByteCaps):
    """Base for every inbound shape: unknown fields are refused (810 naming the field), never dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_default=True, defer_build=True)


class Stored(BaseModel):
    """Base for stored/canonical shapes: tolerant of fields added by later versions."""

    model_config = ConfigDict(extra="ignore", validate_default=True, defer_build=True)


EARLIEST_YEAR, LATEST_YEAR = 1970, 2100


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC (a time without an offset is read as UTC), within years 1970-2100: a time
    like 9999-12-31T23:59:59-14:00 cannot be moved to UTC at all, and none of ours is that far out."""
    try:
        moved = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError(f"must be a time between {EARLIEST_YEAR} and {LATEST_YEAR}") from error
    if not EARLIEST_YEAR <= moved.year <= LATEST_YEAR:
        raise ValueError(f"must be a time between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return moved
