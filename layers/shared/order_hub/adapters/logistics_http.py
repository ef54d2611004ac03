"""Shipper's logistics pricing over HTTP: ``POST {base}/v3/pricing/domestic[/{rate_type}]`` (vendor-notes §1.8).

Credentials: the secret ``hub/<tenant_id>/logistics`` = {"base_url", "api_key"} (header ``X-API-Key``).
The request is our parcel collapsed into one package (Shipper prices one package per request):
length and width are the largest sku's, height is the skus' heights stacked (x qty), weight is the
sum of weight x qty, ``item_value`` is ``order_price`` or the sum of sku price x qty.

One retry on 5xx / 408 / 429 / timeouts / connection errors, only while the time budget lasts
(the order API has 10 s); each attempt's read timeout is capped by what remains of the budget.
Anything else (4xx, a body that is not the documented JSON) is a ``ProviderError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from order_hub.jsonutil import dumps
from order_hub.models.pricing import LOGISTICS_PROVIDER as PROVIDER
from order_hub.models.pricing import Logistic, PricingErrorItem, PricingRequest, ProviderQuotes, Quote, Rate
from order_hub.ports import ProviderError

if TYPE_CHECKING:
    import requests

PATH = "/v3/pricing/domestic"
MIN_ATTEMPT_SECONDS = 0.2  # no retry when less than this remains of the budget
CODE_PROVIDER_FAILED = 803


def _idr(value: Any) -> int:
    """An amount as IDR integer, half up (Shipper may send 12000.0 or "12000")."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not an amount")
    try:
        return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation as error:
        raise ValueError(f"not an amount: {value!r}") from error


def _int_or(value: Any, default: int = 0) -> int:
    try:
        return _idr(value)
    except ValueError:
        return default


def package_body(request: PricingRequest) -> dict[str, Any]:
    """Our request as Shipper's logistics pricing body (one package)."""

    def location(place: Any) -> dict[str, Any]:
        return {key: value for key, value in place.model_dump().items() if value is not None}

    weight = sum((sku.weight * sku.qty for sku in request.skus), Decimal(0))
    return {
        "origin": location(request.origin),
        "destination": location(request.destination),
        "for_order": request.for_order,
        "cod": request.cod,
        "length": max(sku.length for sku in request.skus),
        "width": max(sku.width for sku in request.skus),
        "height": sum(sku.height * sku.qty for sku in request.skus),
        "weight": float(weight.quantize(Decimal("0.001"))),
        "item_value": request.item_value,
        "limit": 30,
        "page": 1,
        "sort_by": ["final_price"],
    }


def _quote(entry: dict[str, Any]) -> Quote:
    logistic = entry.get("logistic") or {}
    rate = entry.get("rate") or {}
    if not isinstance(logistic, dict) or not isinstance(rate, dict):
        raise ValueError("logistic/rate are not objects")
    return Quote(
        logistic=Logistic(id=_idr(logistic.get("id")), name=str(logistic.get("name", "")), code=str(logistic.get("code", ""))),
        rate=Rate(id=_idr(rate.get("id")), name=str(rate.get("name", "")), type=str(rate.get("type", ""))),
        final_price=_idr(entry.get("final_price")),
        insurance_fee=_int_or(entry.get("insurance_fee")),
        discount=_int_or(entry.get("discount")),
        min_day=_int_or(entry.get("min_day")),
        max_day=_int_or(entry.get("max_day")),
    )


def _passthrough_error(entry: Any) -> PricingErrorItem:
    if not isinstance(entry, dict):
        return PricingErrorItem(code=CODE_PROVIDER_FAILED, message=f"Shipper logistics: {str(entry)[:200]}")
    code = entry.get("code", CODE_PROVIDER_FAILED)
    if isinstance(code, bool) or not isinstance(code, int | str):
        code = CODE_PROVIDER_FAILED
    logistic_id = entry.get("logistic_id")
    return PricingErrorItem(
        code=code,
        message=str(entry.get("message", ""))[:300] or "no message",
        logistic_id=logistic_id if isinstance(logistic_id, int) and not isinstance(logistic_id, bool) else None,
    )


class ShipperLogisticsPricing:
    name = PROVIDER

    def __init__(
        self,
        base_url: str,
        api_key: str,
        session: requests.Session,
        connect_timeout: float = 3.0,
        read_timeout: float = 5.0,
        budget: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"X-API-Key": api_key, "content-type": "application/json", "accept": "application/json"}
        self._session = session
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._budget = budget
        self._clock = clock

    def quote(self, request: PricingRequest, tenant_id: str) -> ProviderQuotes:
        path = PATH + (f"/{quote(request.rate_type_id, safe='')}" if request.rate_type_id else "")
        payload = self._post(path, dumps(package_body(request)))
        data = payload.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("pricings", []), list):
            raise ProviderError("Shipper logistics: the response has no data.pricings")
        quotes: list[Quote] = []
        errors = [_passthrough_error(entry) for entry in data.get("pricing_errors") or []]
        for entry in data.get("pricings") or []:
            try:
                quotes.append(_quote(entry))
            except (ValueError, TypeError, AttributeError) as error:
                errors.append(
                    PricingErrorItem(code=CODE_PROVIDER_FAILED, message=f"Shipper logistics: unreadable price ({error})"[:300])
                )
        return ProviderQuotes(provider=self.name, quotes=quotes, errors=errors)

    def _post(self, path: str, body: str) -> dict[str, Any]:
        import requests

        deadline = self._clock() + self._budget
        failure = ""
        made = 0
        for attempt in (1, 2):
            remaining = deadline - self._clock()
            if attempt > 1 and remaining < MIN_ATTEMPT_SECONDS:
                break
            made = attempt
            timeout = (min(self._connect_timeout, remaining), min(self._read_timeout, remaining))
            try:
                response = self._session.post(
                    self._base + path, headers=self._headers, data=body.encode(), timeout=timeout, allow_redirects=False
                )
            except requests.Timeout:
                failure = "timed out"
                continue
            except requests.RequestException as error:
                failure = f"unreachable ({type(error).__name__})"
                continue
            if response.status_code >= 500 or response.status_code in (408, 429):
                failure = f"HTTP {response.status_code}"
                continue
            return self._read(response)
        raise ProviderError(f"Shipper logistics {failure} after {made} attempt{'s' if made > 1 else ''}")

    @staticmethod
    def _read(response: requests.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 300:
            raise ProviderError(f"Shipper logistics refused the request: HTTP {response.status_code}: {_message(payload)}"[:300])
        if not isinstance(payload, dict):
            raise ProviderError("Shipper logistics: the response is not a JSON object")
        return payload


def _message(payload: Any) -> str:
    if not isinstance(payload, dict):
        return "no message"
    errors = (payload.get("metadata") or {}).get("errors") or []
    texts = [str(e.get("message", "")) for e in errors if isinstance(e, dict)]
    if not texts and payload.get("message"):
        texts = [str(payload["message"])]
    return "; ".join(texts) or "no message"
