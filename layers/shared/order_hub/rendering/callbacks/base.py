"""Shared types of the callback formats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from order_hub.ports import Rendered

__all__ = ["MissingField", "Outcome", "Rendered", "Resolver", "Verdict", "json_object", "number"]


class MissingField(Exception):
    """The format needs a value the order and the endpoint's settings lack: a permanent failure.

    ``fields`` names what is missing, e.g. ``lines[0].ext.tax_lines`` or ``settings.partner_code``.
    """

    def __init__(self, fields: list[str], message: str | None = None) -> None:
        self.fields = fields
        super().__init__(message or f"missing for this format: {', '.join(fields)}")


Outcome = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str = ""


def number(value: Decimal | int | float) -> int | float:
    """JSON number for an amount: integers stay integers, 12.5 stays 12.5."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class Resolver:
    """Collects every missing value while a body is rendered, so one failure names them all."""

    def __init__(self) -> None:
        self.missing: list[str] = []

    def first(self, name: str, *candidates: str | None) -> str:
        """The first non-empty candidate; else ``name`` is recorded as missing and "" returned."""
        for candidate in candidates:
            if candidate:
                return candidate
        self.add(name)
        return ""

    def add(self, name: str) -> None:
        if name not in self.missing:
            self.missing.append(name)


def json_object(body: str) -> dict[str, Any]:
    """A receiver's answer as a JSON object ({} when it is empty, not JSON, or not an object)."""
    try:
        parsed = json.loads(body) if body.strip() else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
